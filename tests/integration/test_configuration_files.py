"""Configuration files: export, then import on any workstation; hostile files are refused."""

import hashlib
import json
import os
import stat
import time
import warnings
import zipfile
from pathlib import Path

import pytest

from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EnvironmentStatus
from envops_desktop.domain.errors import (
    InvalidConfigurationFileError,
    NotFoundError,
    OperationFailedError,
    VersionMismatchError,
)
from envops_desktop.domain.progress import Progress
from envops_desktop.service import EnvOpsService
from envops_desktop.store.configuration_reader import peek_environment_name
from tests.disks import needs_root_to_mount, small_disk
from tests.process_io import COUNTED, io_count
from tests.trees import describe_tree, make_config_tree, mess_up, rsync_differences
from tests.zips import (
    dir_entry,
    file_entry,
    link_entry,
    manifest,
    simple_configuration,
    write_configuration,
)

AS_ROOT = os.geteuid() == 0


def import_file(service: EnvOpsService, env: str, path: Path, **options: object):
    staged = service.stage_configuration_file(path, **options)
    try:
        return service.import_configuration(env, staged)
    finally:
        service.discard_staged_configuration(staged)


def test_export_then_import_on_another_data_dir_reproduces_the_environment(
    service, environment, config_dir, tmp_path
):
    original = describe_tree(config_dir)
    backup = service.create_backup("billing", name="golden")
    exported = service.export_backup(backup.id, tmp_path / "golden.envops.zip")

    other_dir = tmp_path / "workstation2" / "billing"
    other_dir.mkdir(parents=True)
    other = EnvOpsService(tmp_path / "data2")
    other.add_environment("billing", other_dir, version="4.2.0")
    seen: list[Progress] = []
    staged = other.stage_configuration_file(exported, progress=seen.append)
    assert staged.manifest.backup_name == "golden"
    assert seen[-1].phase == "uploading" and seen[-1].done == seen[-1].total > 0
    env = other.import_configuration("billing", staged)
    assert describe_tree(other_dir) == original
    assert env.status is EnvironmentStatus.READY
    imported = other.list_backups("billing")[0]
    assert imported.origin is BackupOrigin.IMPORTED
    assert other.activity("billing")[0].action is ActivityAction.CONFIGURATION_IMPORTED
    other.close()


def test_import_in_one_pass_reproduces_the_environment_after_a_backup_of_it(
    service, environment, config_dir, tmp_path
):
    original = describe_tree(config_dir)
    exported = service.export_backup(
        service.create_backup("billing", name="golden").id, tmp_path / "golden.envops.zip"
    )
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    seen: list[Progress] = []
    checked = service.check_configuration_file(exported)
    env = service.import_configuration_file(
        "billing", checked, backup_first=True, progress=seen.append
    )
    assert describe_tree(config_dir) == original
    assert env.status is EnvironmentStatus.READY
    assert seen[-1].done == seen[-1].total > 0
    # The backup first is taken last, just before the swap: the newest.
    first, imported, _golden = service.list_backups("billing")
    assert (imported.origin, imported.name) == (BackupOrigin.IMPORTED, "golden")
    assert first.origin is BackupOrigin.PRE_RESTORE
    assert service.activity("billing")[0].action is ActivityAction.CONFIGURATION_IMPORTED
    service.restore_backup("billing", first.id)  # what was there before is kept
    assert describe_tree(config_dir) == messed
    service.restore_backup("billing", imported.id)  # and so is the file, as a backup
    assert describe_tree(config_dir) == original
    assert service.check_store().healthy


def test_a_configuration_file_lets_go_of_its_entries_once_read_and_once_discarded(
    service, environment, config_dir, tmp_path
):
    # Left to the last reference, on the window's thread once the upload's worker was let
    # go of, 200,000 entries were freed in one call: 45 ms with the window held. Let go of
    # on the worker, a part at a time, whether the file was uploaded or imported in one pass.
    original = describe_tree(config_dir)
    exported = service.export_backup(
        service.create_backup("billing").id, tmp_path / "billing.envops.zip"
    )
    uploaded = service.check_configuration_file(exported)
    assert uploaded.members

    staged = service.stage_configuration_file(uploaded)
    assert uploaded.members == {}
    mess_up(config_dir)
    service.import_configuration("billing", staged)
    assert describe_tree(config_dir) == original
    service.discard_staged_configuration(staged)
    assert staged.manifest.entries == []

    imported = service.check_configuration_file(exported)
    mess_up(config_dir)
    service.import_configuration_file("billing", imported)
    assert imported.members == {}
    assert describe_tree(config_dir) == original


def test_import_of_a_file_whose_stored_content_was_deleted_since_upload_changes_nothing(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    exported = service.export_backup(backup.id, tmp_path / "c.zip")
    staged = service.stage_configuration_file(exported)  # all of it found in the store
    service.delete_backup(backup.id)  # and now gone from it
    service.empty_bin()
    mess_up(config_dir)
    messed = describe_tree(config_dir)
    with pytest.raises(OperationFailedError, match="upload the file again"):
        service.import_configuration("billing", staged)
    service.discard_staged_configuration(staged)
    assert describe_tree(config_dir) == messed
    assert service.list_backups("billing") == []
    assert service.get_environment("billing").status is EnvironmentStatus.READY
    import_file(service, "billing", exported)  # uploaded again, it goes through
    assert service.check_store().healthy


def test_exported_file_is_a_plain_zip_with_manifest_and_config_folder(
    service, environment, tmp_path
):
    backup = service.create_backup("billing")
    exported = service.export_backup(backup.id, tmp_path / "out.zip")
    with zipfile.ZipFile(exported) as archive:
        names = set(archive.namelist())
    assert "manifest.json" in names
    assert "config/app.yaml" in names
    assert all(n == "manifest.json" or n.startswith("config/") for n in names)
    assert not (tmp_path / "out.zip.part").exists()


def test_import_replaces_contents_byte_for_byte(service, environment, config_dir, tmp_path):
    import_file(service, "billing", simple_configuration(tmp_path / "simple.zip"))
    assert sorted(p.relative_to(config_dir).as_posix() for p in config_dir.rglob("*")) == [
        "app.yaml",
        "conf.d",
        "conf.d/db.ini",
    ]
    assert (config_dir / "conf.d" / "db.ini").read_bytes() == b"[db]\nhost=replica\n"


def test_import_of_a_file_compressed_with_bzip2_still_works(
    service, environment, config_dir, tmp_path
):
    # Our exports are deflated, which the fast reader handles; other tools may use bzip2.
    app = b"server:\n  port: 8080\n" * 100
    path = write_configuration(
        tmp_path / "bz2.zip",
        manifest([file_entry("app.yaml", app)]),
        {"config/app.yaml": app},
        compression=zipfile.ZIP_BZIP2,
    )
    import_file(service, "billing", path)
    assert (config_dir / "app.yaml").read_bytes() == app


def test_import_with_version_mismatch_changes_nothing(service, environment, config_dir, tmp_path):
    before = describe_tree(config_dir)
    staged = service.stage_configuration_file(simple_configuration(tmp_path / "v5.zip", "5.0"))
    with pytest.raises(VersionMismatchError, match=r"The configuration file is version 5\.0 "):
        service.import_configuration("billing", staged)
    assert describe_tree(config_dir) == before
    assert service.list_backups("billing") == []


def test_import_into_a_vanished_environment_is_refused(service, environment, config_dir, tmp_path):
    staged = service.stage_configuration_file(simple_configuration(tmp_path / "ok.zip"))
    os.rename(config_dir, config_dir.with_name("moved"))
    with pytest.raises(NotFoundError, match="does not exist"):
        service.import_configuration("billing", staged)


def test_external_links_are_accepted_only_when_allowed(service, environment, config_dir, tmp_path):
    path = write_configuration(
        tmp_path / "link.zip", manifest([link_entry("passwd", "/etc/passwd")]), {}
    )
    with pytest.raises(InvalidConfigurationFileError, match="'passwd' points outside"):
        service.stage_configuration_file(path)
    import_file(service, "billing", path, allow_external_links=True)
    assert os.readlink(config_dir / "passwd") == "/etc/passwd"


def _bomb(tmp_path: Path) -> Path:
    """Two files of zeros, 1.2 GiB in all, deflated a thousand times: over the whole
    archive, a zip bomb (each file alone is under the limit)."""
    part = 600 << 20
    sha = hashlib.sha256()
    block = bytes(1 << 20)
    for _ in range(part >> 20):
        sha.update(block)
    entry = {"kind": "file", "mode": 0o644, "size": part, "mtime_ns": 10**18}
    entries = [{**entry, "path": name, "sha256": sha.hexdigest()} for name in ("a", "b")]
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("a", "b"):
            with archive.open(f"config/{name}", "w", force_zip64=True) as member:
                for _ in range(part >> 20):
                    member.write(block)
        archive.writestr("manifest.json", json.dumps(manifest(entries)))
    return path


def _lying_size(tmp_path: Path) -> Path:
    """The zip's own headers declare far fewer bytes than the entry really holds."""
    real = os.urandom(300_000)
    claimed = real[:100]
    path = write_configuration(
        tmp_path / "liar.zip",
        manifest([file_entry("data.bin", claimed)]),
        {"config/data.bin": real},
    )
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = raw.find(signature)
        raw[at + offset : at + offset + 4] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    return path


def _truncated(tmp_path: Path) -> Path:
    path = simple_configuration(tmp_path / "whole.zip")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _encrypted(tmp_path: Path) -> Path:
    """The entry's flags say it is encrypted in both headers, as a locked zip's are."""
    path = write_configuration(
        tmp_path / "locked.zip", manifest([file_entry("app.yaml", APP)]), {"config/app.yaml": APP}
    )
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
        at = raw.find(signature)
        raw[at + offset] |= 0x01
    path.write_bytes(bytes(raw))
    return path


def _not_a_zip(tmp_path: Path) -> Path:
    path = tmp_path / "picture.zip"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(1000))
    return path


APP = b"port: 1\n"

HOSTILE = {
    "dot-dot entry": (
        lambda t: write_configuration(
            t / "f.zip",
            manifest([file_entry("app.yaml", APP)]),
            {"config/app.yaml": APP, "config/../../evil": APP},
        ),
        "climbs out of the environment",
    ),
    "absolute entry": (
        lambda t: write_configuration(t / "f.zip", manifest([]), {"/etc/cron.d/evil": APP}),
        "is an absolute path",
    ),
    "backslash entry": (
        lambda t: write_configuration(t / "f.zip", manifest([]), {"config\\..\\evil": APP}),
        "outside the config/ folder",
    ),
    "dot-dot in manifest": (
        lambda t: write_configuration(t / "f.zip", manifest([file_entry("../x", APP)]), {}),
        "climbs out",
    ),
    "link out of the environment": (
        lambda t: write_configuration(
            t / "f.zip", manifest([link_entry("shadow", "../../../etc/shadow")]), {}
        ),
        "points outside the environment",
    ),
    "link stored inside the zip": (
        lambda t: write_configuration(
            t / "f.zip", manifest([]), {"config/evil": b"/etc/passwd"}, file_type=stat.S_IFLNK
        ),
        "is a link stored as a file",
    ),
    "hard link": (
        lambda t: write_configuration(
            t / "f.zip",
            manifest([{**file_entry("x", APP), "kind": "hardlink", "target": "/etc/passwd"}]),
            {},
        ),
        "manifest.json is invalid at entries.0.kind",
    ),
    "device file": (
        lambda t: write_configuration(
            t / "f.zip",
            manifest([file_entry("sda", APP)]),
            {"config/sda": APP},
            file_type=stat.S_IFBLK,
        ),
        "device file, FIFO or socket",
    ),
    "device in manifest": (
        lambda t: write_configuration(
            t / "f.zip", manifest([{**dir_entry("disk"), "kind": "blockdev"}]), {}
        ),
        "is invalid at entries.0.kind",
    ),
    "a backup name that forges a line": (
        lambda t: write_configuration(
            t / "f.zip",
            manifest([file_entry("app.yaml", APP)], backup_name="golden\nroot  restore  ok"),
            {"config/app.yaml": APP},
        ),
        "manifest.json is invalid at backup_name",
    ),
    "duplicate entries": (
        lambda t: _write_twice(t / "f.zip"),
        "appears more than once",
    ),
    "duplicate manifest paths": (
        lambda t: write_configuration(
            t / "f.zip", manifest([file_entry("a", APP), file_entry("a", APP)]), {"config/a": APP}
        ),
        "lists 'a' twice",
    ),
    "checksum mismatch": (
        lambda t: write_configuration(
            t / "f.zip", manifest([file_entry("app.yaml", APP)]), {"config/app.yaml": b"port: 2\n"}
        ),
        "does not match its checksum",
    ),
    "size disagrees with manifest": (
        lambda t: write_configuration(
            t / "f.zip", manifest([file_entry("app.yaml", APP)]), {"config/app.yaml": APP * 2}
        ),
        "bytes in the archive but",
    ),
    # What an entry's metadata could smuggle in, each refused before anything is written.
    "owner id out of range": (
        lambda t: _with_meta(t, {"uid": -1}),
        "is invalid at entries.0.meta.uid",
    ),
    "owner name with control characters": (
        lambda t: _with_meta(t, {"user": "root\x1b[2K"}),
        "is invalid at entries.0.meta.user",
    ),
    "extended attribute not base64": (
        lambda t: _with_meta(t, {"xattrs": {"user.note": "not base64!"}}),
        "is not base64",
    ),
    "extended attribute without a namespace": (
        lambda t: _with_meta(t, {"xattrs": {"note": ""}}),
        "extended attribute name 'note' is not valid",
    ),
    "hardlink climbing out": (
        lambda t: _with_meta(t, {"hardlink": "../../etc/shadow"}),
        "climbs out of the environment",
    ),
    "holes past the file's end": (
        lambda t: _with_meta(t, {"data": [[0, 4], [64, 4096]]}),
        "has data past its size",
    ),
    "holes out of order": (
        lambda t: _with_meta(t, {"data": [[4, 1], [0, 2]]}),
        "overlap or are out of order",
    ),
    "zip bomb by ratio": (_bomb, "zip bomb"),
    "zip bomb by lying sizes": (_lying_size, "damaged"),
    "truncated zip": (_truncated, "truncated or damaged"),
    "encrypted entry": (_encrypted, "encrypted or compressed in a way EnvOps cannot read"),
    "not a zip": (_not_a_zip, "nor a zip or tar archive"),
    # With no manifest it is an archive another tool made, under the same path rules.
    "no manifest, a path climbing out": (
        lambda t: write_configuration(t / "f.zip", None, {"config/../../app.yaml": APP}),
        "climbs out of the environment",
    ),
    "manifest not json": (
        lambda t: write_configuration(t / "f.zip", b"{not json", {}),
        "not valid JSON",
    ),
    "manifest fails the schema": (
        lambda t: write_configuration(t / "f.zip", {"format": "envops-configuration"}, {}),
        "manifest.json is invalid",
    ),
    "version with control characters": (
        lambda t: write_configuration(t / "f.zip", manifest([], version="4.2.0\x1b[2K"), {}),
        "manifest.json is invalid",
    ),
    "newer format version": (
        lambda t: write_configuration(t / "f.zip", manifest([], format_version=9), {}),
        "newer than this EnvOps reads",
    ),
    "one name spelled two ways": (
        lambda t: write_configuration(
            t / "f.zip",
            # The bytes of "é", once as UTF-8 and once as the escapes of bytes that are not:
            # one file on disk under two paths of the manifest.
            manifest([file_entry("é", APP), file_entry("\udcc3\udca9", APP)], format_version=2),
            {"config/é": APP, "config/\\xc3\\xa9": APP},
        ),
        "is not a name as this system spells its bytes",
    ),
    "member name escaped wrongly": (
        lambda t: write_configuration(
            t / "f.zip",
            manifest([file_entry("a\\q", APP)], format_version=2),
            {"config/a\\q": APP},  # a backslash escapes nothing in a name of version 2
        ),
        "has a name escaped wrongly",
    ),
    "file missing from the archive": (
        lambda t: write_configuration(t / "f.zip", manifest([file_entry("a", APP)]), {}),
        "in the manifest but not in the archive",
    ),
    "file not in the manifest": (
        lambda t: write_configuration(t / "f.zip", manifest([]), {"config/extra": APP}),
        "not listed in the manifest",
    ),
    "entry outside config": (
        lambda t: write_configuration(t / "f.zip", manifest([]), {"scripts/run.sh": APP}),
        "outside the config/ folder",
    ),
    "write through a link": (
        lambda t: write_configuration(
            t / "f.zip",
            manifest([link_entry("etc", "."), file_entry("etc/passwd", APP)]),
            {"config/etc/passwd": APP},
        ),
        "is inside a link",
    ),
    "missing parent folder": (
        lambda t: write_configuration(
            t / "f.zip", manifest([file_entry("deep/x", APP)]), {"config/deep/x": APP}
        ),
        "not in a listed folder",
    ),
}


def _with_meta(tmp_path: Path, meta: dict) -> Path:
    entry = {**file_entry("app.yaml", APP), "meta": meta}
    return write_configuration(tmp_path / "f.zip", manifest([entry]), {"config/app.yaml": APP})


def _write_twice(path: Path) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")
        archive.writestr("config/app.yaml", APP)
        archive.writestr("config/app.yaml", b"second")
        archive.writestr("manifest.json", json.dumps(manifest([file_entry("app.yaml", APP)])))
    return path


def _stage(service: EnvOpsService, path: Path) -> None:
    service.stage_configuration_file(path)


def _import_in_one_pass(service: EnvOpsService, path: Path) -> None:
    # Asking for a backup first: a refused file must not leave even that behind.
    checked = service.check_configuration_file(path)
    service.import_configuration_file("billing", checked, backup_first=True)


@pytest.mark.parametrize("take_in", [_stage, _import_in_one_pass], ids=["staged", "one pass"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_configuration_file_is_refused_and_changes_nothing(
    case, take_in, service, environment, config_dir, tmp_path
):
    build, reason = HOSTILE[case]
    hostile = build(tmp_path)
    before = describe_tree(config_dir)
    objects_before = sorted((tmp_path / "data" / "objects").rglob("*"))
    activity_before = service.activity("billing")
    with pytest.raises(InvalidConfigurationFileError) as refused:
        take_in(service, hostile)
    message = str(refused.value)
    assert reason in message
    assert message.startswith(f"{hostile.name} was refused: ") and message.endswith(".")
    assert "\n" not in message
    assert refused.value.exit_code == 5
    assert describe_tree(config_dir) == before
    assert sorted((tmp_path / "data" / "objects").rglob("*")) == objects_before
    assert list((tmp_path / "data" / "staging").iterdir()) == []
    assert service.list_backups("billing") == []  # not even the one asked for first
    assert service.get_environment("billing").status is EnvironmentStatus.READY
    assert service.activity("billing") == activity_before
    assert [p.name for p in config_dir.parent.iterdir()] == [config_dir.name]


def test_names_that_are_not_utf8_export_and_import_byte_for_byte(
    service, environment, config_dir, tmp_path
):
    latin1 = os.fsdecode(b"caf\xe9")
    (config_dir / f"{latin1}.conf").write_text("old tool's file\n")
    (config_dir / os.fsdecode(b"d\xff")).mkdir()
    (config_dir / os.fsdecode(b"d\xff") / "back\\slash").write_text("x\n")
    os.link(config_dir / f"{latin1}.conf", config_dir / os.fsdecode(b"twin\xfe"))
    os.symlink(f"{latin1}.conf", config_dir / "to-cafe")
    backup = service.create_backup("billing")
    exported = tmp_path / "billing.envops.zip"
    service.export_backup(backup.id, exported)

    with zipfile.ZipFile(exported) as archive:
        document = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
    assert document["format_version"] == 2  # an older EnvOps says it cannot read it
    assert "config/caf\\xe9.conf" in names and "config/d\\xff/back\\\\slash" in names
    other = tmp_path / "other"
    other.mkdir()
    service.add_environment("other", other, version="4.2.0")
    import_file(service, "other", exported, keep_privileges=AS_ROOT)

    assert rsync_differences(config_dir, other, "--delete", "-c") == []


def test_a_file_whose_names_are_all_utf8_stays_in_the_format_every_version_reads(
    service, environment, tmp_path
):
    exported = tmp_path / "billing.envops.zip"
    service.export_backup(service.create_backup("billing").id, exported)
    with zipfile.ZipFile(exported) as archive:
        assert json.loads(archive.read("manifest.json"))["format_version"] == 1


def test_a_symlink_of_two_names_exports_in_format_3_and_imports_linked(
    service, environment, config_dir, tmp_path
):
    # As `cp -al` leaves them: an EnvOps that reads format 2 would refuse the second name's
    # hardlink, so the file says it needs 3 and that EnvOps asks to be updated instead.
    os.link(config_dir / "db.ini", config_dir / "conf.d" / "db.ini", follow_symlinks=False)
    exported = tmp_path / "billing.envops.zip"
    service.export_backup(service.create_backup("billing").id, exported)
    with zipfile.ZipFile(exported) as archive:
        document = json.loads(archive.read("manifest.json"))
    other = tmp_path / "other"
    other.mkdir()
    service.add_environment("other", other, version="4.2.0")

    import_file(service, "other", exported, keep_privileges=AS_ROOT)

    assert document["format_version"] == 3
    assert rsync_differences(config_dir, other, "--delete", "-c") == []
    assert os.path.samestat(os.lstat(other / "db.ini"), os.lstat(other / "conf.d" / "db.ini"))


def test_import_of_a_real_tree_matches_after_mess(service, environment, config_dir, tmp_path):
    make_config_tree(tmp_path / "source", files=50)
    source_env = service.add_environment("source", tmp_path / "source", version="4.2.0")
    backup = service.create_backup(source_env.name)
    exported = service.export_backup(backup.id, tmp_path / "source.zip")
    mess_up(config_dir)
    import_file(service, "billing", exported)
    expected = describe_tree(tmp_path / "source")
    actual = describe_tree(config_dir)
    expected.pop(".")
    actual.pop(".")
    assert actual == expected


def _packs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "data" / "objects" / "packs").iterdir())


def test_export_of_a_damaged_store_is_refused_naming_the_file(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    for pack in _packs(tmp_path):
        data = bytearray(pack.read_bytes())
        data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of the pack
        pack.write_bytes(bytes(data))
    target = tmp_path / "out.envops.zip"
    with pytest.raises(OperationFailedError, match=r"is damaged .*so out.envops.zip was not"):
        service.export_backup(backup.id, target)
    assert not target.exists() and not target.with_name(target.name + ".part").exists()


def test_export_of_a_missing_content_names_the_file_not_none(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    for pack in _packs(tmp_path):
        pack.unlink()
    target = tmp_path / "out.envops.zip"
    with pytest.raises(OperationFailedError) as refused:
        service.export_backup(backup.id, target)
    assert "is missing from the backup store" in str(refused.value)
    assert "None" not in str(refused.value)
    assert not target.exists()


@needs_root_to_mount
def test_an_export_onto_a_disk_that_fills_up_names_that_disk_and_leaves_no_part_file(
    service, environment, config_dir, tmp_path
):
    (config_dir / "firmware.bin").write_bytes(os.urandom(3 << 20))  # no room for it there
    backup = service.create_backup("billing")
    with small_disk(tmp_path / "usb", "1m") as usb:
        target = usb / "billing.envops.zip"
        with pytest.raises(OperationFailedError) as refused:
            service.export_backup(backup.id, target)
        left = list(usb.iterdir())

    assert str(refused.value) == (
        f"Cannot write {target}: the disk that holds {usb} is full. Free some room there and "
        "try again."
    )
    assert left == []


def test_what_export_writes_its_import_accepts(service, environment, config_dir, tmp_path):
    # Each was refused once: a backslash in a name, files that deflate a thousand times, a
    # name that begins as a drive letter does (`a:b`, `C:`), a link to either name.
    (config_dir / "run\\me.sh").write_text("#!/bin/sh\n")
    (config_dir / "a:b").write_text("colon\n")
    (config_dir / "C:").mkdir()
    (config_dir / "C:" / "boot.ini").write_text("[boot loader]\n")
    os.symlink("a:b", config_dir / "to-colon")
    os.symlink("run\\me.sh", config_dir / "to-backslash")
    # A time a zip header cannot hold (it crashed the export past 2107), and an extended
    # attribute whose name is not UTF-8, on a file and on the folder itself (it crashed the
    # writing of the list of files).
    (config_dir / "from-2250.conf").write_text("later\n")
    os.utime(config_dir / "from-2250.conf", ns=(8_836_000_000 * 10**9,) * 2)
    (config_dir / "from-1901.conf").write_text("earlier\n")
    os.utime(config_dir / "from-1901.conf", ns=(-2_177_452_800 * 10**9,) * 2)
    for where in (config_dir / "app.yaml", config_dir):
        os.setxattr(where, b"user.caf\xe9", b"latin-1")
    (config_dir / "zeros.bin").write_bytes(bytes(2 << 20))
    with open(config_dir / "disk.img", "wb") as sparse:
        sparse.truncate(64 << 20)
    before = describe_tree(config_dir)
    exported = service.export_backup(service.create_backup("billing").id, tmp_path / "b.zip")
    mess_up(config_dir)
    os.removexattr(config_dir, b"user.caf\xe9")

    import_file(service, "billing", exported)

    assert describe_tree(config_dir) == before
    for where in (config_dir / "app.yaml", config_dir):
        assert os.getxattr(where, b"user.caf\xe9") == b"latin-1"


def test_an_uploaded_files_content_is_read_whether_staged_or_already_stored(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    exported = service.export_backup(backup.id, tmp_path / "billing.envops.zip")
    # The export's contents are all in the store already; the other file's are new, staged.
    other = simple_configuration(tmp_path / "other.zip")
    for upload, path in ((exported, "app.yaml"), (other, "app.yaml")):
        staged = service.stage_configuration_file(upload)
        try:
            with zipfile.ZipFile(upload) as archive:
                expected = archive.read("config/" + path)
            sample = service.staged_file(staged, path)
            assert sample is not None and (sample.head, sample.size) == (expected, len(expected))
            assert service.staged_file(staged, "no/such/file") is None
        finally:
            service.discard_staged_configuration(staged)


def test_one_file_is_saved_whole_from_a_backup_or_an_upload_or_not_at_all(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    upload = simple_configuration(tmp_path / "other.zip")
    staged = service.stage_configuration_file(upload)
    kept = tmp_path / "kept.yaml"
    kept.write_text("what was there\n")
    try:
        service.save_backup_file(backup.id, "app.yaml", tmp_path / "from-backup.yaml")
        service.save_staged_file(staged, "app.yaml", tmp_path / "from-upload.yaml")
        with pytest.raises(NotFoundError, match="nothing was saved"):
            service.save_staged_file(staged, "conf.d", kept)  # a folder: no content
        with pytest.raises(OperationFailedError, match=r"could not be written.*nothing was saved"):
            service.save_backup_file(backup.id, "app.yaml", tmp_path / "no such folder" / "a")
    finally:
        service.discard_staged_configuration(staged)

    assert (tmp_path / "from-backup.yaml").read_bytes() == (config_dir / "app.yaml").read_bytes()
    with zipfile.ZipFile(upload) as archive:
        assert (tmp_path / "from-upload.yaml").read_bytes() == archive.read("config/app.yaml")
    assert kept.read_text() == "what was there\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".envops-part")]


def _current_umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def test_a_saved_file_is_no_more_open_than_its_original_and_one_saved_over_keeps_its_own(
    service, environment, config_dir, tmp_path
):
    # Saved with the default 0666 less the umask: a password file kept 0600 came out
    # readable by every user, and a file saved over lost its permissions and owner.
    (config_dir / "secret.ini").write_text("password = hunter2\n")
    (config_dir / "secret.ini").chmod(0o600)
    (config_dir / "restart.sh").write_text("#!/bin/sh\nsystemctl restart billing\n")
    (config_dir / "restart.sh").chmod(0o4755)
    backup = service.create_backup("billing")
    staged = service.stage_configuration_file(
        service.export_backup(backup.id, tmp_path / "billing.envops.zip")
    )
    kept = tmp_path / "kept.sh"
    kept.write_text("what was there\n")
    kept.chmod(0o640)
    if AS_ROOT:
        os.chown(kept, 1234, 4321)
    try:
        service.save_backup_file(backup.id, "secret.ini", tmp_path / "secret.ini")
        service.save_staged_file(staged, "secret.ini", tmp_path / "uploaded-secret.ini")
        service.save_backup_file(backup.id, "restart.sh", tmp_path / "restart.sh")
        service.save_staged_file(staged, "restart.sh", kept)
    finally:
        service.discard_staged_configuration(staged)

    def permissions(name: str) -> int:
        return stat.S_IMODE((tmp_path / name).stat().st_mode)

    assert permissions("secret.ini") == permissions("uploaded-secret.ini") == 0o600
    assert permissions("restart.sh") == 0o755 & ~_current_umask()  # as cp: no setuid
    assert kept.read_bytes() == (config_dir / "restart.sh").read_bytes()
    assert permissions("kept.sh") == 0o640
    if AS_ROOT:
        assert (kept.stat().st_uid, kept.stat().st_gid) == (1234, 4321)


def test_a_file_saved_over_a_link_goes_where_the_link_leads_and_the_link_stays(
    service, environment, config_dir, tmp_path
):
    backup = service.create_backup("billing")
    (tmp_path / "run").mkdir()
    kept = tmp_path / "run" / "app.yaml"
    kept.write_text("what was there\n")
    kept.chmod(0o640)
    if AS_ROOT:
        os.chown(kept, 1234, 4321)
    (tmp_path / "etc").mkdir()
    link = tmp_path / "etc" / "app.yaml"
    link.symlink_to("../run/app.yaml")  # as /etc/resolv.conf often is
    chain = tmp_path / "etc" / "again.yaml"
    chain.symlink_to("app.yaml")

    service.save_backup_file(backup.id, "app.yaml", chain)

    assert os.readlink(link) == "../run/app.yaml" and os.readlink(chain) == "app.yaml"
    assert kept.read_bytes() == (config_dir / "app.yaml").read_bytes()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    if AS_ROOT:
        assert (kept.stat().st_uid, kept.stat().st_gid) == (1234, 4321)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".envops-part")]


def test_peeking_at_a_pipe_names_no_environment_and_does_not_wait(pipe_named_like_an_archive):
    # The window peeks at a file it is opened with, on its own thread.
    assert peek_environment_name(pipe_named_like_an_archive.path) is None
    time.sleep(1)  # two rounds of the writer: long enough to find a reader left waiting
    assert pipe_named_like_an_archive.opened_to_read == 0


@pytest.mark.skipif(not COUNTED, reason="Linux counts bytes read")
def test_the_window_finds_the_environment_an_export_names_reading_kilobytes_of_it(
    service, tmp_path
):
    # Read on the window's thread as the app opens a file: not 5,000 files' directory
    # (`zipfile` reads all of it to open the file: 1.5 s for 200,000) nor their manifest.
    root = tmp_path / 'eu "billing"'
    make_config_tree(root, files=5000)
    service.add_environment('eu "billing"', root, version="4.2.0")
    exported = service.export_backup(
        service.create_backup('eu "billing"').id, tmp_path / "eu.envops.zip"
    )
    with zipfile.ZipFile(exported) as archive:
        assert exported.stat().st_size - archive.start_dir > 300_000

    before = io_count("rchar")
    assert peek_environment_name(exported) == 'eu "billing"'
    assert io_count("rchar") - before <= 16 * 1024


def test_a_file_imports_at_the_version_its_copy_of_the_version_file_says(
    service, environment, config_dir, tmp_path
):
    # billing keeps no version file: its exports' manifests say what billing was told.
    (config_dir / "VERSION").write_text("5.0.0\n")
    newer = tmp_path / "newer.envops.zip"
    service.export_backup(service.create_backup("billing").id, newer)
    (config_dir / "VERSION").write_text("4.2.0\n")
    service.update_environment_version("billing", "9.9")
    labelled = tmp_path / "labelled.envops.zip"
    service.export_backup(service.create_backup("billing").id, labelled)
    test_dir = tmp_path / "test"
    make_config_tree(test_dir)
    service.add_environment("test", test_dir, version_file="VERSION")  # 4.2.0
    before = describe_tree(test_dir)

    with pytest.raises(VersionMismatchError, match=r"version 5\.0\.0 but test runs version 4"):
        service.import_configuration_file("test", service.check_configuration_file(newer))
    with pytest.raises(VersionMismatchError, match=r"version 5\.0\.0"):
        import_file(service, "test", newer)
    assert describe_tree(test_dir) == before
    # Labelled 9.9 for billing, but what test would run is its VERSION's 4.2.0.
    import_file(service, "test", labelled)
    assert service.list_backups("test")[0].version == "4.2.0"
    assert service.get_environment("test").version == "4.2.0"
