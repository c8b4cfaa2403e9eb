"""What this process has read and written, as Linux counts it in /proc/self/io."""

from pathlib import Path

_IO = Path("/proc/self/io")
COUNTED = _IO.exists()


def io_count(field: str) -> int:
    """One of the counts: `rchar` (bytes read), `wchar`, `syscr` or `syscw` (system calls)."""
    for line in _IO.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} line in {_IO}")
