"""Random edits of every kind to a tree of every kind, then a restore, whole or of random
paths, with random excludes, of the environment's own backup or another's: its preview
names exactly what changes, and what is not chosen or excluded stays as it was. A
comparison of two backups, or of one with the folder now, names exactly what differs.

Seeded, so a failure names the seed that makes it again. rsync is the judge, comparing
contents too (`-c`): an edit that keeps a file's size and time is a change all the same.
"""

import os
import random
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from envops_desktop.domain.errors import InvalidInputError, PreviewOutOfDateError
from envops_desktop.service import scanning
from tests.trees import (
    changed_by_rsync,
    itemized_by_rsync,
    made_long_ago,
    make_tree_of_every_kind,
    needs_rsync,
    posix_acl,
    rsync_differences,
    snapshot,
)

pytestmark = [pytest.mark.reliability, needs_rsync]

AS_ROOT = os.geteuid() == 0
SEEDS = range(60)


def _grown(path: Path, rng: random.Random) -> None:
    with open(path, "ab") as f:
        f.write(os.urandom(rng.randint(1, 70_000)))


def _shortened(path: Path, _rng: random.Random) -> None:
    os.truncate(path, path.lstat().st_size // 2)


def _edited_keeping_size_and_time(path: Path, _rng: random.Random) -> None:
    st = path.lstat()
    data = bytearray(path.read_bytes() or b"\0")
    data[0] ^= 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _mode_changed(path: Path, rng: random.Random) -> None:
    modes = [0o600, 0o644, 0o755, 0o4755] if path.is_file() else [0o700, 0o755, 0o2775]
    os.chmod(path, rng.choice(modes))


def _hardlinked(path: Path, _rng: random.Random) -> None:
    os.link(path, f"{path}.link", follow_symlinks=False)


def _emptied(path: Path, _rng: random.Random) -> None:
    os.truncate(path, 0)


def _tagged_trusted(path: Path, _rng: random.Random) -> None:
    # An attribute only root may set, which a restore into another environment drops.
    os.setxattr(path, "trusted.edited", os.urandom(3), follow_symlinks=False)


def _copied_over_its_link(path: Path, _rng: random.Random) -> None:
    data = path.read_bytes()  # a copy in place of one name of a hardlinked file
    path.unlink()
    path.write_bytes(data)


def _moved(path: Path, _rng: random.Random) -> None:
    os.rename(path, f"{path}.moved")


def _tagged(path: Path, _rng: random.Random) -> None:
    os.setxattr(path, "user.edited", os.urandom(4))


def _untagged(path: Path, _rng: random.Random) -> None:
    for name in os.listxattr(path):
        if name.startswith("user."):
            os.removexattr(path, name)
            return


def _given_an_acl(path: Path, rng: random.Random) -> None:
    uid = rng.choice([1, 2, 4242])
    os.setxattr(path, "system.posix_acl_access", posix_acl(6, 4, uid, 4, 4, 4))


def _given_a_default_acl(path: Path, _rng: random.Random) -> None:
    os.setxattr(path, "system.posix_acl_default", posix_acl(7, 5, 1, 5, 5, 5))


def _file_to_folder(path: Path, _rng: random.Random) -> None:
    path.unlink()
    path.mkdir()
    (path / "inner.conf").write_text("now a folder\n")


def _folder_to_file(path: Path, _rng: random.Random) -> None:
    shutil.rmtree(path)
    path.write_text("now a file\n")


def _link_to_file(path: Path, _rng: random.Random) -> None:
    path.unlink()
    path.write_text("was a link\n")


def _taken_away(path: Path) -> None:
    """Whatever is at `path` gone: a folder with all it holds, a link (to a folder too)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _replaced_by_a_link(path: Path, rng: random.Random) -> None:
    _taken_away(path)
    os.symlink(rng.choice(["app.yaml", "../outside", "nowhere"]), path)


def _replaced_by_a_device(path: Path, _rng: random.Random) -> None:
    _taken_away(path)
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))


def _device_made(path: Path, rng: random.Random) -> None:
    os.mknod(path / f"tty{rng.randint(0, 99)}", 0o620 | stat.S_IFCHR, os.makedev(5, 0))


def devices_excluded(*roots: Path) -> list[str]:
    """rsync options that leave out the device files under `roots`: no backup holds one,
    and a restore leaves each as it is unless it takes it away (as the preview says)."""
    return [
        f"--exclude=/{path.relative_to(root)}"
        for root in roots
        for path in root.rglob("*")
        if stat.S_ISCHR(path.lstat().st_mode) or stat.S_ISBLK(path.lstat().st_mode)
    ]


def _without_devices(root: Path) -> Path:
    """`root` without its device files, its folders' times as they were."""
    for path in list(root.rglob("*")):
        if stat.S_ISCHR(path.lstat().st_mode) or stat.S_ISBLK(path.lstat().st_mode):
            folder = path.parent.lstat()
            path.unlink()
            os.utime(path.parent, ns=(folder.st_atime_ns, folder.st_mtime_ns))
    return root


def _new_folders(path: Path, rng: random.Random) -> None:
    new = path / f"new{rng.randint(0, 999)}"
    (new / "a" / "b").mkdir(parents=True, exist_ok=True)
    (new / "a" / "f.conf").write_text("new\n")
    (new / "empty").mkdir(exist_ok=True)


def _new_name_not_utf8(path: Path, rng: random.Random) -> None:
    name = os.path.join(os.fsencode(path), b"caf\xe9.%d" % rng.randint(0, 99))
    Path(os.fsdecode(name)).write_text("latin-1\n")


def _touched(path: Path, rng: random.Random) -> None:
    st = path.lstat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + rng.randint(1, 10**9)))


def _owner_changed(path: Path, rng: random.Random) -> None:
    os.lchown(path, rng.choice([0, 1, 2, 4242]), rng.choice([0, 1, 42]))


FILE, FOLDER, LINK, OTHER = "file", "folder", "link", "other"
AROUND = "the folder around"  # the environment's own folder's, such as /srv
Edit = Callable[[Path, random.Random], None]
# Each edit, and the kinds of entry it applies to.
EDITS: list[tuple[Edit, tuple[str, ...]]] = [
    (_grown, (FILE,)),
    (_shortened, (FILE,)),
    (_edited_keeping_size_and_time, (FILE,)),
    (_mode_changed, (FILE, FOLDER, OTHER)),
    (_hardlinked, (FILE, LINK, OTHER)),
    (_emptied, (FILE,)),
    (_copied_over_its_link, (FILE,)),
    (_moved, (FILE, LINK, OTHER, FOLDER)),
    (_tagged, (FILE, FOLDER)),
    (_untagged, (FILE, FOLDER)),
    (_given_an_acl, (FILE, FOLDER)),
    (_given_a_default_acl, (FOLDER, AROUND)),
    (_file_to_folder, (FILE,)),
    (_folder_to_file, (FOLDER,)),
    (_link_to_file, (LINK,)),
    (_replaced_by_a_link, (FILE, FOLDER, OTHER)),
    (_new_folders, (FOLDER,)),
    (_new_name_not_utf8, (FOLDER,)),
    (_touched, (FILE, FOLDER, OTHER)),
    *(
        [(_owner_changed, (FILE, FOLDER, LINK, OTHER)), (_tagged_trusted, (FILE, FOLDER, LINK))]
        if AS_ROOT
        else []
    ),
    *(
        [(_replaced_by_a_device, (FILE, FOLDER, LINK)), (_device_made, (FOLDER,))]
        if AS_ROOT
        else []
    ),
]


def _kind(path: Path, root: Path) -> str:
    if path == root.parent:
        return AROUND
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        return LINK
    if stat.S_ISDIR(mode):
        return FOLDER
    return FILE if stat.S_ISREG(mode) else OTHER


def edit_at_random(root: Path, rng: random.Random, edits: int) -> list[str]:
    """Make `edits` random edits under `root` (and to the folder around it, a default ACL);
    what each was, for a failure's message."""
    done: list[str] = []
    while len(done) < edits:
        path = rng.choice([root.parent, *sorted(root.rglob("*"))])
        edit, kinds = rng.choice(EDITS)
        if _kind(path, root) not in kinds or (
            edit is _copied_over_its_link and path.lstat().st_nlink < 2
        ):
            continue
        try:
            edit(path, rng)
        except FileExistsError:  # a name an earlier edit made already
            continue
        done.append(f"{edit.__name__} {os.path.relpath(path, root)}")
    return done


def small_tree_of_every_kind(root: Path) -> Path:
    """`make_tree_of_every_kind` at `root`, but its two 256 MiB sparse files."""
    root.mkdir(parents=True)
    make_tree_of_every_kind(root, as_root=AS_ROOT)
    for big in ("sparse.img", "all-hole.img"):
        (root / big).unlink()
    return root


def _perhaps_some_of(changes, rng: random.Random) -> list[str] | None:
    """Three times in ten, a random half or less of the paths `changes` names (not the
    folder itself), for a selective restore; else None, for a whole one."""
    paths = sorted(change.path for change in changes if change.path != ".")
    if not paths or rng.random() >= 0.3:
        return None
    return rng.sample(paths, rng.randint(1, max(1, len(paths) // 2)))


@pytest.fixture
def mail(service, tmp_path):
    """A tree of every kind (but its 256 MiB sparse files) backed up as environment mail;
    its root, the backup, and a copy of the tree as backed up."""
    root = small_tree_of_every_kind(tmp_path / "srv" / "mail")
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")
    time.sleep(0.01)  # edits get times of their own
    return root, backup, snapshot(root, tmp_path / "as-backed-up")


def _same_but_hardlinked_names(preview: set[str], changed: set[str], root: Path) -> set[str]:
    """The preview's paths rsync does not list: rsync names one name of a hardlinked file
    whose content changed in place, the preview every name."""
    return {p for p in preview - changed if (root / p).is_file() and (root / p).stat().st_nlink > 1}


@pytest.mark.parametrize("seed", SEEDS)
def test_after_random_edits_a_restore_changes_exactly_what_its_preview_names(
    service, tmp_path, mail, seed
):
    root, backup, as_backed_up = mail
    rng = random.Random(seed)
    edits = edit_at_random(root, rng, rng.randint(1, 10))
    before = snapshot(root, tmp_path / "before")

    preview = {change.path for change in service.preview_restore("mail", backup.id).changes}
    service.restore_backup("mail", backup.id)

    changed = changed_by_rsync(before, root, "-c")
    assert preview - _same_but_hardlinked_names(preview, changed, root) == changed, edits
    devices = devices_excluded(root)
    assert rsync_differences(as_backed_up, root, "--delete", "-c", *devices) == [], edits


@pytest.mark.parametrize("seed", SEEDS[:40])
def test_edits_made_after_the_preview_stop_the_restore_or_leave_it_what_was_shown(
    service, tmp_path, mail, seed
):
    # What the user was shown (of the whole restore, or of random paths) holds, or the
    # restore is refused before anything changes.
    root, backup, _as_backed_up = mail
    rng = random.Random(seed)
    edits = edit_at_random(root, rng, rng.randint(1, 6))
    whole = service.preview_restore("mail", backup.id)
    only = _perhaps_some_of(whole.changes, rng)
    shown = service.preview_restore("mail", backup.id, only=only)
    named = {change.path for change in shown.changes}
    edits.append(edit_at_random(root, rng, rng.randint(0, 2)))
    before = snapshot(root, tmp_path / "before")
    story = (edits, only)

    try:
        service.restore_backup("mail", backup.id, only=only, previewed=whole)
    except PreviewOutOfDateError:
        assert changed_by_rsync(before, root, "-c") == set(), story
        return

    changed = changed_by_rsync(before, root, "-c")
    assert named - _same_but_hardlinked_names(named, changed, root) == changed, story


@pytest.mark.parametrize("seed", SEEDS)
def test_after_random_edits_an_import_of_the_backup_changes_exactly_what_its_preview_names(
    service, tmp_path, mail, seed
):
    # With or without the file's privileges: without them, what it records of owners and
    # of security and trusted attributes is not written, the folder's own owner included.
    root, backup, _as_backed_up = mail
    exported = service.export_backup(backup.id, tmp_path / "mail.envops")
    rng = random.Random(seed)
    privileges = rng.random() < 0.5
    excluded = rng.sample(EXCLUDES, rng.randint(0, 2))
    service.set_excludes("mail", [ours for ours, _ in excluded])
    edits = edit_at_random(root, rng, rng.randint(1, 8))
    before = snapshot(root, tmp_path / "before")
    story = (edits, excluded, privileges)

    checked = service.check_configuration_file(
        exported, allow_external_links=True, keep_privileges=privileges
    )
    preview = {change.path for change in service.preview_import("mail", checked).changes}
    service.import_configuration_file("mail", checked)

    changed = changed_by_rsync(before, root, "-c")
    assert preview - _same_but_hardlinked_names(preview, changed, root) == changed, story


@pytest.mark.parametrize("seed", SEEDS)
def test_after_random_edits_the_folder_is_modified_since_its_backup_when_rsync_finds_so(
    service, mail, seed
):
    root, _backup, as_backed_up = mail
    rng = random.Random(seed)
    edits = edit_at_random(root, rng, rng.randint(0, 3))

    modified = service.modified_since_backup("mail")

    # rsync -n cannot make way for a folder where a file was, and says so with exit code 23.
    found = subprocess.run(
        ["rsync", "-aHAXcn", "--itemize-changes", "--delete", "--modify-window=-1",
         *devices_excluded(as_backed_up, root), f"{as_backed_up}/", f"{root}/"],
        capture_output=True,
    )  # fmt: skip
    assert found.returncode in (0, 23), found.stderr
    assert modified is bool(found.stdout.strip()), (edits, found.stdout)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("window", [True, False], ids=["from-the-window", "from-the-cli"])
def test_after_random_edits_a_restore_of_random_paths_changes_just_those(
    service, tmp_path, mail, seed, window
):
    root, backup, as_backed_up = mail
    rng = random.Random(seed)
    edits = edit_at_random(root, rng, rng.randint(2, 10))
    before = snapshot(root, tmp_path / "before")
    whole = service.preview_restore("mail", backup.id)
    paths = sorted(change.path for change in whole.changes if change.path != ".")
    if not paths:  # edits that left all as it was (a mode set to the one it had)
        assert changed_by_rsync(before, as_backed_up, "-c") <= {"."}, edits
        return
    chosen = rng.sample(paths, rng.randint(1, max(1, len(paths) // 2)))
    # And some the edits left as they were: such a file may be one with a name not chosen.
    as_they_were = sorted({str(p.relative_to(root)) for p in root.rglob("*")} - set(paths))
    chosen += rng.sample(as_they_were, min(len(as_they_were), rng.randint(0, 3)))

    preview = {c.path for c in service.preview_restore("mail", backup.id, only=chosen).changes}
    service.restore_backup("mail", backup.id, only=chosen, previewed=whole if window else None)

    itemized = itemized_by_rsync(before, root, "-c")
    changed = set(itemized)
    assert preview - _same_but_hardlinked_names(preview, changed, root) == changed, (edits, chosen)
    # Beyond the chosen paths and what they hold, only folders made to hold them, and names
    # of a file that a chosen name now shares, as it does in the backup (rsync sees them
    # relinked, and nothing else).
    chosen_nodes = {os.lstat(root / p).st_ino for p in chosen if os.path.lexists(root / p)}
    for path in changed - {p for p in changed if _within(p, chosen)}:
        if itemized[path].rstrip() in ("hf", "hL", "hD", "hS"):
            assert os.lstat(root / path).st_ino in chosen_nodes, (path, edits, chosen)
            continue
        assert any(c.startswith(path + "/") for c in chosen), (path, edits, chosen)
        assert stat.S_ISDIR(os.lstat(root / path).st_mode), (path, edits, chosen)
    # A file brought back as it was is still one file with the names not chosen.
    for names in _names_of_each_file(before):
        if any(_within(n, chosen) and n not in preview for n in names):
            linked = {os.lstat(root / n).st_ino for n in names if not _within(n, chosen)}
            kept = {os.lstat(root / n).st_ino for n in names if n not in preview}
            assert len(kept) == 1 or not linked, (names, edits, chosen)


def _names_of_each_file(root: Path) -> list[list[str]]:
    """The names of each file under `root` that has more than one."""
    names: dict[int, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.lstat().st_nlink > 1:
            names.setdefault(path.lstat().st_ino, []).append(str(path.relative_to(root)))
    return [group for group in names.values() if len(group) > 1]


def _within(path: str, chosen: list[str]) -> bool:
    return any(path == c or path.startswith(c + "/") for c in chosen)


@pytest.mark.parametrize("seed", SEEDS[:30])
def test_comparing_two_backups_or_one_with_now_names_exactly_what_differs(
    service, tmp_path, mail, seed
):
    root, first, _as_backed_up = mail
    rng = random.Random(seed)
    edits = edit_at_random(root, rng, rng.randint(1, 10))
    second = service.create_backup("mail")
    time.sleep(0.01)
    edits += edit_at_random(root, rng, rng.randint(1, 10))
    backups = {"first": tmp_path / "first", "second": tmp_path / "second"}
    service.restore_to_folder(first.id, backups["first"])
    service.restore_to_folder(second.id, backups["second"])

    between = {c.path for c in service.compare(first.id, second.id).changes}
    with_now = {c.path for c in service.compare(second.id, "live").changes}

    differ = changed_by_rsync(backups["first"], backups["second"], "-c")
    assert between - _same_but_hardlinked_names(between, differ, backups["second"]) == differ
    # What the next backup would see: no device file (as the drift badge and a backup).
    now = _without_devices(snapshot(root, tmp_path / "now"))
    differ = changed_by_rsync(backups["second"], now, "-c")
    assert with_now - _same_but_hardlinked_names(with_now, differ, root) == differ, edits
    # The other way round: not the same paths, where hardlinks changed (rsync judges a
    # file's names by the first of them the side it makes has).
    back = {c.path for c in service.compare("live", second.id).changes}
    differ = changed_by_rsync(now, backups["second"], "-c")
    assert back - _same_but_hardlinked_names(back, differ, backups["second"]) == differ, edits


# Patterns an environment may exclude, each with rsync's spelling of it (a leading "/"
# anchors a pattern in rsync, as a "/" inside one does in ours). Among them, patterns for
# folders only, which a file of the same name does not match.
EXCLUDES = [
    ("*.conf", "*.conf"),
    ("etc/", "etc/"),
    ("ssl/", "ssl/"),
    ("conf.d/", "conf.d/"),
    ("etc/ssl/**", "/etc/ssl/**"),
    ("*.link", "*.link"),
    ("new*/", "new*/"),
    ("*.moved", "*.moved"),
    ("bin/*", "/bin/*"),
    ("shared/", "shared/"),
]


@pytest.mark.parametrize("seed", SEEDS)
def test_with_random_excludes_a_restore_of_its_own_or_another_backup_changes_what_it_names(
    service, tmp_path, seed
):
    rng = random.Random(seed)
    source = small_tree_of_every_kind(tmp_path / "srv" / "mail")
    service.add_environment("mail", source, version="1.0")
    excluded_at_backup = rng.sample(EXCLUDES, rng.randint(0, 3))
    service.set_excludes("mail", [ours for ours, _ in excluded_at_backup])
    edits = edit_at_random(source, rng, rng.randint(0, 4))
    backup = service.create_backup("mail")
    as_backed_up = snapshot(source, tmp_path / "as-backed-up")
    time.sleep(0.01)
    into_another = rng.random() < 0.4
    if into_another:  # a test environment, much like it, restored from mail's backup
        target = small_tree_of_every_kind(tmp_path / "srv" / "test")
        service.add_environment("test", target, version="1.0")
    else:
        target = source
    excluded = rng.sample(EXCLUDES, rng.randint(0, 3))
    service.set_excludes("test" if into_another else "mail", [ours for ours, _ in excluded])
    edits += edit_at_random(target, rng, rng.randint(1, 10))
    before = snapshot(target, tmp_path / "before")
    name, of = ("test", {"from_environment": "mail"}) if into_another else ("mail", {})
    whole = service.preview_restore(name, backup.id, **of)
    only = _perhaps_some_of(whole.changes, rng)
    story = (edits, excluded_at_backup, excluded, into_another, only)
    try:
        preview = service.preview_restore(name, backup.id, only=only, **of)
    except InvalidInputError as refused:  # only excluded paths, lost with their folder
        assert "Only excluded paths were chosen" in str(refused), story
        with pytest.raises(InvalidInputError, match="Only excluded paths"):
            service.restore_backup(name, backup.id, only=only, previewed=whole, **of)
        assert changed_by_rsync(before, target, "-c") == set(), story
        return

    service.restore_backup(name, backup.id, only=only, previewed=whole, **of)

    changed = changed_by_rsync(before, target, "-c")
    named = {change.path for change in preview.changes}
    assert named - _same_but_hardlinked_names(named, changed, target) == changed, story
    if only is None:  # what the backup holds is back, but what either set of patterns excludes
        rsync_excluded = [f"--exclude={theirs}" for _, theirs in excluded_at_backup + excluded]
        devices = devices_excluded(as_backed_up, target)
        assert rsync_differences(as_backed_up, target, "-c", *rsync_excluded, *devices) == [], story


@pytest.mark.parametrize("seed", range(12))
def test_backups_between_random_edits_each_hold_the_tree_as_it_was(
    service, tmp_path, mail, monkeypatch, seed
):
    # The hash cache answers for files whose size, mtime, inode and ctime are as a backup
    # read them, and for their xattrs: with their mtimes made old and the time it allows a
    # ctime tick made short (50 ms, past the kernel's), the backups after the first take
    # most files from it. Each must still hold every file as it is, edited just before or
    # moments after the backup before, in place with its size and mtime kept among others.
    monkeypatch.setattr(scanning, "RACY_NS", 50_000_000)
    root, _, _ = mail
    made_long_ago(root)
    rng = random.Random(seed)
    for round_ in range(4):
        edits = edit_at_random(root, rng, rng.randint(1, 6))
        if rng.random() < 0.7:
            time.sleep(0.06)  # the edits' ctimes now count as settled
        backup = service.create_backup("mail")

        restored = service.restore_to_folder(backup.id, tmp_path / f"backup {round_}")
        devices = devices_excluded(root)
        assert rsync_differences(root, restored, "-c", *devices) == [], (round_, edits)
        assert service.preview_restore("mail", backup.id).changes == (), (round_, edits)
