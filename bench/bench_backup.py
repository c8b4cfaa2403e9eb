"""Issue 2's figure: first and unchanged second backup of a 1 GiB tree, beside `tar -cf`.

Run: .venv/bin/python bench/bench_backup.py [--size-mib 1024] [--files 20000] [--runs 3]
Times are whole-process wall-clock medians; the page cache is warm for every tool alike
(the tree is read once before timing). Results are printed as a Markdown table.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import mixed_tree, tree_bytes

HERE = Path(__file__).resolve().parent


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def envops(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(data), *args]


def blob_count(data: Path) -> int:
    return sum(1 for _ in (data / "objects").glob("??/*"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    tree = mixed_tree(
        HERE / "data" / f"mixed-{args.size_mib}m-{args.files}", args.size_mib << 20, args.files
    )
    size = tree_bytes(tree)
    subprocess.run(["tar", "-cf", "/dev/null", str(tree)], check=True)  # warm the page cache
    first, second, tar, new_blobs = [], [], [], []
    with tempfile.TemporaryDirectory(dir=HERE) as scratch:
        scratch_dir = Path(scratch)
        for run in range(args.runs):
            data = scratch_dir / f"data{run}"
            subprocess.run(
                envops(data, "env", "add", "bench", "--path", str(tree), "--version", "1"),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            first.append(timed(envops(data, "backup", "create", "bench")))
            before = blob_count(data)
            second.append(timed(envops(data, "backup", "create", "bench")))
            new_blobs.append(blob_count(data) - before)
            shutil.rmtree(data)
            archive = scratch_dir / "tree.tar"
            tar.append(timed(["tar", "-cf", str(archive), "-C", str(tree.parent), tree.name]))
            archive.unlink()
    f, s, t = (statistics.median(x) for x in (first, second, tar))
    print(f"Tree: {size / 2**30:.2f} GiB in {args.files} files; median of {args.runs} runs.\n")
    print("| operation | seconds | vs tar -cf | new blobs written |")
    print("| --- | --- | --- | --- |")
    print(f"| `tar -cf` | {t:.2f} | 1.00× | |")
    print(f"| envops first backup | {f:.2f} | {f / t:.2f}× | all |")
    print(f"| envops second backup, unchanged | {s:.2f} | {s / t:.2f}× | {max(new_blobs)} |")
    print(f"\nSecond backup takes {100 * s / f:.1f}% of the first.")


if __name__ == "__main__":
    main()
