"""Running a command and measuring it as a whole: wall-clock time and peak memory.

Peak memory is the largest sum of RSS over the command and every process it starts (our
helper processes included), sampled every 20 ms from /proc. Summing RSS counts pages that
processes share more than once, so the figure errs on the high side.
"""

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    """One whole-process run."""

    seconds: float
    peak_rss: int  # bytes


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:  # a process may end while it is being listed
            for task in Path(f"/proc/{current}/task").glob("*/children"):
                pending += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(
    argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> Measurement:
    """Run `argv` to completion (output discarded); fail loudly if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, sum(_rss(pid) for pid in _descendants(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}): {stderr.decode()}")
    return Measurement(seconds, peak)


def wait_while_running(words: list[str]) -> None:
    """Wait until no process runs whose command line holds `words` in a row."""
    wanted = "\0".join(words).encode()
    while True:
        running = False
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                running = wanted in cmdline.read_bytes()
            except OSError:  # it ended while the others were read
                continue
            if running:
                break
        if not running:
            return
        time.sleep(0.05)


def disk_usage(path: Path) -> int:
    """Bytes of disk the folder takes (`du`), what an operator sees the store cost."""
    out = subprocess.run(["du", "-s", "--block-size=1", str(path)], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def flush_and_warm(tree: Path) -> None:
    """Start every timing alike: earlier writes flushed, the source tree in the page cache."""
    os.sync()
    # Through a pipe: GNU tar skips reading the files when it sees it writes to /dev/null.
    subprocess.run(f"tar -cf - -C '{tree}' . | cat > /dev/null", shell=True, check=True)
