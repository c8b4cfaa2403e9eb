"""Seeded, reproducible data sets for the benchmarks.

`mixed_tree`: config-like text, binaries and a few 50 MiB files, of a chosen total size and
file count (the default is the 1 GiB / 20,000-file tree of the performance issue).
`small_files_tree`: 200,000 small config-like files.
`change_files`: the "1 % of files changed" step between two backups.
"""

import os
import random
from pathlib import Path

_WORDS = [
    "server",
    "port",
    "host",
    "timeout",
    "retries",
    "pool",
    "size",
    "cache",
    "ttl",
    "enabled",
    "disabled",
    "log",
    "level",
    "info",
    "debug",
    "warn",
    "error",
    "path",
    "user",
    "group",
    "listen",
    "address",
    "upstream",
    "backend",
    "replica",
    "primary",
    "key",
    "certificate",
    "chain",
    "cipher",
    "protocol",
    "worker",
    "threads",
    "queue",
    "limit",
    "burst",
    "rate",
    "interval",
    "region",
]


def _text_corpus(rng: random.Random, nbytes: int) -> bytes:
    lines = []
    size = 0
    while size < nbytes:
        key = "_".join(rng.choices(_WORDS, k=rng.randint(1, 3)))
        value = rng.choice(
            [
                str(rng.randint(0, 65535)),
                rng.choice(_WORDS),
                f"/{'/'.join(rng.choices(_WORDS, k=3))}",
            ]
        )
        line = f"{'  ' * rng.randint(0, 3)}{key} = {value}\n"
        lines.append(line)
        size += len(line)
    return "".join(lines).encode()


def mixed_tree(root: Path, total_bytes: int = 1 << 30, files: int = 20_000, seed: int = 1) -> Path:
    """Build the tree once; a marker file makes later calls reuse it."""
    marker = root / ".complete"
    if marker.exists():
        return root
    rng = random.Random(seed)
    corpus = _text_corpus(rng, 8 << 20)
    big_files = min(4, max(0, total_bytes // (256 << 20)))
    big_size = 50 << 20
    remaining = total_bytes - big_files * big_size
    small = files - big_files
    average = remaining // max(small, 1)
    written = 0
    for index in range(small):
        folder = root / f"service{index % 40:02d}" / f"conf{index % 7}.d"
        folder.mkdir(parents=True, exist_ok=True)
        size = max(64, int(rng.expovariate(1 / average)))
        if index == small - 1:
            size = max(64, remaining - written)
        size = min(size, max(64, remaining - written))
        if rng.random() < 0.7:
            start = rng.randrange(0, len(corpus) - 1)
            header = f"# generated file {index}\n".encode()
            body = (corpus[start:] + corpus)[: max(0, size - len(header))]
            data = header + body
            name = f"settings{index}.conf"
        else:
            data = rng.randbytes(size)
            name = f"blob{index}.bin"
        (folder / name).write_bytes(data)
        written += len(data)
    for index in range(big_files):
        half = big_size // 2
        data = rng.randbytes(half) + (corpus * (half // len(corpus) + 1))[:half]
        (root / f"image{index}.img").write_bytes(data)
    os.symlink("service00", root / "current")
    marker.write_text("ok\n")
    return root


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def small_files_tree(root: Path, files: int = 200_000, seed: int = 2) -> Path:
    """Many small text files (64 B to 4 KiB) in 2,000 folders; reused once complete."""
    marker = root / ".complete"
    if marker.exists():
        return root
    rng = random.Random(seed)
    corpus = _text_corpus(rng, 4 << 20)
    for index in range(files):
        folder = root / f"app{index % 50:02d}" / f"module{index % 2000:04d}"
        if index < 2000:
            folder.mkdir(parents=True, exist_ok=True)
        start = rng.randrange(0, len(corpus) - 4096)
        size = rng.randint(64, 4096)
        (folder / f"setting{index}.conf").write_bytes(
            f"# setting {index}\n".encode() + corpus[start : start + size]
        )
    marker.write_text("ok\n")
    return root


def change_files(root: Path, fraction: float, seed: int) -> int:
    """Change `fraction` of the regular files as people and programs do; return how many.

    Files up to 64 KiB are edited like configuration (a value rewritten, a line added); larger
    ones get a 4 KiB region overwritten in place, as a database or image file does.
    """
    rng = random.Random(seed)
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p.name[0] != "."
    )
    chosen = rng.sample(files, max(1, round(len(files) * fraction)))
    for path in chosen:
        size = path.stat().st_size
        if size <= 64 << 10:
            data = path.read_bytes()
            cut = rng.randrange(0, max(1, len(data)))
            line = f"changed_{seed}_{rng.randrange(1 << 30)} = {rng.randrange(65536)}\n"
            path.write_bytes(data[:cut] + line.encode() + data[cut + 20 :])
        else:
            with open(path, "r+b") as f:
                f.seek(rng.randrange(0, size - 4096))
                f.write(rng.randbytes(4096))
    return len(chosen)
