"""Seeded, reproducible data sets for the benchmarks.

`mixed_tree`: config-like text, binaries and a few 50 MiB files, of a chosen total size and
file count (the default is the 1 GiB / 20,000-file tree of the performance issue).
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
