"""docs/PERFORMANCE.md from one run of bench/run_all.py: tables, targets met or not."""

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.run_all import Results

HERE = Path(__file__).resolve().parent
OPERATIONS = (
    "first backup",
    "second, unchanged",
    "second, 1% changed",
    "restore",
    "restore, then sync",
)
# What each of our operations is compared with: its tar counterpart (operation, tool).
TAR_OF = {
    "first backup": ("first backup", "tar"),
    "second, unchanged": ("first backup", "tar"),
    "second, 1% changed": ("first backup", "tar"),
    "restore": ("restore", "tar"),
    "restore, then sync": ("restore, then sync", "tar"),
    "export": ("first backup", "tar -I zstd"),
    "import": ("restore", "tar -I zstd"),
}
PEERS = ("restic", "borg")
MiB = 1 << 20


def _fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}×"


def _best_peer(results: "Results", dataset: str, operation: str) -> tuple[str, float | None]:
    found = [(results.seconds(dataset, operation, p), p) for p in PEERS]
    found = [(s, p) for s, p in found if s is not None]
    if not found:
        return "", None
    seconds, name = min(found)
    return name, seconds


def _dataset_table(results: "Results", dataset: str, operations: tuple[str, ...]) -> list[str]:
    lines = [
        "| operation | tool | seconds (median) | × tar | × best peer | peak RSS (MiB) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for operation in operations:
        tar_op, tar_tool = TAR_OF[operation]
        tar_seconds = results.seconds(dataset, tar_op, tar_tool)
        _peer, peer_seconds = _best_peer(results, dataset, operation)
        for tool in ("tar", "tar --xattrs --acls", "tar -I zstd", *PEERS, "envops"):
            seconds = results.seconds(dataset, operation, tool)
            if seconds is None:
                continue
            peak = results.peak(dataset, operation, tool)
            lines.append(
                f"| {operation} | {'**envops**' if tool == 'envops' else tool} | {seconds:.2f} | "
                f"{_ratio(seconds, tar_seconds)} | {_ratio(seconds, peer_seconds)} | "
                f"{_fmt(peak / MiB if peak else None, '.0f')} |"
            )
    return lines


# Data sets in the order they are reported, each with what it is called in the targets.
DATASETS = (
    ("config", "config"),
    ("medium", "medium"),
    ("mixed", "mixed"),
    ("small", "small"),
)
SPEED_TARGETS_FROM = 100 * MiB  # restore and first-backup targets apply from this size up


def _stall_ms(stalls: str) -> float | None:
    """The worst event-loop stall in bench_gui_responsiveness.py's table (its third column)."""
    worst = []
    for line in stalls.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        try:
            worst.append(float(cells[2]))
        except (IndexError, ValueError):
            continue  # the header and its rule
    return max(worst, default=None)


def _preview_seconds(preview: str) -> float | None:
    for line in preview.splitlines():
        if line.startswith("| preview"):
            return float(line.split("|")[2])
    return None


def _targets(results: "Results", header: dict[str, str], preview: str, stalls: str) -> list[str]:
    s = results.seconds
    first = s("mixed", "first backup", "envops")
    rows: list[tuple[str, str, bool | None]] = []

    def add(target: str, figure: str, met: bool | None) -> None:
        rows.append((target, figure, met))

    def faster_than_peers(operation: str) -> tuple[str, bool | None]:
        ours = s("mixed", operation, "envops")
        peers = {p: s("mixed", operation, p) for p in PEERS}
        figure = ", ".join(f"{p} {v:.2f} s" for p, v in peers.items() if v is not None)
        present = [v for v in peers.values() if v is not None]
        if ours is None or len(present) < len(PEERS):
            return figure + " (a peer is missing)", None
        return f"ours {ours:.2f} s; {figure}", all(ours < v for v in present)

    def within(target: str, operation: str, reference: tuple[str, str], factor: float) -> None:
        ours, theirs = s("mixed", operation, "envops"), s("mixed", *reference)
        add(
            target,
            f"{_fmt(ours)} s vs {_fmt(theirs)} s = {_ratio(ours, theirs)}",
            None if ours is None or theirs is None else ours <= factor * theirs,
        )

    big = [d for d, _ in DATASETS if results.tree_bytes.get(d, 0) >= SPEED_TARGETS_FROM]
    for dataset in big:
        ours, zstd = s(dataset, "first backup", "envops"), s(dataset, "first backup", "tar -I zstd")
        add(
            f"First backup ≤ 1.2× `tar -I zstd -cf` ({header[dataset]})",
            f"{_fmt(ours)} s vs {_fmt(zstd)} s = {_ratio(ours, zstd)}",
            None if ours is None or zstd is None else ours <= 1.2 * zstd,
        )
    add("First backup faster than restic and borg", *faster_than_peers("first backup"))
    for operation, limit in (("second, unchanged", 0.05), ("second, 1% changed", 0.10)):
        ours = s("mixed", operation, "envops")
        share = None if ours is None or not first else ours / first
        add(
            f"{operation.capitalize()} ≤ {limit:.0%} of the first backup",
            f"{_fmt(ours)} s = {_fmt(None if share is None else 100 * share, '.1f', ' %')}",
            None if share is None else share <= limit,
        )
    for dataset in big:
        ours, plain = s(dataset, "restore", "envops"), s(dataset, "restore", "tar")
        keeping = s(dataset, "restore", "tar --xattrs --acls")
        add(
            f"Restore ≤ 1.3× `tar -xf` ({header[dataset]})",
            f"{_fmt(ours)} s vs {_fmt(plain)} s = {_ratio(ours, plain)}; "
            f"`tar --xattrs --acls -xpf` {_fmt(keeping)} s = {_ratio(ours, keeping)}",
            None if ours is None or plain is None else ours <= 1.3 * plain,
        )
    ours, plain = s("config", "restore", "envops"), s("config", "restore", "tar")
    add(
        f"Restore of {header['config']} under 0.2 s, whole process, no backup first",
        f"{_fmt(ours)} s (`tar -xf` {_fmt(plain)} s)",
        None if ours is None else ours < 0.2,
    )
    add("Restore faster than restic and borg", *faster_than_peers("restore"))
    seconds = _preview_seconds(preview)
    add(
        "Preview of a 1 % change on the 1 GiB tree under 2 s",
        f"{_fmt(seconds)} s",
        None if seconds is None else seconds < 2,
    )
    worst = _stall_ms(stalls)
    add(
        "No event-loop stall over 50 ms in any operation",
        f"worst {_fmt(worst, '.1f')} ms",
        None if worst is None else worst <= 50,
    )
    for operation in ("export", "import"):
        target = f"{operation.capitalize()} within 1.5× of tar with zstd"
        within(target, operation, TAR_OF[operation], 1.5)
    peaks = {
        (dataset, op): results.peak(dataset, op, "envops")
        for (dataset, op, tool) in results.runs
        if tool == "envops"
    }
    worst_mixed = max((v for (d, _), v in peaks.items() if d == "mixed" and v), default=None)
    worst_small = max((v for (d, _), v in peaks.items() if d == "small" and v), default=None)
    for where, worst in (
        ("for every operation on the 1 GiB tree", worst_mixed),
        ("whatever the tree's size (200,000 small files)", worst_small),
    ):
        add(
            f"Peak memory < 200 MiB {where}",
            f"worst {_fmt(worst / MiB if worst else None, '.0f')} MiB",
            None if worst is None else worst < 200 * MiB,
        )
    ours_size = results.store_sizes.get("envops")
    restic_size = results.store_sizes.get("restic")
    add(
        "Store after ten 1%-change backups within 10% of restic's",
        f"{_fmt(ours_size / MiB if ours_size else None, '.0f')} MiB vs "
        f"{_fmt(restic_size / MiB if restic_size else None, '.0f')} MiB = "
        f"{_ratio(ours_size, restic_size)}",
        None if not ours_size or not restic_size else ours_size <= 1.1 * restic_size,
    )
    lines = ["| target | figure | met |", "| --- | --- | --- |"]
    for target, figure, met in rows:
        mark = "not measured" if met is None else ("**met**" if met else "**not met**")
        lines.append(f"| {target} | {figure} | {mark} |")
    ours = s("mixed", "restore, then sync", "envops")
    synced = s("mixed", "restore, then sync", "tar")
    lines += [
        "",
        "For reference (not a target): each tool's restore followed by `sync`, so that",
        f"everything is on disk: `tar -xf` {_fmt(synced)} s, ours {_fmt(ours)} s =",
        f"{_ratio(ours, synced)}. EnvOps returns once a restore is in place; a detached",
        "`envops settle` waits for the disk and keeps the previous configuration until then.",
    ]
    return lines


def write_report(
    output: Path,
    results: "Results",
    stalls: str,
    preview: str,
    versions: dict[str, str],
    header: dict[str, str],
) -> None:
    findings = (HERE / "profiling_findings.md").read_text().strip()
    lines = [
        "# Performance",
        "",
        "Written by `bench/run_all.py` (one run, all of it; do not edit by hand: the profiling",
        "findings come from `bench/profiling_findings.md`).",
        "",
        f"- Date: {header['date']}; machine: {header['machine']}.",
        f"- Medians of {header['runs']}; whole-process wall-clock times; before each timing",
        "  earlier writes are flushed (`sync`) and the source tree is read into the page cache.",
        "  Nothing is deleted while a data set is timed: on this machine's ext4 (no journal) a",
        "  new file walks past every inode freed in the last minutes, so a restore right after",
        "  a deletion took several times as long.",
        "  EnvOps flushes its new blobs to disk before it records a backup; the other tools",
        "  leave their writes in the page cache when they exit. A restore by EnvOps returns",
        "  once it is swapped in, before its files are on disk, as the other tools' do (the",
        "  previous configuration is kept until they are, so a power cut can be undone).",
        "- Peak RSS: the largest sum over the process and every process it started.",
        f"- Data sets (seeded, `bench/datasets.py`): **mixed** = {header['mixed']} (config-like",
        "  text, 30 % random binaries, four 50 MiB images half random, half text);",
        f"  **medium** = {header['medium']} and **config** = {header['config']} (the size of",
        "  most real configurations), made the same way (medium with one 50 MiB image);",
        f"  **small** = {header['small']} of 64 B to 4 KiB text. The 1 % change edits a line",
        "  in files up to 64 KiB and overwrites 4 KiB in place in larger ones.",
        "- A restore is timed without a backup first (`--no-backup-first`), as tar has none.",
        "- Tools: " + "; ".join(f"{k}: {v}" for k, v in versions.items()) + ".",
        "  restic and borg with their default settings (borg without encryption).",
    ]
    for command, why in results.skipped.items():
        lines.append(f"- **Skipped {command}**: {why}.")
    lines += ["", "## Targets", "", *_targets(results, header, preview, stalls)]
    lines += [
        "",
        f"## The mixed tree ({header['mixed']})",
        "",
        "× tar compares with `tar -cf` of the whole tree (for restore: `tar -xf`; for export",
        "and import: `tar -I zstd -cf` and `-xf`); × best peer with the faster of restic and borg.",
        "",
        *_dataset_table(results, "mixed", (*OPERATIONS, "export", "import")),
        "",
        f"## The medium tree ({header['medium']})",
        "",
        *_dataset_table(results, "medium", OPERATIONS),
        "",
        f"## A real configuration's size ({header['config']})",
        "",
        *_dataset_table(results, "config", OPERATIONS),
        "",
        f"## The small-files tree ({header['small']})",
        "",
        *_dataset_table(results, "small", OPERATIONS),
        "",
        "## Store size after a first backup and ten backups with 1 % of files changed",
        "",
        "| tool | disk used (MiB) | × restic |",
        "| --- | ---: | ---: |",
    ]
    restic_size = results.store_sizes.get("restic")
    for tool, size in results.store_sizes.items():
        lines.append(f"| {tool} | {size / MiB:.0f} | {_ratio(size, restic_size)} |")
    lines += [
        "",
        "## GUI responsiveness during the engine's work",
        "",
        "`bench/bench_gui_responsiveness.py`, offscreen: the lateness of a 5 ms timer on the GUI",
        "thread while the window runs each operation on its workers.",
        "",
        stalls,
        "",
        "## Preview of a restore",
        "",
        "`bench/bench_preview.py`: `envops restore ENV BACKUP --dry-run` on the 1 GiB tree after",
        "a 1 % change, with the hash cache as regular backups leave it.",
        "",
        preview,
        "",
        findings,
        "",
    ]
    output.write_text("\n".join(lines))
