"""The wheel ships every module and the resources that live beside the package."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_the_wheel_holds_every_module_icon_and_the_desktop_entry(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("envops_desktop-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "envops_desktop").rglob("*.py")}
    resources = {
        "envops_desktop/resources/" + p.relative_to(REPO / "resources").as_posix()
        for p in (REPO / "resources").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert modules - names == set()
    assert resources - names == set()
    assert "envops_desktop/resources/icons/restore.svg" in names
    assert "envops_desktop/resources/envops-desktop.desktop" in names
