"""Tars as operators update them: made once, then appended to (`tar -r`) after random edits,
naming a path again or a file twice. Imported, each must equal what GNU tar extracts from it.

Seeded, so a failure names the seed that makes it again. rsync is the judge, with hardlinks
(`-H`); folders' times are left out (`-O`): GNU tar leaves a folder that an appended entry
writes into at the time of its extraction, where the archive's last entry for it says
another, which is what the import keeps.
"""

import os
import random
import subprocess
from pathlib import Path

import pytest

from envops_desktop.service import EnvOpsService
from tests.trees import needs_rsync, rsync_differences

pytestmark = [pytest.mark.reliability, needs_rsync]

SEEDS = range(40)
FOLDERS = ["", "a", "b", "a/c"]


def _rewritten_in_place(path: Path, rng: random.Random) -> None:
    path.write_text(f"rewritten {rng.random()}\n")  # its hard links see it too


def _saved_anew(path: Path, rng: random.Random) -> None:
    path.unlink()  # as an editor saves: its hard links keep the old content
    path.write_text(f"saved {rng.random()}\n")


def _hardlinked(path: Path, rng: random.Random) -> None:
    new = path.with_name(f"{path.name}.h{rng.randint(0, 99)}")
    if not new.exists():
        os.link(path, new)


def _made_a_link(path: Path, _rng: random.Random) -> None:
    path.unlink()
    os.symlink("elsewhere", path)


EDITS = [_rewritten_in_place, _saved_anew, _hardlinked, _made_a_link]


def _tree(src: Path, rng: random.Random) -> None:
    src.mkdir()
    (src / "VERSION").write_text("1\n")
    for index in range(rng.randint(1, 6)):
        folder = src / rng.choice(FOLDERS)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}").write_text(f"{index}\n")
        if rng.random() < 0.3:
            os.link(folder / f"f{index}", folder / f"g{index}")


def _paths(src: Path) -> list[str]:
    return [str(p.relative_to(src)) for p in sorted(src.rglob("*"))]


@pytest.mark.parametrize("seed", SEEDS)
def test_an_updated_tar_imports_as_gnu_tar_extracts_it(tmp_path, seed):
    rng = random.Random(seed)
    src, archive = tmp_path / "src", tmp_path / "updated.tar"
    _tree(src, rng)
    # The folder, and a path or two in it again (a file named twice is a hard link to itself).
    again = rng.sample(_paths(src), k=min(2, len(_paths(src))))
    subprocess.run(["tar", "-cf", str(archive), "-C", str(src), ".", *again], check=True)
    for _ in range(rng.randint(1, 4)):
        files = [p for p in sorted(src.rglob("*")) if p.is_file() and not p.is_symlink()]
        files = [p for p in files if p.name != "VERSION"]
        if files and rng.random() < 0.8:
            rng.choice(EDITS)(rng.choice(files), rng)
        else:
            folder = src / rng.choice(FOLDERS)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"n{rng.randint(0, 50)}").write_text(f"{rng.random()}\n")
        appended = [p for p in _paths(src) if p != "VERSION" and rng.random() < 0.5]
        if appended:
            subprocess.run(
                ["tar", "-rf", str(archive), "-C", str(src), "--no-recursion", *appended],
                check=True,
            )
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    subprocess.run(["tar", "-xpf", str(archive), "-C", str(extracted)], check=True)
    folder = tmp_path / "env"
    folder.mkdir()
    (folder / "VERSION").write_text("1\n")
    service = EnvOpsService(tmp_path / "data")
    try:
        service.add_environment("env", folder, version_file="VERSION")
        checked = service.check_configuration_file(archive, keep_privileges=True)
        service.import_configuration_file(
            "env", service.answer_plain_archive("env", checked, None, None)
        )
    finally:
        service.close()

    assert rsync_differences(extracted, folder, "-O", "--delete") == [], f"seed {seed}"
