"""Build `dist/EnvOps Desktop/` with PyInstaller and, on Linux, its tarball.

Run: .venv/bin/python packaging/build.py   (needs `pip install -e '.[packaging]'`)
Prints the bundle's size and the archive's size.
"""

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import icu_data

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUNDLE = DIST / "EnvOps Desktop"


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build() -> Path:
    shutil.rmtree(BUNDLE, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(DIST),
            "--workpath",
            str(ROOT / "build" / "pyinstaller"),
            str(ROOT / "packaging" / "envops.spec"),
        ],
        check=True,
        cwd=ROOT,
    )
    return BUNDLE


def slim_icu(bundle: Path) -> None:
    libraries = list(bundle.rglob("libicudata.so.*"))
    libraries = [lib for lib in libraries if not lib.is_symlink()]
    if not libraries:
        return
    missing = icu_data.missing_tools()
    if missing:
        print(f"warning: ICU data left whole (31 MiB); install {', '.join(missing)}")
        return
    for library in libraries:
        icu_data.slim(library)


def linux_tarball(bundle: Path) -> Path:
    """The bundle plus its desktop entry, icon and install script, as one tar.gz."""
    shutil.copy(ROOT / "resources" / "envops-desktop.desktop", bundle)
    shutil.copy(ROOT / "resources" / "app-icons" / "envops.png", bundle / "envops-desktop.png")
    shutil.copy(ROOT / "packaging" / "linux" / "install.sh", bundle)
    archive = DIST / "envops-desktop-linux-x86_64.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=9) as tar:
        tar.add(bundle, arcname="envops-desktop")
    return archive


def main() -> int:
    bundle = build()
    if sys.platform.startswith("linux"):
        slim_icu(bundle)
    print(f"bundle: {bundle} — {size_of(bundle) / 2**20:.1f} MiB")
    if sys.platform.startswith("linux"):
        archive = linux_tarball(bundle)
        print(f"archive: {archive} — {archive.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
