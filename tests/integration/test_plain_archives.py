"""Importing archives other tools made (zip, tar, tar.gz, tar.zst, …): no manifest, so the
user confirms the version and picks the root; every kind of entry tar keeps comes back."""

import io
import os
import struct
import subprocess
import tarfile
import time
import zipfile
import zlib
from pathlib import Path

import pytest
import zstandard

from envops_desktop.cli import main
from envops_desktop.domain.configuration import ImportLimits
from envops_desktop.domain.enums import ActivityAction, BackupOrigin
from envops_desktop.domain.errors import (
    InvalidConfigurationFileError,
    InvalidInputError,
    OperationCancelledError,
    OperationFailedError,
    VersionMismatchError,
)
from envops_desktop.domain.progress import CancelToken, ignore_progress
from envops_desktop.service import EnvOpsService
from envops_desktop.store.plain_archives import read_plain_archive
from tests.spies import SlowView
from tests.trees import (
    WHOLE_SECONDS,
    make_config_tree,
    make_tree_of_every_kind,
    rsync_differences,
    snapshot,
)

AS_ROOT = os.geteuid() == 0


def tar_of(folder: Path, destination: Path, *options: str, top_level: bool = False) -> Path:
    """`destination` made by GNU tar, as an operator makes one: of the folder itself, or
    (`top_level`) of what is in it."""
    what = ["-C", str(folder), "."] if top_level else ["-C", str(folder.parent), folder.name]
    subprocess.run(["tar", *options, "-cf", str(destination), *what], check=True)
    return destination


def as_tar_extracts(archive: Path, where: Path) -> Path:
    """`archive` extracted into `where` by `tar -xp`, each folder's time set once all is
    extracted: a file appended again would otherwise move its folder's time on."""
    where.mkdir()
    extract = ["tar", "-xpf", str(archive), "--delay-directory-restore", "-C", str(where)]
    subprocess.run(extract, check=True)
    return where


def with_time_of(source: Path, folder: Path) -> None:
    """Give `folder` the time of `source`, to the nanosecond: tar dates a folder it made
    for want of an entry as it extracts, an import as the archive or as it was."""
    then = source.stat().st_mtime_ns
    os.utime(folder, ns=(then, then))


def zip_of(folder: Path, destination: Path) -> Path:
    """A zip of what is in `folder`, with Unix modes and links, as `zip -ry` makes it."""
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            info = zipfile.ZipInfo.from_file(path, name)
            info.create_system = 3
            if path.is_symlink():
                info = zipfile.ZipInfo(name, info.date_time)
                info.create_system = 3
                info.external_attr = (0o120777) << 16
                archive.writestr(info, os.readlink(path))
            elif path.is_dir():
                archive.writestr(info, b"")
            else:
                archive.write(path, name)
    return destination


def imported(service: EnvOpsService, env: str, archive: Path, version: str, root: str | None):
    checked = service.check_configuration_file(archive, keep_privileges=True)
    answered = service.answer_plain_archive("billing", checked, version, root)
    return service.import_configuration_file(env, answered)


def test_a_tar_gz_made_by_tar_brings_back_every_kind_of_entry_it_keeps(
    service, environment, config_dir, tmp_path
):
    source = tmp_path / "made-elsewhere" / "billing"
    make_tree_of_every_kind(source, as_root=AS_ROOT)
    (source / os.fsdecode(b"caf\xe9.conf")).write_text("a name that is not UTF-8\n")
    archive = tar_of(
        source,
        tmp_path / "billing.tar.gz",
        "--xattrs",
        "--xattrs-include=*",
        "--acls",
        "--sparse",
        "-z",
    )

    imported(service, "billing", archive, "4.2.0", "billing")

    # tar does not keep sockets, nor a FIFO's second name (it stores a FIFO of its own
    # there); everything else it keeps comes back as it was, a symlink's second name too.
    assert rsync_differences(source, config_dir, "--delete", "--exclude=daemon.sock") == [
        "hS          etc/control.fifo => control.fifo"
    ]
    assert os.path.samestat(
        os.lstat(config_dir / "db.ini"), os.lstat(config_dir / "etc" / "db.ini")
    )
    backup = service.list_backups("billing")[0]
    assert backup.origin is BackupOrigin.IMPORTED and backup.version == "4.2.0"


def test_sparse_files_whose_names_a_tar_header_cannot_hold_keep_their_names(
    service, environment, config_dir, tmp_path
):
    # With attributes kept, GNU tar writes pax headers, and a sparse file's header then
    # names a stand-in (`GNUSparseFile.1234/…`) beside its real name; for a name that is too
    # long or not ASCII it also gives the stand-in as `path`, which tarfile let win.
    source = tmp_path / "made-elsewhere"
    deep = source / "modules" / ("very-long-folder-name-" * 4) / "conf.d"
    deep.mkdir(parents=True)
    names = [deep / "cache.db", source / "données.db", source / os.fsdecode(b"caf\xe9.db")]
    for path in names:
        with open(path, "wb") as sparse:
            sparse.seek(1 << 20)
            sparse.write(path.name.encode(errors="surrogateescape"))
    os.link(names[1], source / "linked.db")
    archive = tar_of(
        source, tmp_path / "made.tar", "--xattrs", "--acls", "--sparse", top_level=True
    )

    imported(service, "billing", archive, "4.2.0", None)

    assert rsync_differences(source, config_dir, "--delete") == []
    for path in names:
        restored = config_dir / path.relative_to(source)
        assert restored.stat().st_blocks * 512 < 1 << 20  # its hole kept
    assert os.path.samefile(config_dir / "données.db", config_dir / "linked.db")


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tar.zst", "tar.bz2", "tar.xz", "zip"])
def test_each_kind_of_archive_restores_the_same_tree(
    service, environment, config_dir, tmp_path, kind
):
    source = tmp_path / "source"
    make_config_tree(source, files=30)
    for path in [source, *source.rglob("*")]:  # even seconds: all a zip's times can say
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    archive = tmp_path / f"billing.{kind}"
    if kind == "zip":
        zip_of(source, archive)
    else:
        plain = tar_of(source, tmp_path / "billing.tar", top_level=True)
        data = plain.read_bytes()
        compress = {
            "tar": lambda d: d,
            "tar.gz": lambda d: subprocess.run(["gzip"], input=d, capture_output=True).stdout,
            "tar.zst": lambda d: zstandard.ZstdCompressor().compress(d),
            "tar.bz2": lambda d: subprocess.run(["bzip2"], input=d, capture_output=True).stdout,
            "tar.xz": lambda d: subprocess.run(["xz"], input=d, capture_output=True).stdout,
        }[kind]
        archive.write_bytes(compress(data))

    checked = service.check_configuration_file(archive)
    assert checked.plain is not None and checked.plain.tree.kind == kind
    assert checked.plain.top_folder is None  # several entries at its top level
    imported(service, "billing", archive, "4.2.0", None)

    # A zip keeps no owners and no time for its own top folder.
    options = ["--delete"] + (["--omit-dir-times", "--no-o", "--no-g"] if kind == "zip" else [])
    assert rsync_differences(source, config_dir, *options) == []


def test_an_archive_of_one_folder_offers_both_roots_with_what_each_would_change(
    service, environment, config_dir, tmp_path
):
    source = tmp_path / "elsewhere" / "billing"
    make_config_tree(source)
    (source / "app.yaml").write_text("changed elsewhere\n")
    archive = tar_of(source, tmp_path / "billing.tgz", "-z")

    checked = service.check_configuration_file(archive)
    assert checked.plain is not None and checked.plain.top_folder == "billing"
    as_folder = service.preview_import(
        "billing", service.answer_plain_archive("billing", checked, None, "billing")
    )
    as_top = service.preview_import(
        "billing", service.answer_plain_archive("billing", checked, None, None)
    )
    assert "app.yaml" in {c.path for c in as_folder.changes}
    assert {c.path for c in as_top.changes} >= {"billing", "billing/app.yaml", "app.yaml"}

    imported(service, "billing", archive, "4.2.0", None)  # the top level, as chosen
    assert (config_dir / "billing" / "app.yaml").read_text() == "changed elsewhere\n"
    assert not (config_dir / "app.yaml").exists()


def test_an_archive_imported_before_its_questions_are_answered_changes_nothing(
    service, environment, config_dir, tmp_path
):
    archive = tar_of(config_dir, tmp_path / "billing.tar")
    before = snapshot(config_dir, tmp_path / "before")
    checked = service.check_configuration_file(archive)

    with pytest.raises(OperationFailedError, match="holds a single folder, billing"):
        service.import_configuration_file("billing", checked)
    no_version = service.answer_plain_archive("billing", checked, None, "billing")
    with pytest.raises(OperationFailedError, match="confirm its version"):
        service.import_configuration_file("billing", no_version)
    staged = service.stage_configuration_file(no_version)
    with pytest.raises(OperationFailedError, match="confirm its version"):
        service.import_configuration("billing", staged)
    service.discard_staged_configuration(staged)

    assert rsync_differences(before, config_dir, "--delete") == []
    assert service.list_backups("billing") == []


def test_an_archive_confirmed_as_another_version_is_refused(
    service, environment, config_dir, tmp_path
):
    archive = tar_of(config_dir, tmp_path / "billing.tar")
    before = snapshot(config_dir, tmp_path / "before")
    with pytest.raises(VersionMismatchError, match=r"The configuration file is version 5\.0\.0 "):
        imported(service, "billing", archive, "5.0.0", "billing")
    assert rsync_differences(before, config_dir, "--delete") == []


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_an_archive_whose_version_file_says_another_version_is_refused_whatever_the_answer(
    service, config_dir, tmp_path, kind
):
    service.add_environment("billing", config_dir, version_file="VERSION")
    source = snapshot(config_dir, tmp_path / "newer")
    (source / "VERSION").write_text("5.0.0\n")
    (source / "app.yaml").write_text("written for 5.0.0\n")
    archive = (
        tar_of(source, tmp_path / "newer.tar.gz", "-z", top_level=True)
        if kind == "tar.gz"
        else zip_of(source, tmp_path / "newer.zip")
    )
    before = snapshot(config_dir, tmp_path / "before")
    checked = service.check_configuration_file(archive)
    # As the window uploads it:
    staged = service.stage_configuration_file(service.check_configuration_file(archive))

    for file in (checked, staged):
        with pytest.raises(InvalidInputError, match=r"VERSION, which says it is version 5\.0\.0"):
            service.answer_plain_archive("billing", file, "4.2.0", None)
    as_it_says = service.answer_plain_archive("billing", checked, None, None)
    with pytest.raises(
        VersionMismatchError, match=r"is version 5\.0\.0 but billing runs version 4\.2\.0"
    ):
        service.import_configuration_file("billing", as_it_says)
    with pytest.raises(VersionMismatchError):
        service.import_configuration(
            "billing", service.answer_plain_archive("billing", staged, None, None)
        )
    service.discard_staged_configuration(staged)

    assert rsync_differences(before, config_dir, "--delete") == []
    assert service.get_environment("billing").version == "4.2.0"


def test_an_archive_whose_version_file_says_the_environments_version_needs_no_answer(
    service, config_dir, tmp_path
):
    service.add_environment("billing", config_dir, version_file="VERSION")
    (tmp_path / "elsewhere").mkdir()
    source = snapshot(config_dir, tmp_path / "elsewhere" / "billing")
    (source / "VERSION").write_text("4.2.0\r\n")  # saved on Windows
    (source / "app.yaml").write_text("from the archive\n")
    archive = tar_of(source, tmp_path / "billing.tar")

    checked = service.answer_plain_archive(
        "billing", service.check_configuration_file(archive), None, "billing"
    )
    service.import_configuration_file("billing", checked)

    assert checked.plain is not None and checked.plain.version == "4.2.0"
    assert (config_dir / "app.yaml").read_text() == "from the archive\n"


def test_a_file_without_the_environments_version_file_is_refused_and_changes_nothing(
    service, config_dir, tmp_path
):
    service.add_environment("billing", config_dir, version_file="VERSION")
    before = snapshot(config_dir, tmp_path / "before")
    archive = tar_of(config_dir, tmp_path / "billing.tar")  # one folder, billing
    checked = service.check_configuration_file(archive)
    staged = service.stage_configuration_file(service.check_configuration_file(archive))
    unversioned = tmp_path / "unversioned"
    make_config_tree(unversioned)
    (unversioned / "VERSION").unlink()
    service.add_environment("unversioned", unversioned, version="4.2.0")
    exported = tmp_path / "unversioned.envops.zip"
    service.export_backup(service.create_backup("unversioned").id, exported)

    as_top_level = service.answer_plain_archive("billing", checked, "4.2.0", None)
    with pytest.raises(InvalidConfigurationFileError, match=r"holds no VERSION .*laid out with"):
        service.check_import("billing", as_top_level)  # as a dry run checks
    with pytest.raises(InvalidConfigurationFileError, match="could not tell which version"):
        service.import_configuration_file("billing", as_top_level)
    with pytest.raises(InvalidConfigurationFileError, match="holds no VERSION"):
        service.import_configuration(
            "billing", service.answer_plain_archive("billing", staged, "4.2.0", None)
        )
    with pytest.raises(InvalidConfigurationFileError, match=r"unversioned\.envops\.zip holds no"):
        service.import_configuration_file("billing", service.check_configuration_file(exported))
    service.discard_staged_configuration(staged)

    assert rsync_differences(before, config_dir, "--delete") == []
    assert service.get_environment("billing").version == "4.2.0"
    assert service.list_backups("billing") == []


def _billing_archived_with(
    config_dir: Path, tmp_path: Path, files: dict[str, str], links: dict[str, str]
) -> Path:
    """A tar (of its top level) of billing's folder with its VERSION replaced: `files`
    written, then `links` made (path: target)."""
    source = snapshot(config_dir, tmp_path / "archived")
    (source / "VERSION").unlink()
    for path, text in files.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text)
    for path, target in links.items():
        os.symlink(target, source / path)
    return tar_of(source, tmp_path / "archived.tar", top_level=True)


def test_an_archive_whose_version_file_is_a_link_imports_with_the_answer_given(
    service, config_dir, tmp_path
):
    service.add_environment("billing", config_dir, version_file="VERSION")
    # As some deploy tools lay it out.
    archive = _billing_archived_with(
        config_dir, tmp_path, {"release/VERSION": "4.2.0\n"}, {"VERSION": "release/VERSION"}
    )

    checked = service.answer_plain_archive(
        "billing", service.check_configuration_file(archive), "4.2.0", None
    )
    service.import_configuration_file("billing", checked)

    assert os.readlink(config_dir / "VERSION") == "release/VERSION"
    assert service.get_environment("billing").version == "4.2.0"


def test_an_archive_whose_version_file_links_to_another_version_is_refused(
    service, config_dir, tmp_path
):
    # A deploy tool's layout: VERSION -> current/VERSION, current -> releases/5.0.0.
    service.add_environment("billing", config_dir, version_file="VERSION")
    before = snapshot(config_dir, tmp_path / "before")
    archive = _billing_archived_with(
        config_dir,
        tmp_path,
        {"releases/5.0.0/VERSION": "5.0.0\n"},
        {"current": "releases/5.0.0", "VERSION": "current/VERSION"},
    )
    checked = service.check_configuration_file(archive)

    with pytest.raises(InvalidInputError, match=r"VERSION, which says it is version 5\.0\.0"):
        service.answer_plain_archive("billing", checked, "4.2.0", None)
    with pytest.raises(VersionMismatchError, match=r"is version 5\.0\.0 but billing runs"):
        service.import_configuration_file(
            "billing", service.answer_plain_archive("billing", checked, None, None)
        )

    assert rsync_differences(before, config_dir, "--delete") == []
    assert service.get_environment("billing").version == "4.2.0"


def test_an_archive_whose_version_file_is_a_hard_link_says_its_version_through_it(
    service, config_dir, tmp_path
):
    # tar holds the content under the first name it met; the version file is the second.
    (config_dir / "conf.d" / "VERSION").write_text("4.2.0\n")
    service.add_environment("billing", config_dir, version_file="conf.d/VERSION")
    source = snapshot(config_dir, tmp_path / "linked")
    (source / "conf.d" / "VERSION").unlink()
    (source / "VERSION").write_text("5.0.0\n")
    os.link(source / "VERSION", source / "conf.d" / "VERSION")
    archive = tar_of(source, tmp_path / "linked.tar", top_level=True)

    with pytest.raises(InvalidInputError, match=r"conf\.d/VERSION, which says it is version 5"):
        service.answer_plain_archive(
            "billing", service.check_configuration_file(archive), "4.2.0", None
        )
    assert service.get_environment("billing").version == "4.2.0"


def test_an_archive_whose_version_file_links_to_nothing_is_refused_and_changes_nothing(
    service, config_dir, tmp_path
):
    service.add_environment("billing", config_dir, version_file="VERSION")
    before = snapshot(config_dir, tmp_path / "before")
    archive = _billing_archived_with(config_dir, tmp_path, {}, {"VERSION": "release/VERSION"})
    checked = service.answer_plain_archive(
        "billing", service.check_configuration_file(archive), "4.2.0", None
    )

    with pytest.raises(
        InvalidConfigurationFileError,
        match=r"holds VERSION, .* as a link to release/VERSION, which leads to no file",
    ):
        service.import_configuration_file("billing", checked)

    assert rsync_differences(before, config_dir, "--delete") == []
    assert service.list_backups("billing") == []


def test_the_activity_entry_says_the_archive_carried_no_checksums(
    service, environment, config_dir, tmp_path
):
    archive = tar_of(config_dir, tmp_path / "billing.tar.gz", "-z")
    imported(service, "billing", archive, "4.2.0", "billing")
    entry = next(
        e for e in service.activity("billing") if e.action is ActivityAction.CONFIGURATION_IMPORTED
    )
    assert "billing.tar.gz is a plain tar.gz archive: it carried no checksums" in entry.detail


def test_a_tar_appended_to_or_naming_a_file_twice_imports_as_tar_extracts_it(
    service, environment, config_dir, tmp_path
):
    source = snapshot(config_dir, tmp_path / "source")
    os.link(source / "conf.d" / "cache.ini", source / "conf.d" / "cache.ini.orig")
    archive = tmp_path / "updated.tar"
    # Given a folder and a file in it, tar stores the file again as a hard link to itself.
    subprocess.run(
        ["tar", "--xattrs", "--acls", "-cf", str(archive), "-C", str(source.parent), "source",
         "source/app.yaml"],
        check=True,
    )  # fmt: skip
    (source / "app.yaml").write_text("server:\n  port: 9443\n")  # then an update appended
    (source / "hooks.sh").unlink()
    os.symlink("app.yaml", source / "hooks.sh")  # a file replaced by a link
    (source / "conf.d" / "cache.ini").unlink()  # as an editor saves: its old link keeps the old
    (source / "conf.d" / "cache.ini").write_text("[cache]\nttl=60\n")
    subprocess.run(
        ["tar", "-rf", str(archive), "-C", str(source.parent), "source/app.yaml",
         "source/hooks.sh", "source/conf.d/cache.ini"],
        check=True,
    )  # fmt: skip
    extracted = as_tar_extracts(archive, tmp_path / "extracted")

    imported(service, "billing", archive, "4.2.0", "source")

    assert (config_dir / "app.yaml").read_text() == "server:\n  port: 9443\n"
    assert os.readlink(config_dir / "hooks.sh") == "app.yaml"
    assert (config_dir / "conf.d" / "cache.ini.orig").read_text() == "[cache]\nttl=300\n"
    assert rsync_differences(extracted / "source", config_dir, "--delete") == []


def test_a_tar_whose_names_hold_double_slashes_or_dots_imports_as_tar_extracts_it(
    service, environment, config_dir, tmp_path
):
    # A script's `tar -cf x.tar "$DIR"/*` with DIR=source/ stores source//app.yaml, and a
    # dot left in a path stores ./source/./conf.d: each was refused as "an empty or '.'
    # component", or, for .//name, as "an absolute path".
    source = snapshot(config_dir, tmp_path / "source")
    (source / ".hidden").write_text("a name the glob leaves out\n")
    archive = tmp_path / "scripted.tar"
    subprocess.run(
        'tar -cf scripted.tar "$DIR"/* ./source/./conf.d .//source/.hidden',
        shell=True, check=True, cwd=tmp_path, env={**os.environ, "DIR": "source/"},
    )  # fmt: skip
    names = subprocess.run(["tar", "-tf", str(archive)], capture_output=True, text=True).stdout
    assert {"source//app.yaml", "./source/./conf.d/", ".//source/.hidden"} <= set(names.split())
    extracted = as_tar_extracts(archive, tmp_path / "extracted")
    # No entry names source itself: made as `mkdir -p` would, it is dated like the archive.
    with_time_of(archive, extracted / "source")

    imported(service, "billing", archive, "4.2.0", "source")

    assert rsync_differences(extracted / "source", config_dir, "--delete") == []


def test_a_tar_in_the_old_v7_format_is_known_as_a_tar_and_imports_as_tar_extracts_it(
    service, environment, config_dir, tmp_path
):
    # No "ustar" in its header to tell it by: it was refused as "not a configuration file,
    # nor a zip or tar archive". GNU tar tells one by its header's checksum.
    source = snapshot(config_dir, tmp_path / "source")
    os.link(source / "app.yaml", source / "conf.d" / "app.yaml")
    archive = tar_of(source, tmp_path / "old.tar", "--format=v7")
    assert b"ustar" not in archive.read_bytes()
    extracted = as_tar_extracts(archive, tmp_path / "extracted")

    checked = service.check_configuration_file(archive)
    assert checked.plain is not None and checked.plain.tree.kind == "tar"
    imported(service, "billing", archive, "4.2.0", "source")

    assert rsync_differences(extracted / "source", config_dir, "--delete") == []


def test_a_file_that_only_looks_like_a_tar_header_in_part_is_not_taken_for_one(
    service, environment, tmp_path
):
    block = bytearray(tarfile.TarInfo("app.yaml").tobuf(format=tarfile.USTAR_FORMAT))
    block[257:265] = bytes(8)  # no "ustar": told by the checksum alone
    block[0] ^= 1  # which no longer adds up
    not_a_tar = tmp_path / "notes.tar"
    not_a_tar.write_bytes(bytes(block) + bytes(1024))

    with pytest.raises(InvalidConfigurationFileError, match="nor a zip or tar archive"):
        service.check_configuration_file(not_a_tar)


def test_a_file_appended_again_leaves_the_names_linked_to_its_first_copy_with_that_content(
    service, environment, config_dir, tmp_path
):
    archive = _tar_with(
        tmp_path,
        (_member("a"), b"first"),
        (_member("b", tarfile.LNKTYPE, "a"), b""),
        (_member("c", tarfile.LNKTYPE, "a"), b""),
        (_member("a"), b"second"),
    )
    extracted = as_tar_extracts(archive, tmp_path / "extracted")
    with_time_of(config_dir, extracted)  # no entry names the top level: its time stays

    imported(service, "billing", archive, "4.2.0", None)

    assert [(config_dir / n).read_text() for n in "abc"] == ["second", "first", "first"]
    assert (config_dir / "b").stat().st_ino == (config_dir / "c").stat().st_ino
    assert rsync_differences(extracted, config_dir, "--delete") == []


def _tar_with(tmp_path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    archive = tmp_path / "hostile.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return archive


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    return info


HOSTILE_TARS = {
    "a path climbing out": ([(_member("../../etc/cron.d/evil"), b"x")], "climbs out"),
    "an absolute path": ([(_member("/etc/passwd"), b"x")], "is an absolute path"),
    "a link leading out": (
        [(_member("escape", tarfile.SYMTYPE, "../../../etc/shadow"), b"")],
        "points outside the environment",
    ),
    "a device": ([(_member("disk", tarfile.BLKTYPE), b"")], "is a device file"),
    "a folder and a file of one name": (
        [(_member("a", tarfile.DIRTYPE), b""), (_member("a"), b"2")],
        "the entry 'a' appears twice, as a folder and something else",
    ),
    "a hardlink to nothing before it": (
        [(_member("b", tarfile.LNKTYPE, "missing"), b"")],
        "a hardlink to 'missing', which is not an earlier file",
    ),
    "a hardlink to a folder": (
        [(_member("d", tarfile.DIRTYPE), b""), (_member("h", tarfile.LNKTYPE, "d"), b"")],
        "a hardlink to 'd', which is not an earlier file, link or pipe",
    ),
    "a hardlink to a file outside": (
        [(_member("shadow", tarfile.LNKTYPE, "/etc/shadow"), b"")],
        "the entry 'shadow' is a hardlink to '/etc/shadow', which is an absolute path",
    ),
    "a file inside a link": (
        [(_member("d", tarfile.SYMTYPE, "."), b""), (_member("d/x"), b"1")],
        "inside a link",
    ),
    "a file inside a file": (
        [(_member("a"), b"1"), (_member("a/b"), b"2")],
        r"the entry 'a/b' is inside a file \('a'\), not a folder",
    ),
    "a file with no name": ([(_member("./"), b"lost")], "not a folder has no name"),
    "a name no filesystem takes": (
        [(_member("conf.d/" + "é" * 128), b"x")],
        "a name longer than 255 bytes",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_TARS, ids=list(HOSTILE_TARS))
def test_a_hostile_archive_is_refused_with_its_reason_and_changes_nothing(
    service, environment, config_dir, tmp_path, case
):
    members, reason = HOSTILE_TARS[case]
    _refused_changing_nothing(service, config_dir, _tar_with(tmp_path, *members), reason)


def _refused_changing_nothing(
    service: EnvOpsService, config_dir: Path, archive: Path, reason: str
) -> None:
    """Importing `archive` into billing is refused for `reason`, and billing's folder and
    the store's staging are left as they were."""
    before = snapshot(config_dir, archive.parent / "before")
    with pytest.raises(InvalidConfigurationFileError, match=reason) as refusal:
        checked = service.check_configuration_file(archive)
        service.import_configuration_file(
            "billing", service.answer_plain_archive("billing", checked, "4.2.0", None)
        )
    assert str(refusal.value).startswith(f"{archive.name} was refused: ")
    assert rsync_differences(before, config_dir, "--delete") == []
    assert not list((service.data_dir / "staging").iterdir())


def _zip_entry_damaged(archive: Path) -> None:
    data = bytearray(archive.read_bytes())
    at = data.index(b"port:")  # stored, so the body is there as written
    data[at] ^= 0x20
    archive.write_bytes(bytes(data))


def _zip_entry_compressed_unknown(archive: Path) -> None:
    data = bytearray(archive.read_bytes())
    for header, method_at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.index(header)
        data[at + method_at : at + method_at + 2] = (99).to_bytes(2, "little")  # AES
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (_zip_entry_damaged, r"the file 'app.yaml' is damaged or truncated \(Bad CRC-32"),
        (_zip_entry_compressed_unknown, "compressed in a way EnvOps cannot read"),
    ],
    ids=["damaged", "unknown compression"],
)
def test_a_zip_entry_that_cannot_be_read_is_refused_and_changes_nothing(
    service, environment, config_dir, tmp_path, spoil, reason
):
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as written:
        written.writestr("app.yaml", "server:\n  port: 1\n")
        written.writestr("conf.d/database.ini", "[db]\n")
    spoil(archive)
    _refused_changing_nothing(service, config_dir, archive, reason)


def test_a_truncated_tar_gz_is_refused_and_leaves_no_scratch(
    service, environment, config_dir, tmp_path
):
    whole = tar_of(config_dir, tmp_path / "whole.tar.gz", "-z").read_bytes()
    archive = tmp_path / "billing.tar.gz"
    archive.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidConfigurationFileError, match=r"billing\.tar\.gz was refused"):
        service.check_configuration_file(archive)
    assert not list((service.data_dir / "staging").iterdir())


def test_a_cancelled_read_leaves_no_scratch(service, environment, config_dir, tmp_path):
    archive = tar_of(config_dir, tmp_path / "billing.tar")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(OperationCancelledError):
        service.check_configuration_file(archive, cancel=cancel)
    assert not list((service.data_dir / "staging").iterdir())


def _zip_of(folder: Path, destination: Path) -> Path:
    with zipfile.ZipFile(destination, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder).as_posix())
    return destination


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_reading_an_archive_of_one_large_file_shows_how_far_it_has_come_inside_it(
    service, tmp_path, kind
):
    source = tmp_path / "made-elsewhere"
    source.mkdir()
    (source / "disk.img").write_bytes(os.urandom(64 << 20))
    archive = tmp_path / f"images.{kind}"
    if kind == "zip":
        _zip_of(source, archive)
    else:
        tar_of(source, archive, top_level=True)
    reports = SlowView()

    service.check_configuration_file(archive, progress=reports)

    # Before, its one report of it came once it was read through: at 99 %.
    inside = [p for p in reports if p.path.removeprefix("./") == "disk.img" and p.percent < 90]
    assert inside and {p.phase for p in inside} == {"reading"}
    assert [p.done for p in reports] == sorted(p.done for p in reports)


def _read(archive: Path, tmp_path: Path, limits: ImportLimits):
    kind = "tar.gz" if archive.name.endswith(".gz") else "tar"
    copy = tmp_path / "copy.zip"
    copy.unlink(missing_ok=True)
    return read_plain_archive(archive, kind, copy, limits, ignore_progress, CancelToken())


def test_sizes_are_bounded_by_the_headers_before_any_content_is_read(tmp_path):
    archive = _tar_with(tmp_path, (_member("big"), b"x" * 4096), (_member("more"), b"y" * 4096))
    with pytest.raises(InvalidConfigurationFileError, match="more than the limit of"):
        _read(archive, tmp_path, ImportLimits(max_total_bytes=6000))
    with pytest.raises(InvalidConfigurationFileError, match="more than the limit of 1 entries"):
        _read(archive, tmp_path, ImportLimits(max_entries=1))


def test_a_sparse_file_counts_only_its_data_against_the_limits_and_in_scratch_space(tmp_path):
    # A disk image of 256 MiB holding 8 KiB, in a tar made with --sparse: refused as 256 MiB
    # over a limit of 1 MiB, and copied as 256 MiB of zeros before it was read.
    source = tmp_path / "made-elsewhere"
    source.mkdir()
    with open(source / "disk.img", "wb") as image:
        image.truncate(256 << 20)
        image.seek(128 << 20)
        image.write(os.urandom(8192))
    archive = tar_of(source, tmp_path / "made.tar", "--sparse", top_level=True)

    _read(archive, tmp_path, ImportLimits(max_total_bytes=1 << 20))

    assert (tmp_path / "copy.zip").stat().st_size < 16 << 20
    # Its holes are hashed all the same, so what it reads as has a limit of its own: a
    # sparse map of a few bytes may declare terabytes.
    with pytest.raises(InvalidConfigurationFileError, match="read as more than the limit of"):
        _read(archive, tmp_path, ImportLimits(max_read_bytes=128 << 20))


def test_a_forged_header_is_refused_before_it_is_read_into_memory(tmp_path):
    # A pax header that says it is 4 GiB long: tarfile would read all of it at once.
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 4 << 30
    archive = tmp_path / "forged.tar"
    archive.write_bytes(header.tobuf(tarfile.USTAR_FORMAT) + b"\0" * 1024)
    with pytest.raises(InvalidConfigurationFileError, match="headers declares 4294967296 bytes"):
        _read(archive, tmp_path, ImportLimits())


def test_a_compression_bomb_is_refused_as_it_expands(tmp_path):
    zeros = _tar_with(tmp_path, (_member("zeros"), bytes(8 << 20)))
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(
        subprocess.run(["gzip", "-9"], input=zeros.read_bytes(), capture_output=True).stdout
    )
    limits = ImportLimits(max_ratio=50, ratio_applies_above=1 << 20)
    with pytest.raises(InvalidConfigurationFileError, match="a compression bomb"):
        _read(bomb, tmp_path, limits)


# The command line ---------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, capsys, config_dir):
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("env", "add", "billing", "--path", str(config_dir), "--version", "4.2.0")[0] == 0
    return run


def test_an_archive_whose_name_is_not_utf8_imports_from_the_command_line(
    service, environment, config_dir, tmp_path, capsysbinary
):
    # Its name went into the backup's name and the journal, which hold text: the import
    # ended in a UnicodeEncodeError, after asking.
    source = tmp_path / "elsewhere"
    snapshot(config_dir, source)
    (source / "app.yaml").write_text("from the archive\n")
    archive = tar_of(source, tmp_path / os.fsdecode(b"caf\xe9.tar"), top_level=True)
    data = ["--data-dir", str(service.data_dir)]

    code = main([*data, "import", "billing", str(archive), "--version", "4.2.0", "--yes"])

    out, err = capsysbinary.readouterr()
    assert code == 0, err
    assert out.endswith(b"billing was restored from caf\\xe9.tar (4.2.0).\n")
    assert b"Importing caf\\xe9.tar erases the current configuration of billing." in err
    assert (config_dir / "app.yaml").read_text() == "from the archive\n"
    names = [b.name for b in service.list_backups("billing")]
    assert names == ["Before importing 'caf\\xe9.tar'", "Imported caf\\xe9.tar"]


def test_the_command_line_asks_for_the_root_and_the_version_of_an_archive(
    cli, config_dir, tmp_path
):
    source = tmp_path / "elsewhere" / "billing"
    make_config_tree(source)
    (source / "app.yaml").write_text("from the archive\n")
    archive = str(tar_of(source, tmp_path / "billing.tar.zst", "--zstd"))

    code, out, err = cli("import", "billing", archive, "--yes")
    assert code == 2
    assert "--root-folder billing" in err and "--root-folder ." in err

    code, out, err = cli("import", "billing", archive, "--yes", "--root-folder", "billing")
    assert code == 2 and "--version V (billing is at 4.2.0)" in err

    code, out, err = cli("import", "billing", archive, "--dry-run")
    assert code == 0
    assert "With --root-folder billing (billing as billing's folder):" in out
    assert "With --root-folder . (the archive's top level):" in out

    code, out, _ = cli("import", "billing", archive, "--dry-run", "--json", "--root-folder", ".")
    assert code == 0 and '"billing/app.yaml"' in out
    for completed in ("billing/", "./"):  # as a shell completes a folder's name
        code, out, err = cli("import", "billing", archive, "--dry-run", "--root-folder", completed)
        assert (
            code == 0 and ("app.yaml" in out) and ("billing/app.yaml" in out) == (completed == "./")
        ), err

    code, out, err = cli(
        "import", "billing", archive, "--yes", "--root-folder", "billing", "--version", "4.2.0"
    )
    assert code == 0, err
    assert "carried no checksums" in err
    assert (config_dir / "app.yaml").read_text() == "from the archive\n"
    assert rsync_differences(source, config_dir, "--delete", WHOLE_SECONDS) == []


def test_the_command_line_takes_the_version_an_archives_own_version_file_says(
    cli, config_dir, tmp_path
):
    folder = snapshot(config_dir, tmp_path / "versioned")
    add = ("env", "add", "versioned", "--path", str(folder), "--version-file", "VERSION")
    assert cli(*add)[0] == 0
    (tmp_path / "elsewhere").mkdir()
    source = snapshot(folder, tmp_path / "elsewhere" / "billing")
    (source / "app.yaml").write_text("from the archive\n")
    same = str(tar_of(source, tmp_path / "same.tar.gz", "-z"))
    (source / "VERSION").write_text("5.0.0\n")
    newer = str(tar_of(source, tmp_path / "newer.tar.gz", "-z"))
    before = snapshot(folder, tmp_path / "before")

    both = cli("import", "versioned", same, "--dry-run")
    refused = cli("import", "versioned", newer, "--yes", "--root-folder", "billing")
    contradicted = cli(
        "import", "versioned", newer, "--yes", "--root-folder", "billing", "--version", "4.2.0"
    )
    unchanged = rsync_differences(before, folder, "--delete")
    taken = cli("import", "versioned", same, "--yes", "--root-folder", "billing")

    as_folder, as_top_level = both[1].split("\n\n")
    assert both[0] == 0 and "refused" not in as_folder and "no changes" not in as_top_level
    assert as_top_level.splitlines()[1].startswith("refused: same.tar.gz holds no VERSION")
    assert refused[0] == 3 and "is version 5.0.0 but versioned runs version 4.2.0" in refused[2]
    assert contradicted[0] == 1 and "which says it is version 5.0.0, not 4.2.0" in contradicted[2]
    assert unchanged == []
    assert taken[0] == 0, taken[2]
    assert (folder / "app.yaml").read_text() == "from the archive\n"


def test_the_command_line_refuses_archive_answers_for_a_configuration_file(
    cli, config_dir, tmp_path
):
    assert cli("backup", "create", "billing")[0] == 0
    backup_id = cli("backup", "list", "billing", "--json")[1].split('"id": "')[1].split('"')[0]
    exported = tmp_path / "billing.envops.zip"
    assert cli("backup", "export", backup_id, str(exported))[0] == 0
    code, _, err = cli("import", "billing", str(exported), "--yes", "--version", "4.2.0")
    assert code == 2 and "names its own version" in err


def test_gnu_tar_acl_text_becomes_the_acl_linux_keeps(tmp_path):
    from envops_desktop.store.plain_archives import posix_acl_from_text
    from tests.trees import posix_acl

    text = "user::rw-\nuser:4242:r--\ngroup::r--\nmask::r--\nother::---\n"
    assert posix_acl_from_text(text) == posix_acl(6, 4, 4242, 4, 4, 0)
    assert posix_acl_from_text("user::rw-,group::r--,other::r--") is None  # the mode says it
    assert posix_acl_from_text("user:nobody-here-at-all:r--") is None


def test_bsdtar_style_acl_text_alone_is_applied(service, environment, config_dir, tmp_path):
    info = _member("acl.conf")
    info.pax_headers = {
        "SCHILY.acl.access": "user::rw-,user:4242:r--,group::r--,mask::r--,other::---"
    }
    info.mode = 0o640
    archive = _tar_with(tmp_path, (info, b"secret\n"))
    imported(service, "billing", archive, "4.2.0", None)
    acl = os.getxattr(config_dir / "acl.conf", "system.posix_acl_access")
    from tests.trees import posix_acl

    assert acl == posix_acl(6, 4, 4242, 4, 4, 0)


def test_a_hardlink_listed_before_the_file_tar_stored_keeps_the_files_attributes(
    service, environment, config_dir, tmp_path
):
    # tar stores the body (and xattrs) with the first path it met, z/…; a manifest keeps
    # them with the first in path order, a/….
    stored = _member("z/settings.conf")
    stored.mode = 0o600
    stored.pax_headers = {"SCHILY.xattr.user.origin": "deploy-42"}
    link = _member("a/settings.conf", tarfile.LNKTYPE, "z/settings.conf")
    archive = _tar_with(tmp_path, (stored, b"linked = yes\n"), (link, b""))
    imported(service, "billing", archive, "4.2.0", None)
    first, second = config_dir / "a" / "settings.conf", config_dir / "z" / "settings.conf"
    assert os.stat(first).st_ino == os.stat(second).st_ino
    assert first.read_bytes() == b"linked = yes\n"
    assert os.getxattr(first, "user.origin") == b"deploy-42"
    assert os.stat(first).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("first", ["a.conf", "z.conf"], ids=["stored-first", "stored-last"])
def test_the_preview_of_an_archive_with_a_hardlinked_file_names_only_what_changes(
    service, tmp_path, first
):
    # tar writes a file's attributes on the first name it meets only; every other name is
    # the same file, so the same attributes, and unchanged where they are unchanged.
    source = tmp_path / "source"
    source.mkdir()
    (source / first).write_text("linked = yes\n")
    os.setxattr(source / first, "user.origin", b"deploy-42")
    os.link(source / first, source / ({"a.conf", "z.conf"} - {first}).pop())
    (source / "other.conf").write_text("other\n")
    archive = tar_of(source, tmp_path / "links.tar", "--xattrs", top_level=True)
    root = snapshot(source, tmp_path / "links")
    (root / "other.conf").write_text("edited\n")
    service.add_environment("links", root, version="1.0")
    checked = service.answer_plain_archive(
        "links", service.check_configuration_file(archive, keep_privileges=True), "1.0", None
    )

    reports = []
    preview = service.preview_import("links", checked, progress=reports.append)

    assert [change.path for change in preview.changes] == ["other.conf"]
    assert reports[-1].phase == "comparing" and reports[-1].done == reports[-1].total == 3


def test_a_zip_that_does_not_list_its_folder_leaves_the_folders_own_time_as_it_is(
    service, environment, config_dir, tmp_path
):
    archive = zip_of(snapshot(config_dir, tmp_path / "copy"), tmp_path / "billing.zip")
    (config_dir / "app.yaml").write_text("edited\n")
    os.utime(config_dir, ns=(1_600_000_000_000_000_000,) * 2)
    checked = service.answer_plain_archive(
        "billing", service.check_configuration_file(archive), "4.2.0", None
    )

    preview = service.preview_import("billing", checked)
    imported(service, "billing", archive, "4.2.0", None)

    assert "." not in {change.path for change in preview.changes}
    assert config_dir.stat().st_mtime_ns == 1_600_000_000_000_000_000


def _empty_zip(archive: Path) -> None:
    zipfile.ZipFile(archive, "w").close()


def _empty_tar(archive: Path) -> None:
    tarfile.open(archive, "w").close()  # its two end blocks, padded: nothing but zeros


@pytest.mark.parametrize("make", [_empty_zip, _empty_tar], ids=["zip", "tar"])
def test_an_empty_archive_is_refused_rather_than_emptying_the_environment(
    service, environment, config_dir, tmp_path, make
):
    archive = tmp_path / "empty.archive"
    make(archive)
    with pytest.raises(InvalidConfigurationFileError, match="holds no files or folders"):
        service.check_configuration_file(archive)


def _zip_with(archive: Path, *entries: tuple[zipfile.ZipInfo, bytes]) -> Path:
    with zipfile.ZipFile(archive, "w") as written:
        for info, body in entries:
            written.writestr(info, body)
    return archive


def _made_on(system: int, name: str, extra: bytes = b"") -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (2026, 1, 2, 3, 4, 6))
    info.create_system, info.extra = system, extra
    if system == 3:
        info.external_attr = 0o100640 << 16
    return info


def test_a_zip_made_on_windows_has_its_backslashes_read_as_folders(
    service, environment, config_dir, tmp_path
):
    # As PowerShell 5's Compress-Archive writes them: made on MS-DOS/NTFS, `\` separators.
    empty_folder = _made_on(0, "logs\\")
    empty_folder.external_attr = 0x10  # MS-DOS's folder attribute
    windows = _zip_with(
        tmp_path / "from-windows.zip",
        (_made_on(0, "conf.d\\limits.conf"), b"limits\n"),
        (_made_on(11, "app.yaml"), b"app\n"),
        (empty_folder, b""),
    )
    # On Unix a backslash is part of a name, and stays one.
    unix = _zip_with(tmp_path / "from-linux.zip", (_made_on(3, "odd\\name.conf"), b"odd\n"))

    imported(service, "billing", windows, "4.2.0", None)
    assert (config_dir / "conf.d" / "limits.conf").read_text() == "limits\n"
    assert sorted(p.name for p in config_dir.iterdir()) == ["app.yaml", "conf.d", "logs"]
    assert (config_dir / "logs").is_dir() and not any((config_dir / "logs").iterdir())

    imported(service, "billing", unix, "4.2.0", None)
    assert [p.name for p in config_dir.iterdir()] == ["odd\\name.conf"]


def test_a_zip_from_windows_that_climbs_out_with_backslashes_is_refused(
    service, environment, config_dir, tmp_path
):
    archive = _zip_with(tmp_path / "evil.zip", (_made_on(11, "conf\\..\\..\\evil"), b"x"))
    _refused_changing_nothing(service, config_dir, archive, "climbs out of the environment")


def test_a_zip_entry_keeps_the_time_and_owners_its_extra_fields_hold(
    service, environment, config_dir, tmp_path
):
    exact_ns = 1_767_323_045_123_456_700  # 2026-01-02 03:04:05.1234567 UTC
    filetime = exact_ns // 100 + 116_444_736_000_000_000
    ntfs = struct.pack("<HHIHH3Q", 0x000A, 32, 0, 1, 24, filetime, filetime, filetime)
    stamp = struct.pack("<HHBi", 0x5455, 5, 1, 1_767_323_045)
    owners = struct.pack("<HHBBIBI", 0x7875, 11, 1, 4, 65534, 4, 65533)
    archive = _zip_with(
        tmp_path / "times.zip",
        (_made_on(0, "from-7zip.conf", ntfs), b"ntfs\n"),
        (_made_on(3, "from-zip.conf", stamp + owners), b"ut\n"),
        (_made_on(3, "dos-only.conf"), b"dos\n"),
    )

    checked = service.check_configuration_file(archive, keep_privileges=True)
    service.import_configuration_file(
        "billing", service.answer_plain_archive("billing", checked, "4.2.0", None)
    )

    assert (config_dir / "from-7zip.conf").stat().st_mtime_ns == exact_ns
    made_by_zip = (config_dir / "from-zip.conf").stat()
    assert made_by_zip.st_mtime_ns == 1_767_323_045 * 1_000_000_000
    # The MS-DOS time every entry has is local time, to two seconds.
    local = time.mktime((2026, 1, 2, 3, 4, 6, 0, 0, -1))
    assert (config_dir / "dos-only.conf").stat().st_mtime_ns == int(local) * 1_000_000_000
    if AS_ROOT:
        assert (made_by_zip.st_uid, made_by_zip.st_gid) == (65534, 65533)


def test_a_zip_made_on_a_mac_leaves_out_its_macosx_folder_and_says_so(
    service, environment, config_dir, tmp_path
):
    # As Finder's Compress writes a folder: the files, then an AppleDouble copy of each
    # one's attributes under __MACOSX.
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(8)
    archive = _zip_with(
        tmp_path / "billing.zip",
        (_made_on(3, "billing/"), b""),
        (_made_on(3, "billing/app.yaml"), b"from a mac\n"),
        (_made_on(3, "__MACOSX/"), b""),
        (_made_on(3, "__MACOSX/billing/"), b""),
        (_made_on(3, "__MACOSX/billing/._app.yaml"), apple_double),
    )

    checked = service.check_configuration_file(archive)
    assert checked.plain is not None and checked.plain.top_folder == "billing"
    assert any("its __MACOSX folder" in caveat for caveat in checked.caveats)
    service.import_configuration_file(
        "billing", service.answer_plain_archive("billing", checked, "4.2.0", "billing")
    )

    assert [p.name for p in config_dir.iterdir()] == ["app.yaml"]
    assert (config_dir / "app.yaml").read_text() == "from a mac\n"
    entry = service.activity("billing")[0]
    assert entry.action is ActivityAction.CONFIGURATION_IMPORTED
    assert "billing.zip was zipped on a Mac" in entry.detail


def _zip_with_raw_names(archive: Path, *entries: tuple[zipfile.ZipInfo, bytes, bytes]) -> Path:
    """A zip whose entries are named by the bytes given, not flagged as UTF-8, as zip tools
    other than Python's write them: each written under an ASCII stand-in of the same
    length, then renamed in its local header and the central directory alike."""
    _zip_with(archive, *((info, body) for info, _raw, body in entries))
    data = archive.read_bytes()
    for info, raw, _body in entries:
        stand_in = info.filename.encode("ascii")
        assert len(stand_in) == len(raw) and data.count(stand_in) == 2
        data = data.replace(stand_in, raw)
    archive.write_bytes(data)
    return archive


def test_a_zips_names_are_read_in_the_encoding_of_the_system_that_made_it(
    service, environment, config_dir, tmp_path
):
    utf8, latin1 = "café.conf".encode(), b"lat\xe9.conf"
    in_utf8 = b"caf\xc3\xa9-up.conf"
    unicode_path = struct.pack("<HHBI", 0x7075, 5 + len(in_utf8), 1, zlib.crc32(b"caf\x82-up.conf"))
    archive = _zip_with_raw_names(
        tmp_path / "names.zip",
        # Info-ZIP's zip on Linux: the file's own bytes, whatever they are.
        (_made_on(3, "cafXX.conf"), utf8, b"utf-8\n"),
        (_made_on(3, "latX.conf"), latin1, b"latin-1\n"),
        # Windows' own zip: the OEM code page, 437 in the West.
        (_made_on(0, "dosX.conf"), b"dos\x82.conf", b"cp437\n"),
        # Beside a name in another encoding, the name in UTF-8 that Info-ZIP adds.
        (_made_on(0, "cafX-up.conf", unicode_path + in_utf8), b"caf\x82-up.conf", b"up\n"),
    )

    imported(service, "billing", archive, "4.2.0", None)

    assert sorted(os.listdir(os.fsencode(config_dir))) == sorted(
        [utf8, latin1, "dosé.conf".encode(), in_utf8]
    )
    assert (config_dir / os.fsdecode(latin1)).read_text() == "latin-1\n"


def test_a_zip_with_a_manifest_json_of_its_own_imports_as_the_archive_it_is(
    service, environment, config_dir, tmp_path
):
    # A web front end's configuration: its manifest.json is the site's, not EnvOps's.
    site = b'{"name": "Billing", "start_url": "/", "display": "standalone"}\n'
    archive = _zip_with(
        tmp_path / "web-frontend.zip",
        (_made_on(3, "manifest.json"), site),
        (_made_on(3, "index.html"), b"<!doctype html>\n"),
    )

    imported(service, "billing", archive, "4.2.0", None)

    assert sorted(p.name for p in config_dir.iterdir()) == ["index.html", "manifest.json"]
    assert (config_dir / "manifest.json").read_bytes() == site
