"""Files that are mostly holes, timed as whole commands beside GNU tar in the same run.

Two trees of one file each: a disk image of 8 GiB holding 3 MiB of data in three places,
and a database file of 1 GiB with a hole punched in every 16 KiB page past its first 4 KiB
(65,536 extents, as InnoDB's page compression leaves one). For each: a first backup, a
restore into the folder (`--no-backup-first`), an export and an import, with the peak
memory over every process; and `tar --sparse -cf` and `tar -xf` (which keeps holes) of the
same tree for scale. Not a target of any issue: the figures a change to how holes are read
or written is held to (bench/profiling_findings.md, 2026-12-07).

    .venv/bin/python -m bench.bench_sparse [--runs 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.process_tree import measure

HERE = Path(__file__).resolve().parent


def disk_image(folder: Path) -> None:
    with open(folder / "disk.img", "wb") as image:
        image.truncate(8 << 30)
        for offset in (0, 3 << 30, (8 << 30) - (1 << 20)):
            image.seek(offset)
            image.write(os.urandom(1 << 20))


def punched_database(folder: Path) -> None:
    page = os.urandom(4096)
    fd = os.open(folder / "table.ibd", os.O_WRONLY | os.O_CREAT, 0o640)
    try:
        os.ftruncate(fd, 1 << 30)
        for offset in range(0, 1 << 30, 16 << 10):
            os.pwrite(fd, page, offset)
    finally:
        os.close(fd)


def _bench(name: str, make: Callable[[Path], None], work: Path, runs: int) -> list[str]:
    envops = str(Path(sys.executable).with_name("envops"))
    tree, scratch = work / name, work / f"{name}-scratch"
    for folder in (tree, scratch):
        folder.mkdir()
    make(tree)
    rows: dict[str, list[tuple[float, int]]] = {}

    def timed(what: str, argv: list[str], cwd: Path | None = None) -> str:
        subprocess.run(["sync"], check=True)
        taken = measure(argv, cwd=cwd)
        rows.setdefault(what, []).append((taken.seconds, taken.peak_rss))
        return what

    archive, exported = scratch / "tree.tar", scratch / "exported.zip"
    for run in range(runs):
        # A data folder of its own each run, so that each first backup reads the file.
        cli = [envops, "--data-dir", str(work / f"{name}-data-{run}")]
        subprocess.run([*cli, "env", "add", name, "--path", str(tree), "--version", "1"],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        for path in (archive, exported):
            path.unlink(missing_ok=True)
        timed("tar --sparse -cf", ["tar", "--sparse", "-cf", str(archive), "-C", str(tree), "."])
        timed("first backup", [*cli, "backup", "create", name])
        listed = subprocess.run([*cli, "backup", "list", name, "--json"], check=True,
                                capture_output=True, text=True).stdout  # fmt: skip
        backup = json.loads(listed)[0]["id"]
        timed("restore", [*cli, "restore", name, backup, "--yes", "--no-backup-first"])
        timed("export", [*cli, "backup", "export", backup, str(exported)])
        timed("import", [*cli, "import", name, str(exported), "--yes", "--no-backup-first"])
        untarred = scratch / f"untarred-{run}"
        untarred.mkdir()
        timed("tar -xf", ["tar", "-xf", str(archive)], cwd=untarred)
        subprocess.run(["rm", "-rf", str(untarred), cli[2]], check=True)
    lines = []
    for what, taken in rows.items():
        seconds = statistics.median(s for s, _ in taken)
        peak = max(p for _, p in taken) >> 20
        lines.append(f"| {name} | {what} | {seconds:.2f} | {peak} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    lines = []
    with tempfile.TemporaryDirectory(dir=data) as work:
        for name, make in (("disk-image", disk_image), ("punched-db", punched_database)):
            lines += _bench(name, make, Path(work), args.runs)
    print(f"Medians of {args.runs} run(s); peak memory over every process, the largest run's.\n")
    print("| tree | operation | seconds | peak RSS (MiB) |")
    print("| --- | --- | ---: | ---: |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
