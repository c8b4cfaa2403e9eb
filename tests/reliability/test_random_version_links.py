"""Another environment's backup whose version file is reached through random links: in the
tree, through folders that are links, out of it and back, dangling, in loops. What the
restore decides (restore, refuse as another version, refuse as leaving no version file)
must be what the kernel reads once that tree is in place.

Seeded, so a failure names the seed that makes it again. The kernel is the judge: the tree
is copied where the restore would put it and its version file read.
"""

import os
import random
import shutil
from pathlib import Path

import pytest

from envops_desktop.domain.errors import InvalidInputError, VersionMismatchError
from envops_desktop.service import EnvOpsService

pytestmark = pytest.mark.reliability

SEEDS = range(150)
FOLDERS = ["", "r", "r/s", "x"]
LINKS = ["VERSION", "cur", "r/cur", "x/l", "r/s/l"]


def _targets(tmp_path: Path) -> list[str]:
    prod, opt = tmp_path / "prod", tmp_path / "opt"
    return [
        "V", "r/V", "cur/V", "../V", "s/V", "r/s", "cur", "VERSION", "nowhere/V", ".",
        "../opt/VERSION", str(opt / "VERSION"), str(prod / "r"), "../prod/r/V",
        "../test/VERSION",
    ]  # fmt: skip


def _production_laid_out_at_random(tmp_path: Path, rng: random.Random) -> Path:
    prod, opt = tmp_path / "prod", tmp_path / "opt"
    opt.mkdir()
    (opt / "VERSION").write_text(f"{rng.choice('12')}\n")  # a package's, outside both
    for folder in FOLDERS:
        (prod / folder).mkdir(parents=True, exist_ok=True)
        if rng.random() < 0.95:
            (prod / folder / "V").write_text(f"{rng.choice('12')}\n")
    for name in LINKS:  # the version file always a link; the others now and then
        if (name == "VERSION" or rng.random() < 0.6) and not os.path.lexists(prod / name):
            os.symlink(rng.choice(_targets(tmp_path)), prod / name)
    return prod


def _what_the_kernel_reads(prod: Path, test: Path) -> str:
    """prod's tree where test's is: "1" (test's version), "another" or "nothing"."""
    aside = test.with_name("aside")
    test.rename(aside)
    shutil.copytree(prod, test, symlinks=True)
    try:
        read = (test / "VERSION").read_text().split("\n")[0].strip()
        return "1" if read == "1" else "another"
    except OSError:
        return "nothing"
    finally:
        shutil.rmtree(test)
        aside.rename(test)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_restore_decides_on_the_version_the_kernel_will_read_through_the_links(tmp_path, seed):
    rng = random.Random(seed)
    prod = _production_laid_out_at_random(tmp_path, rng)
    test = tmp_path / "test"
    test.mkdir()
    (test / "VERSION").write_text("1\n")
    service = EnvOpsService(tmp_path / "data")
    try:
        service.add_environment("prod", prod, version="1")  # keeps no version file
        service.add_environment("test", test, version_file="VERSION")
        backup = service.create_backup("prod")
        kernel = _what_the_kernel_reads(prod, test)
        try:
            service.restore_backup("test", backup.id, backup_first=False, from_environment="prod")
            decided = "1"
        except VersionMismatchError:
            decided = "another"
        except InvalidInputError:
            decided = "nothing"
        assert decided == kernel, f"seed {seed}"
        if decided == "1":
            assert service.get_environment("test").version == "1"
    finally:
        service.close()
