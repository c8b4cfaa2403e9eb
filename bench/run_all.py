"""Every benchmark of the performance issue in one run, written to docs/PERFORMANCE.md.

Run: .venv/bin/python bench/run_all.py [--runs 3] [--medium-runs 5] [--small-runs 3]
     (--quick: small trees and one run, to check the harness itself in a minute)

Builds the seeded data sets once under bench/data/, installs restic, borg and zstd from
Debian's packages when missing (or names what it skipped), and times every tool as a whole
process, median of the runs, with earlier writes flushed and the tree in the page cache
before each timing. Nothing here is asserted: the figures are written down, targets marked.
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import peers
from bench.datasets import change_files, mixed_tree, small_files_tree, tree_bytes
from bench.process_tree import Measurement, disk_usage, flush_and_warm
from bench.report import write_report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = ("restic", "borg")
# ext4 without a journal (this machine's root file system) will not reuse an inode freed in
# the last 60 s, or 360 s once its inode-table block is written again: every new file walks
# past them. `tar -xf` of the 1 GiB tree took 17-23 s of kernel time right after 20,000 files
# were deleted, 2.4 s with none deleted. So nothing is deleted while a data set is timed.
RECENTLY_DELETED_WINDOW = 365.0


@dataclass
class Trash:
    """Where timed outputs go instead of being deleted, emptied once a data set is done."""

    folder: Path
    wait: float  # after emptying, before the next data set is timed
    count: int = 0

    def discard(self, path: Path) -> None:
        self.folder.mkdir(exist_ok=True)
        self.count += 1
        path.rename(self.folder / str(self.count))

    def empty(self, then_wait: bool) -> None:
        if self.folder.exists():
            shutil.rmtree(self.folder)
        if then_wait and self.wait:
            print(f"waiting {self.wait:.0f} s for the freed inodes to age", flush=True)
            time.sleep(self.wait)


@dataclass
class Results:
    """Measurements per (data set, operation, tool), plus what could not be measured."""

    runs: dict[tuple[str, str, str], list[Measurement]] = field(
        default_factory=lambda: defaultdict(list)
    )
    store_sizes: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    tree_bytes: dict[str, int] = field(default_factory=dict)  # each data set's size

    def add(self, dataset: str, operation: str, tool: str, m: Measurement) -> None:
        self.runs[(dataset, operation, tool)].append(m)
        print(f"  {dataset:6} {operation:22} {tool:12} {m.seconds:7.2f} s", flush=True)

    def seconds(self, dataset: str, operation: str, tool: str) -> float | None:
        found = self.runs.get((dataset, operation, tool))
        return statistics.median(m.seconds for m in found) if found else None

    def peak(self, dataset: str, operation: str, tool: str) -> int | None:
        found = self.runs.get((dataset, operation, tool))
        return max(m.peak_rss for m in found) if found else None


def make_tools(store: Path, skipped: dict[str, str], trash: Trash) -> list[peers.Tool]:
    tools: list[peers.Tool] = [
        peers.Tar(store / "tar", compress=False),
        peers.Tar(store / "tar-zstd", compress=True),
        peers.Tar(store / "tar-all", compress=False, keep_all=True),
    ]
    if "restic" not in skipped:
        tools.append(peers.Restic(store / "restic"))
    if "borg" not in skipped:
        tools.append(peers.Borg(store / "borg"))
    tools.append(peers.EnvOps(store / "envops", trash.discard))
    return tools


def one_run(
    results: Results, dataset: str, tree: Path, scratch: Path, trash: Trash, run: int, full: bool
) -> None:
    tools = make_tools(scratch / f"run{run}", results.skipped, trash)
    for tool in tools:
        tool.create(tree)
    for tool in tools:
        flush_and_warm(tree)
        results.add(dataset, "first backup", tool.name, tool.backup(tree))
    incremental = [t for t in tools if not isinstance(t, peers.Tar)]
    for tool in incremental:
        flush_and_warm(tree)
        results.add(dataset, "second, unchanged", tool.name, tool.backup(tree))
    change_files(tree, 0.01, seed=1000 + run)
    for tool in incremental:
        flush_and_warm(tree)
        results.add(dataset, "second, 1% changed", tool.name, tool.backup(tree))
    for tool in tools:
        destination = scratch / "restored"
        destination.mkdir()
        flush_and_warm(tree)
        results.add(dataset, "restore", tool.name, tool.restore(tree, destination))
        trash.discard(destination)
    for tool in (tools[0], tools[-1]):  # tar and ours
        assert isinstance(tool, peers.Tar | peers.EnvOps)
        destination = scratch / "restored"
        destination.mkdir()
        flush_and_warm(tree)
        results.add(
            dataset, "restore, then sync", tool.name, tool.restore_then_sync(tree, destination)
        )
        trash.discard(destination)
    if full:
        envops = tools[-1]
        assert isinstance(envops, peers.EnvOps)
        file = scratch / "export.envops.zip"
        flush_and_warm(tree)
        results.add(dataset, "export", envops.name, envops.export(file))
        flush_and_warm(tree)
        results.add(dataset, "import", envops.name, envops.import_file(tree, file))
        file.unlink()
    trash.discard(scratch / f"run{run}")


def store_growth(results: Results, tree: Path, scratch: Path, trash: Trash, changes: int) -> None:
    """Store size after a first backup and `changes` backups with 1 % of files changed."""
    tools = [
        t
        for t in make_tools(scratch / "growth", results.skipped, trash)
        if not isinstance(t, peers.Tar)
    ]
    for tool in tools:
        tool.create(tree)
        tool.backup(tree)
    for step in range(changes):
        change_files(tree, 0.01, seed=5000 + step)
        for tool in tools:
            m = tool.backup(tree)
            results.add("mixed", "growth backup", tool.name, m)
    for tool in tools:
        results.store_sizes[tool.name] = disk_usage(tool.store)
    trash.discard(scratch / "growth")


def preview_figures(quick: bool) -> str:
    """bench_preview.py's table: a restore's preview after a 1 % change on the 1 GiB tree."""
    argv = [
        sys.executable,
        "-m",
        "bench.bench_preview",
        *(["--quick"] if quick else ["--runs", "3"]),
    ]
    return subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()


def gui_stalls(size_mib: int, files: int, changes: int) -> str:
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "bench_gui_responsiveness.py"),
            "--size-mib",
            str(size_mib),
            "--files",
            str(files),
            "--changes",
            str(changes),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    # The two smaller trees take seconds a run, and their rows move most with the machine's
    # minute (`tar -xf` of the 400 MiB tree took 0.45-2.3 s in five runs in a row).
    parser.add_argument("--medium-runs", type=int, default=5)
    parser.add_argument("--small-runs", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="tiny trees, one run: check the harness"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    args = parser.parse_args()
    size_mib, files, small_files = (1024, 20_000, 200_000)
    medium_mib, medium_files, config_mib, config_files = (400, 4_000, 5, 300)
    if args.quick:
        size_mib, files, small_files = (64, 2_000, 5_000)
        medium_mib, medium_files = (32, 400)
        args.runs = args.medium_runs = args.small_runs = 1
    # As installed from a wheel or the bundle: bytecode compiled once, not at every command
    # (an editable install under PYTHONDONTWRITEBYTECODE would compile edited modules anew
    # in every timed process).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "envops_desktop")], check=True
    )
    results = Results(skipped=peers.ensure_installed())
    for command, why in results.skipped.items():
        print(f"skipping {command}: {why}", file=sys.stderr)
    data = HERE / "data"
    mixed_source = mixed_tree(data / f"mixed-{size_mib}m-{files}", size_mib << 20, files)
    medium_source = mixed_tree(
        data / f"mixed-{medium_mib}m-{medium_files}", medium_mib << 20, medium_files, seed=3
    )
    config_source = mixed_tree(
        data / f"mixed-{config_mib}m-{config_files}", config_mib << 20, config_files, seed=4
    )
    small_source = small_files_tree(data / f"small-{small_files}", small_files)
    with tempfile.TemporaryDirectory(dir=HERE, prefix="tmp-run-all-") as scratch_name:
        scratch = Path(scratch_name)
        # --quick checks the harness, not the figures: no need to wait there.
        trash = Trash(scratch / "trash", wait=0 if args.quick else RECENTLY_DELETED_WINDOW)
        # The few files of a real configuration first: nothing waits for them to age.
        datasets = (
            ("config", config_source, args.medium_runs, False),
            ("medium", medium_source, args.medium_runs, False),
            ("mixed", mixed_source, args.runs, True),
            ("small", small_source, args.small_runs, False),
        )
        for dataset, source, runs, full in datasets:
            tree = scratch / f"{dataset}-tree"  # a copy: the 1 % changes must not touch the source
            subprocess.run(["cp", "-a", str(source), str(tree)], check=True)
            for run in range(runs):
                print(f"{dataset} tree, run {run + 1} of {runs}", flush=True)
                one_run(results, dataset, tree, scratch, trash, run, full)
            if dataset == "mixed":
                print("store growth over ten 1%-change backups", flush=True)
                store_growth(results, tree, scratch, trash, 10)
            trash.discard(tree)
            trash.empty(then_wait=dataset not in ("config", datasets[-1][0]))
            results.tree_bytes[dataset] = tree_bytes(source)
    print("preview", flush=True)
    preview = preview_figures(args.quick)
    print("GUI responsiveness", flush=True)
    stalls = gui_stalls(size_mib, files, small_files)
    write_report(
        args.output,
        results,
        stalls=stalls,
        preview=preview,
        versions=peers.tool_versions(),
        header=dict(
            date=datetime.date.today().isoformat(),
            machine=_machine(),
            runs=(
                f"{args.medium_runs} runs (config and medium trees), {args.runs} runs (mixed "
                f"tree), {args.small_runs} runs (small-files tree)"
            ),
            mixed=f"{size_mib} MiB in {files:,} files",
            medium=f"{medium_mib} MiB in {medium_files:,} files",
            config=f"{config_mib} MiB in {config_files:,} files",
            small=f"{small_files:,} files",
        ),
    )
    print(f"wrote {args.output}")


def _machine() -> str:
    memory = next(
        int(line.split()[1]) / 2**20
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
