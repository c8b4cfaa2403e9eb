"""How fast any Python backup that stores each file's content by its hash can be, on the
200,000-file tree, beside `tar -I zstd -cf` and EnvOps's first backup in the same run.

The issue's target for that tree is a first backup within 1.2× `tar -I zstd -cf`. These
floors are programs that do only what such a backup cannot skip, on two processes (the
machine's cores) started by `fork`, with nothing recorded: no manifest, no index, no
owners or attributes, no flush to disk. If a floor is already over 1.2× tar, no design of
that kind meets the target on this machine, whatever its own bookkeeping costs.

- **read and hash**: list the tree, then per file open, `fstat`, read, close and sha256;
- **+ zstd per file**: also compress each content on its own at the store's level and
  append it to a pack, as a store that can read one content back alone must;
- **+ zstd per batch**: compress each process's batch of contents as one stream instead
  (a store that decompresses a batch to read one of its contents).

    .venv/bin/python -m bench.bench_small_files_floor [--runs 3]
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from bench.datasets import small_files_tree
from bench.process_tree import flush_and_warm, measure

HERE = Path(__file__).resolve().parent
_BATCH = 512  # files a task, as EnvOps's helpers take them
FLOORS = {"read and hash": "hash", "+ zstd per file": "each", "+ zstd per batch": "batch"}


def _store_batch(how: str, out_folder: str, paths: list[str]) -> int:
    import zstandard

    from envops_desktop.store.blob_bodies import ZSTD_LEVEL

    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    shas, contents = [], []
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, os.fstat(fd).st_size + 1)
        finally:
            os.close(fd)
        shas.append(hashlib.sha256(data).digest())
        if how == "each":
            contents.append(compressor.compress(data))
        elif how == "batch":
            contents.append(data)
    if how == "batch":
        contents = [compressor.compress(b"".join(contents))]
    if contents:
        with open(os.path.join(out_folder, f"pack-{os.getpid()}"), "ab") as pack:
            pack.write(b"".join(contents))
    return len(shas)


def floor(how: str, tree: str, out_folder: str) -> None:
    """One floor program (`how` of `FLOORS`), as a process of its own."""
    from functools import partial

    paths: list[str] = []
    for folder, _subfolders, files in os.walk(tree):
        paths.extend(os.path.join(folder, name) for name in files)
    batches = [paths[i : i + _BATCH] for i in range(0, len(paths), _BATCH)]
    with ProcessPoolExecutor(2, mp_context=get_context("fork")) as pool:
        stored = sum(pool.map(partial(_store_batch, how, out_folder), batches))
    assert stored == len(paths)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--floor", nargs=3, metavar=("HOW", "TREE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor(*args.floor)
        return
    data = HERE / "data"
    tree = small_files_tree(data / "small-200000")
    envops = str(Path(sys.executable).with_name("envops"))
    seconds: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(dir=data) as work:
        for run in range(args.runs):
            out = Path(work) / f"run-{run}"
            out.mkdir()
            cli = [envops, "--data-dir", str(out / "envops")]
            subprocess.run([*cli, "env", "add", "bench", "--path", str(tree), "--version", "1"],
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            # In turn within a run, so that each row sees the machine as the others do.
            argvs = {"tar -I zstd -cf": ["tar", "-I", "zstd", "-cf", str(out / "t.tar.zst"),
                                         "-C", str(tree), "."]}  # fmt: skip
            for label, how in FLOORS.items():
                (out / how).mkdir()
                floor_argv = ["--floor", how, str(tree), str(out / how)]
                argvs[label] = [sys.executable, "-m", "bench.bench_small_files_floor", *floor_argv]
            argvs["EnvOps first backup"] = [*cli, "backup", "create", "bench"]
            for label, argv in argvs.items():
                flush_and_warm(tree)
                seconds.setdefault(label, []).append(measure(argv, cwd=HERE.parent).seconds)
    tar = statistics.median(seconds["tar -I zstd -cf"])
    print(f"200,000 files; medians of {args.runs} run(s), each row in turn within a run.\n")
    print("| program | seconds (median) | runs | × `tar -I zstd -cf` |")
    print("| --- | ---: | --- | ---: |")
    for label, taken in seconds.items():
        runs = ", ".join(f"{s:.2f}" for s in taken)
        median = statistics.median(taken)
        print(f"| {label} | {median:.2f} | {runs} | {median / tar:.2f}× |")
    print("\n" + json.dumps({label: statistics.median(t) for label, t in seconds.items()}))


if __name__ == "__main__":
    main()
