"""The preview of a restore (`envops restore ENV BACKUP --dry-run`), timed as the whole
command, on the 1 GiB tree after a 1 % change, beside the restore itself in the same run.

The tree is copied, backed up twice (the second, past the hash cache's two seconds of doubt,
leaves every file's hash in the cache, as an operator's regular backups do), then 1 % of its
files are changed as `run_all.py` changes them; the preview reads only those. Target (issue
24): under 2 s.

    .venv/bin/python -m bench.bench_preview [--quick] [--runs 5]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.datasets import change_files, mixed_tree
from bench.process_tree import flush_and_warm, measure

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a 64 MiB tree, one run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = HERE / "data"
    if args.quick:
        source, runs = mixed_tree(data / "tree-64m", total_bytes=64 << 20, files=2_000), 1
    else:
        source, runs = mixed_tree(data / "tree-1g"), args.runs
    envops = str(Path(sys.executable).with_name("envops"))
    with tempfile.TemporaryDirectory(dir=data) as work:
        tree, store = Path(work) / "tree", Path(work) / "data"
        shutil.copytree(source, tree, symlinks=True)

        def run(*argv: str) -> None:
            subprocess.run([envops, "--data-dir", str(store), *argv], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip

        run("env", "add", "bench", "--path", str(tree), "--version", "1")
        run("backup", "create", "bench", "--name", "before")
        time.sleep(2.1)
        run("backup", "create", "bench")
        changed = change_files(tree, 0.01, seed=24)
        preview = [envops, "--data-dir", str(store), "restore", "bench", "before", "--dry-run"]
        seconds = []
        for _ in range(runs):
            flush_and_warm(tree)
            seconds.append(measure(preview).seconds)
        restore = [envops, "--data-dir", str(store), "restore", "bench", "before", "--yes"]
        flush_and_warm(tree)
        restored = measure([*restore, "--no-backup-first"]).seconds
    median = statistics.median(seconds)
    print(f"Tree: {source.name}; {changed} files changed (1 %); medians of {runs} run(s).\n")
    print("| operation | seconds | target |")
    print("| --- | --- | --- |")
    print(f"| preview (`restore --dry-run`) | {median:.2f} | under 2 s: "
          f"{'met' if median < 2 else 'NOT met'} |")  # fmt: skip
    print(f"| the restore itself, for scale | {restored:.2f} | |")


if __name__ == "__main__":
    main()
