"""Shrink ICU's data library in the Linux bundle from 31 MiB to about 2 MiB.

QtCore links against ICU, whose data library holds every locale's collation, calendars,
currencies, units, time-zone names, transliterators, line-breaking dictionaries and
hundreds of legacy code-page converters. Qt's widgets in an English-language app use none
of them, so they are removed with ICU's own `icupkg` and the rest is compiled back into a
library with the same name and entry point (`genccode`, `gcc`). Kept: the root and English
locales, break-iterator rules, normalization, emoji and layout properties, plural rules,
likely subtags and the time-zone database. Needs Debian's icu-devtools and binutils.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_DROPPED_FOLDERS = ("coll/", "rbnf/", "unit/", "region/", "lang/", "zone/", "curr/", "translit/")
_KEPT_LOCALES = {"en.res", "en_001.res", "en_GB.res", "en_US.res", "en_US_POSIX.res"}
_LOCALE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]+)*\.res")
TOOLS = ("icupkg", "genccode", "gcc", "nm", "strip")


def _dropped(item: str) -> bool:
    if item.startswith(_DROPPED_FOLDERS):
        return True
    if item.startswith("brkitr/") and item.endswith(".dict"):
        return True  # dictionaries for Thai, Lao, Khmer, Burmese and CJK line breaking
    if item.endswith((".cnv", ".spp")) or item in ("unames.icu", "confusables.cfu"):
        return True
    return "/" not in item and bool(_LOCALE.fullmatch(item)) and item not in _KEPT_LOCALES


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def slim(library: Path) -> None:
    """Replace `library` (libicudata.so.NN) by one holding only the data kept above."""
    symbol_line = subprocess.check_output(
        ["nm", "-D", "-S", "--defined-only", str(library)], text=True
    ).split()
    address, size, name = int(symbol_line[0], 16), int(symbol_line[1], 16), symbol_line[3]
    entry_point = name.removesuffix("_dat")  # icudt73
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        # The data is the exported object's bytes; in this library its address is its offset.
        full = work / f"{entry_point}l.dat"
        full.write_bytes(library.read_bytes()[address : address + size])
        items = subprocess.check_output(["icupkg", "-l", str(full)], text=True).split()
        (work / "remove.txt").write_text("\n".join(i for i in items if _dropped(i)) + "\n")
        (work / "out").mkdir()
        subprocess.run(
            [
                "icupkg",
                "--ignore-deps",
                "-r",
                str(work / "remove.txt"),
                str(full),
                str(work / "out" / full.name),
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                "genccode",
                "-q",
                "-e",
                entry_point,
                "-a",
                "gcc",
                "-d",
                str(work),
                str(work / "out" / full.name),
            ],
            check=True,
        )
        rebuilt = work / library.name
        subprocess.run(
            [
                "gcc",
                "-shared",
                "-fPIC",
                f"-Wl,-soname,{library.name}",
                "-Wl,-z,noexecstack",
                "-o",
                str(rebuilt),
                str(work / f"{entry_point}l_dat.S"),
            ],
            check=True,
        )
        subprocess.run(["strip", str(rebuilt)], check=True)
        shutil.copy2(rebuilt, library)
