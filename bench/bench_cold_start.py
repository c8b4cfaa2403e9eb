"""Cold start to the main window shown, from source and from the bundle.

Run: .venv/bin/python bench/bench_cold_start.py [--bundle "dist/EnvOps Desktop"] [--runs 5]
Whole-process wall time of `envops-desktop --exit-when-shown` (start, show the window on the
demo workspace, quit), median of several runs: an upper bound on the time to the window.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_start(command: list[str], runs: int) -> float:
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": scratch}
        data = ["--data-dir", str(Path(scratch) / "data")]
        subprocess.run([*command, *data, "--demo", "--exit-when-shown"], env=env, check=True)
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run([*command, *data, "--exit-when-shown"], env=env, check=True)
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", default=str(ROOT / "dist" / "EnvOps Desktop"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("| how | seconds to the main window (median) |")
    print("| --- | --- |")
    source = median_start([sys.executable, "-m", "envops_desktop"], args.runs)
    print(f"| from source (`python -m envops_desktop`) | {source:.2f} |")
    bundled = Path(args.bundle) / "envops-desktop"
    if bundled.exists():
        print(f"| bundle (`{bundled.name}`) | {median_start([str(bundled)], args.runs):.2f} |")


if __name__ == "__main__":
    main()
