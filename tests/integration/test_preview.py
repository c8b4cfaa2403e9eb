"""A restore's preview says exactly what the restore then changes: rsync is the judge."""

import os
import shutil
import stat
import threading
import time
from pathlib import Path

import pytest

from envops_desktop.domain.activity_query import ActivityQuery
from envops_desktop.domain.changes import ChangeKind
from envops_desktop.domain.enums import ActivityAction
from envops_desktop.domain.errors import InvalidInputError, NotFoundError, PreviewOutOfDateError
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.domain.progress import Progress
from envops_desktop.service import replacements, restore_steps, scanning, tree_diff
from tests.spies import threads_calling
from tests.trees import (
    changed_by_rsync,
    describe_tree,
    made_long_ago,
    make_config_tree,
    make_tree_of_every_kind,
    mess_up,
    needs_rsync,
    rsync_differences,
    snapshot,
)

AS_ROOT = os.geteuid() == 0


@pytest.fixture
def billing(service, tmp_path):
    """A small configuration backed up as environment billing: its root and the backup."""
    root = tmp_path / "billing"
    make_config_tree(root)
    service.add_environment("billing", root, version="4.2.0")
    return root, service.create_backup("billing")


def _edit_every_way(root) -> None:
    """Adds, edits, deletes, modes, owners, xattrs, links and empty folders."""
    mess_up(root)  # an edit, a delete, an add, a mode, a link and an empty folder removed
    (root / "plugins" / "enabled" / "audit.so").unlink()
    os.symlink("../elsewhere.so", root / "plugins" / "enabled" / "audit.so")  # retargeted
    (root / "new-empty").mkdir()
    os.setxattr(root / "tagged.ini", "user.origin", b"deploy-43")
    os.removexattr(root / "conf.d", "user.note")
    (root / "etc" / "main.cf").unlink()  # no longer a hard link of conf.d/main.cf
    (root / "etc" / "main.cf").write_text("linked = twice\n")
    shutil.rmtree(root / "shared" / "team")
    (root / "certs").chmod(0o755)
    if AS_ROOT:
        os.chown(root / "VERSION", 1, 1)
        os.chown(root / "hooks.sh", 2, 2)


@pytest.fixture
def mail(service, tmp_path):
    """A tree of every kind backed up as environment mail, then edited every way; its root,
    the backup, and a copy of the tree as backed up."""
    root = tmp_path / "environments" / "mail"
    root.mkdir(parents=True)
    make_tree_of_every_kind(root, as_root=AS_ROOT)
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")
    wanted = snapshot(root, tmp_path / "wanted")
    time.sleep(0.01)  # edits get mtimes of their own
    _edit_every_way(root)
    return root, backup, wanted


@needs_rsync
def test_the_preview_of_a_restore_names_exactly_the_paths_the_restore_changes(
    service, tmp_path, mail
):
    root, backup, _wanted = mail
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("mail", backup.id)
    service.restore_backup("mail", backup.id)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    kinds = {change.path: set(change.kinds) for change in preview.changes}
    assert kinds["app.yaml"] == {ChangeKind.MODIFIED, ChangeKind.MTIME}
    assert kinds["conf.d/cache.ini"] == {ChangeKind.ADDED}  # the restore brings it back
    assert kinds["conf.d/new.ini"] == {ChangeKind.REMOVED}
    assert kinds["hooks.sh"] >= {ChangeKind.MODE}
    assert kinds["plugins/enabled/audit.so"] >= {ChangeKind.TARGET}
    assert kinds["tagged.ini"] == {ChangeKind.XATTRS}
    assert kinds["etc/main.cf"] >= {ChangeKind.HARDLINK}
    assert kinds["new-empty"] == {ChangeKind.REMOVED}
    assert kinds["empty"] == {ChangeKind.ADDED}
    if AS_ROOT:
        assert kinds["VERSION"] == {ChangeKind.OWNER}
    # And the preview after the restore: nothing left to change.
    assert service.preview_restore("mail", backup.id).changes == ()


@needs_rsync
def test_the_preview_is_exact_for_names_sorting_before_the_folder_itself(service, tmp_path):
    # A backup's side is walked in path order, with the folder itself (".") in its place
    # among names such as "-x" and "!x" that sort before it, and bytes that are not UTF-8.
    root = tmp_path / "edge"
    root.mkdir()
    for name in ("-dash.conf", "!bang.conf", "+plus.conf", "#hash.conf", ".hidden", "zeta"):
        (root / name).write_text(f"{name}\n")
    (root / "-dir").mkdir()
    (root / "-dir" / "inside.conf").write_text("in\n")
    os.mkdir(os.fsencode(root) + b"/caf\xe9")  # Latin-1, as an old tarball leaves it
    service.add_environment("edge", root, version="1.0")
    backup = service.create_backup("edge")
    time.sleep(0.01)
    (root / "-dash.conf").write_text("edited\n")
    (root / "!bang.conf").unlink()
    (root / "+new.conf").write_text("added\n")
    os.rmdir(os.fsencode(root) + b"/caf\xe9")
    root.chmod(0o700)
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("edge", backup.id)
    service.restore_backup("edge", backup.id)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert {"-dash.conf", "!bang.conf", "+new.conf", "."} <= {c.path for c in preview.changes}
    assert service.preview_restore("edge", backup.id).changes == ()


@needs_rsync
def test_a_restore_previews_the_time_it_gives_what_is_dated_past_2262(service, tmp_path):
    # A backup keeps a wrong clock's year 2300 as 2262, the latest time it records. The
    # preview compared the folder's times as a backup records them, so a backup made then
    # showed "no changes", and the restore gave the file and the folders 2262 all the same.
    root = tmp_path / "billing"
    make_config_tree(root)
    year_2300_ns = 10_413_792_000 * 10**9
    for path in (root / "app.yaml", root / "conf.d", root):
        os.utime(path, ns=(year_2300_ns, year_2300_ns))
    service.add_environment("billing", root, version="4.2.0")
    backup = service.create_backup("billing")
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("billing", backup.id)
    compared = service.compare(backup.id, "live")
    unchanged_since_backup = service.modified_since_backup("billing") is False
    service.restore_backup("billing", backup.id)

    changed = changed_by_rsync(before, root)
    assert changed == {".", "app.yaml", "conf.d"}
    assert {change.path for change in preview.changes} == changed
    assert {change.path for change in compared.changes} == changed
    assert unchanged_since_backup  # nothing changed since: the badge does not say modified


def test_a_preview_changes_nothing_and_reads_unchanged_files_from_the_hash_cache(
    service, tmp_path, monkeypatch
):
    root = tmp_path / "billing"
    make_config_tree(root, files=40)
    service.add_environment("billing", root, version="4.2.0")
    backup = service.create_backup("billing")
    time.sleep(2.1)  # past the hash cache's racy window, then a second backup caches all
    service.create_backup("billing")
    (root / "app.yaml").write_text("server:\n  port: 1\n")
    same_size = root / "conf.d" / "cache.ini"
    same_size.write_bytes(same_size.read_bytes().swapcase())
    read = []
    from envops_desktop.service import tree_diff

    real = tree_diff.sha256_of_file
    monkeypatch.setattr(tree_diff, "sha256_of_file", lambda p: read.append(p) or real(p))

    preview = service.preview_restore("billing", backup.id)

    assert [change.path for change in preview.changes] == ["app.yaml", "conf.d/cache.ini"]
    # Only the edit the sizes cannot tell is read: app.yaml's size already says it changed.
    assert [p.name for p in read] == ["cache.ini"]
    assert (root / "app.yaml").read_text() == "server:\n  port: 1\n"
    assert preview.summary == "2 modified"


@pytest.mark.parametrize("hardlinked", [False, True])
def test_a_preview_lays_out_each_backed_up_entry_once(service, tmp_path, monkeypatch, hardlinked):
    # The hardlink survey read the backup's whole tree a second time to find its few
    # hardlinked files: a third of a 200,000-file preview.
    root = tmp_path / "billing"
    make_config_tree(root, files=40)
    if hardlinked:
        os.link(root / "app.yaml", root / "app.yaml.link")
    service.add_environment("billing", root, version="4.2.0")
    backup = service.create_backup("billing")
    os.unlink(root / "app.yaml")  # a link broken since: the preview must still say so
    (root / "app.yaml").write_text("server:\n  port: 1\n")
    laid_out = []
    real = tree_diff.to_apply
    monkeypatch.setattr(tree_diff, "to_apply", lambda *a: laid_out.append(a) or real(*a))

    preview = service.preview_restore("billing", backup.id)

    assert len(laid_out) == len(service.backup_entries(backup.id)) + 1  # and the folder's
    kinds = {change.path: change.kinds for change in preview.changes}
    assert (ChangeKind.HARDLINK in kinds.get("app.yaml.link", ())) is hardlinked
    assert ChangeKind.MODIFIED in kinds["app.yaml"]


@needs_rsync
def test_a_restore_into_an_empty_folder_adds_exactly_what_its_preview_names(
    service, tmp_path, monkeypatch
):
    # A new machine's folder, or one wiped: every entry is added. The preview laid out each
    # entry's metadata all the same, a second of a restore of 200,000 files, whose report
    # is worked out beside its writing, on the same cores.
    root = tmp_path / "environments" / "mail"
    root.mkdir(parents=True)
    make_tree_of_every_kind(root, as_root=AS_ROOT)
    (root / "cache").mkdir()
    (root / "cache" / "index.db").write_text("rebuilt at start\n")
    service.add_environment("mail", root, version="1.0")
    backup = service.create_backup("mail")
    spare = tmp_path / "environments" / "spare"
    spare.mkdir()
    os.utime(spare, ns=(1, 1))  # a time of its own, which the restore changes
    service.add_environment("spare", spare, version="1.0")
    service.set_excludes("spare", ["cache/"])
    before = snapshot(spare, tmp_path / "before")
    laid_out = []
    real = tree_diff.to_apply
    monkeypatch.setattr(tree_diff, "to_apply", lambda *a: laid_out.append(a) or real(*a))
    reports: list[Progress] = []

    preview = service.preview_restore(
        "spare", backup.id, from_environment="mail", progress=reports.append
    )
    laid_out_for_it = len(laid_out)
    service.restore_backup("spare", backup.id, from_environment="mail")

    assert laid_out_for_it == 1  # the folder's own, which is compared
    assert {change.path for change in preview.changes} == changed_by_rsync(before, spare)
    assert "cache" not in {change.path for change in preview.changes}
    assert preview.changes[0].path == "." and ChangeKind.MTIME in preview.changes[0].kinds
    assert all(change.kinds == (ChangeKind.ADDED,) for change in preview.changes[1:])
    sizes = {change.path: change.size_after for change in preview.changes}
    assert sizes["etc/shadow"] == (root / "etc" / "shadow").stat().st_size
    assert sizes["etc"] is None and sizes["control.fifo"] is None
    comparing = [report for report in reports if report.phase == "comparing"]
    assert comparing[-1].done == comparing[-1].total == backup.file_count
    assert service.restore_report(service.activity("spare")[0].id) == preview
    assert service.preview_restore("spare", backup.id, from_environment="mail").changes == ()


def test_a_preview_reports_how_far_it_has_got_phase_by_phase(service, tmp_path):
    # What the window's bars show: a folder looked at (no total), its files' attributes read
    # (all of them), the files the hash cache cannot vouch for read (their bytes), every
    # entry set out, the backup's files compared (all of them). Only the first has no total.
    root = tmp_path / "billing"
    make_config_tree(root, files=40)
    service.add_environment("billing", root, version="4.2.0")
    backup = service.create_backup("billing")
    cache = root / "conf.d" / "cache.ini"
    cache.write_bytes(cache.read_bytes().swapcase())  # its size alone cannot tell
    reports = []

    preview = service.preview_restore("billing", backup.id, progress=reports.append)

    assert [change.path for change in preview.changes] == ["conf.d/cache.ini"]
    phases = list(dict.fromkeys(report.phase for report in reports))
    assert phases == [
        "looking at the folder",
        "reading the files' attributes",
        "reading files that changed",
        "listing the folder's entries",
        "comparing",
    ]
    assert all(report.total > 0 for report in reports if report.phase != phases[0])
    last = {report.phase: report for report in reports}
    assert all(last[phase].done == last[phase].total for phase in phases[1:])
    files = [path for path in root.rglob("*") if path.is_file() and not path.is_symlink()]
    assert last["reading the files' attributes"].total == len(files)
    # Every file here: a backup's hash cache trusts none written in its last two seconds.
    sizes = sum(path.stat().st_size for path in files)
    assert last["reading files that changed"].total == sizes
    assert last["listing the folder's entries"].total == len(list(root.rglob("*")))
    assert reports[-1].phase == "comparing"
    assert reports[-1].done == reports[-1].total == backup.file_count


def test_comparing_two_backups_and_a_backup_with_the_live_folder(service, tmp_path):
    root = tmp_path / "billing"
    make_config_tree(root)
    service.add_environment("billing", root, version="4.2.0")
    first = service.create_backup("billing")
    (root / "conf.d" / "new.ini").write_text("[new]\n")
    second = service.create_backup("billing")
    (root / "app.yaml").unlink()

    between = service.compare(first.id, second.id)
    with_live = service.compare(second.id, "live")

    assert {c.path: c.kinds for c in between.changes if c.path != "conf.d"} == {
        "conf.d/new.ini": (ChangeKind.ADDED,)
    }
    assert {c.path: c.kinds for c in with_live.changes if c.path != "."} == {
        "app.yaml": (ChangeKind.REMOVED,)
    }


def test_backups_of_two_environments_are_not_compared(service, tmp_path):
    for name in ("billing", "mail"):
        make_config_tree(tmp_path / name)
        service.add_environment(name, tmp_path / name, version="4.2.0")
    billing, mail = service.create_backup("billing"), service.create_backup("mail")

    with pytest.raises(InvalidInputError, match="two environments"):
        service.compare(billing.id, mail.id)


@needs_rsync
def test_a_selective_restore_changes_only_the_chosen_paths_as_its_preview_says(
    service, tmp_path, mail
):
    root, backup, wanted = mail
    (root / "plugins" / "enabled" / "extra.so").write_text("added since\n")
    before = snapshot(root, tmp_path / "before")
    chosen = ["conf.d", "plugins/enabled/audit.so", "plugins/enabled/extra.so", "empty"]

    preview = service.preview_restore("mail", backup.id, only=chosen)
    service.restore_backup("mail", backup.id, only=chosen)

    changed = changed_by_rsync(before, root)
    assert {change.path for change in preview.changes} == changed
    assert changed == {
        "conf.d",
        "conf.d/cache.ini",
        "conf.d/new.ini",
        "plugins/enabled/audit.so",
        "plugins/enabled/extra.so",
        "empty",
    }
    for path in ("conf.d", "empty"):  # each chosen folder exactly as backed up
        assert rsync_differences(wanted / path, root / path, "--delete") == []
    assert os.readlink(root / "plugins" / "enabled" / "audit.so") == "../audit.so"
    assert (root / "new-empty").is_dir() and not (root / "shared" / "team").exists()  # left
    entry = service.activity("mail")[0]
    assert "partial: only conf.d, plugins/enabled/audit.so" in entry.detail


@needs_rsync
@pytest.mark.parametrize(
    "break_the_link",
    [
        pytest.param(lambda root: (root / "conf" / "site.cf").unlink(), id="first-name-deleted"),
        pytest.param(lambda root: (root / "main.cf").unlink(), id="other-name-deleted"),
        pytest.param(  # an editor's save: a new file in place of the link, content changed
            lambda root: ((root / "main.cf").unlink(), (root / "main.cf").write_text("edit\n")),
            id="saved-by-an-editor",
        ),
        pytest.param(  # rsync keeps the file there and makes the link a file linked to it
            lambda root: (
                (root / "main.cf").unlink(),
                os.symlink("conf/site.cf", root / "main.cf"),
            ),
            id="made-a-symlink",
        ),
        pytest.param(  # a copy in place of the link, the same content and times
            lambda root: (
                (root / "conf" / "site.cf").unlink(),
                shutil.copy2(root / "main.cf", root / "conf" / "site.cf"),
            ),
            id="copied-over",
        ),
    ],
)
def test_the_preview_is_exact_for_a_hardlink_broken_any_way(service, tmp_path, break_the_link):
    # A file with a name in a folder and one beside it: rsync links them again from the
    # folder's own file first, whichever name comes first in path order.
    root = tmp_path / "links"
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "site.cf").write_text("listen = 443\n")
    os.link(root / "conf" / "site.cf", root / "main.cf")
    (root / "alone.cf").write_text("alone\n")
    service.add_environment("links", root, version="1.0")
    backup = service.create_backup("links")
    wanted = snapshot(root, tmp_path / "wanted")
    time.sleep(0.01)
    break_the_link(root)
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("links", backup.id)
    service.restore_backup("links", backup.id)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert rsync_differences(wanted, root, "--delete") == []
    assert service.preview_restore("links", backup.id).changes == ()


def _make_file(path: Path) -> None:
    path.write_text("listen = 443\n")


def _make_symlink(path: Path) -> None:
    os.symlink("../alone.cf", path)


def _make_fifo(path: Path) -> None:
    os.mkfifo(path, 0o640)


@needs_rsync
@pytest.mark.parametrize("make", [_make_symlink, _make_fifo], ids=["symlink", "fifo"])
@pytest.mark.parametrize(
    "break_the_link",
    [
        pytest.param(lambda root, make: (root / "conf" / "site").unlink(), id="first-name-deleted"),
        pytest.param(lambda root, make: (root / "main").unlink(), id="other-name-deleted"),
        pytest.param(
            lambda root, make: ((root / "main").unlink(), make(root / "main")),
            id="made-again-alone",
        ),
        pytest.param(
            lambda root, make: (root / "conf" / "site").rename(root / "moved"), id="moved-away"
        ),
    ],
)
def test_a_symlink_or_fifo_of_two_names_comes_back_linked_as_its_preview_says(
    service, tmp_path, make, break_the_link
):
    # A backup kept each name as a node of its own: rsync -aHAX lists the second name as
    # not linked to the first (`cp -al` leaves a tree's symlinks so).
    root = tmp_path / "links"
    (root / "conf").mkdir(parents=True)
    make(root / "conf" / "site")
    os.link(root / "conf" / "site", root / "main", follow_symlinks=False)
    (root / "alone.cf").write_text("alone\n")
    service.add_environment("links", root, version="1.0")
    backup = service.create_backup("links")
    wanted = snapshot(root, tmp_path / "wanted")
    time.sleep(0.01)
    break_the_link(root, make)
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("links", backup.id)
    service.restore_backup("links", backup.id)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert rsync_differences(wanted, root, "--delete") == []
    assert os.path.samestat(os.lstat(root / "conf" / "site"), os.lstat(root / "main"))
    assert service.preview_restore("links", backup.id).changes == ()


@needs_rsync
def test_a_selective_restore_into_a_folder_that_is_gone_previews_the_folder_too(
    service, tmp_path, billing
):
    root, backup = billing
    shutil.rmtree(root / "plugins")
    before = snapshot(root, tmp_path / "before")
    chosen = ["plugins/enabled/audit.so"]

    preview = service.preview_restore("billing", backup.id, only=chosen)
    service.restore_backup("billing", backup.id, only=chosen)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert {"plugins", "plugins/enabled"} <= {change.path for change in preview.changes}
    assert not (root / "plugins" / "audit.so").exists()  # not chosen: left as it was, gone


@needs_rsync
@pytest.mark.parametrize("was", ["file", "link"])
def test_a_path_chosen_in_a_folder_the_backup_holds_as_a_file_leaves_that_folder_as_it_is(
    service, tmp_path, billing, was
):
    # hooks.sh (a file) and db.ini (a link) when backed up, folders of scripts now: the
    # chosen script is one the backup cannot hold, so restoring it removes it, and nothing
    # else of the folder changes.
    root, backup = billing
    name = {"file": "hooks.sh", "link": "db.ini"}[was]
    (root / name).unlink()
    (root / name).mkdir()
    (root / name / "reload.sh").write_text("#!/bin/sh\nkill -HUP 1\n")
    (root / name / "stray.sh").write_text("#!/bin/sh\n")
    before = snapshot(root, tmp_path / "before")
    chosen = [f"{name}/stray.sh"]

    preview = service.preview_restore("billing", backup.id, only=chosen)
    service.restore_backup("billing", backup.id, only=chosen)

    assert {change.path for change in preview.changes} == {f"{name}/stray.sh"}
    assert changed_by_rsync(before, root) == {f"{name}/stray.sh"}
    assert not (root / name / "stray.sh").exists()
    assert (root / name / "reload.sh").read_text() == "#!/bin/sh\nkill -HUP 1\n"


@needs_rsync
def test_a_folder_holding_a_chosen_path_keeps_its_attributes_as_they_are_now(
    service, tmp_path, mail
):
    # conf.d's note was removed since the backup: restoring only a file in it leaves the
    # folder without it, as it is now.
    root, backup, _wanted = mail
    before = snapshot(root, tmp_path / "before")
    chosen = ["conf.d/cache.ini"]

    preview = service.preview_restore("mail", backup.id, only=chosen)
    service.restore_backup("mail", backup.id, only=chosen)

    assert {change.path for change in preview.changes} == {"conf.d/cache.ini"}
    assert changed_by_rsync(before, root) == {"conf.d/cache.ini"}
    assert "user.note" not in os.listxattr(root / "conf.d")


@needs_rsync
def test_a_folder_chosen_with_a_path_inside_it_is_restored_whole(service, tmp_path, mail):
    root, backup, wanted = mail
    before = snapshot(root, tmp_path / "before")
    chosen = ["conf.d", "conf.d/cache.ini"]  # as `envops restore --only conf.d conf.d/cache.ini`

    preview = service.preview_restore("mail", backup.id, only=chosen)
    service.restore_backup("mail", backup.id, only=chosen)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert rsync_differences(wanted / "conf.d", root / "conf.d", "--delete") == []


@needs_rsync
def test_one_name_of_a_hardlinked_file_restored_alone_is_linked_to_nothing_left_alone(
    service, tmp_path
):
    root = tmp_path / "links"
    (root / "conf").mkdir(parents=True)
    (root / "a.cf").write_text("listen = 443\n")  # the first name, in any order
    os.link(root / "a.cf", root / "conf" / "site.cf")
    service.add_environment("links", root, version="1.0")
    backup = service.create_backup("links")
    time.sleep(0.01)
    (root / "conf" / "site.cf").unlink()
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("links", backup.id, only=["conf/site.cf"])
    service.restore_backup("links", backup.id, only=["conf/site.cf"])

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert (root / "conf" / "site.cf").read_text() == "listen = 443\n"
    assert service.preview_restore("links", backup.id, only=["conf/site.cf"]).changes == ()


def _linked_names(service, tmp_path, make=_make_file):
    """`main.cf`, `conf/site.cf` and `conf/other.cf`, one file (or what `make` makes)
    under three names, and `alone.cf`, backed up as environment links; its root and the
    backup."""
    root = tmp_path / "links"
    (root / "conf").mkdir(parents=True)
    make(root / "main.cf")
    os.link(root / "main.cf", root / "conf" / "site.cf", follow_symlinks=False)
    os.link(root / "main.cf", root / "conf" / "other.cf", follow_symlinks=False)
    (root / "alone.cf").write_text("alone\n")
    service.add_environment("links", root, version="1.0")
    return root, service.create_backup("links")


@needs_rsync
@pytest.mark.parametrize(
    "make", [_make_file, _make_symlink, _make_fifo], ids=["file", "symlink", "fifo"]
)
@pytest.mark.parametrize(
    "chosen", [["main.cf", "alone.cf"], ["conf/site.cf", "alone.cf"], ["conf", "alone.cf"]]
)
def test_a_selective_restore_keeps_a_chosen_file_s_link_to_a_name_it_leaves_alone(
    service, tmp_path, make, chosen
):
    # Brought back as a node of its own, the chosen name, unchanged, took the other name's
    # link away from it: the restore changed a path it was told to leave as it is.
    root, backup = _linked_names(service, tmp_path, make)
    time.sleep(0.01)
    (root / "alone.cf").write_text("edited\n")
    before = snapshot(root, tmp_path / "before")
    node = os.lstat(root / "main.cf").st_ino

    preview = service.preview_restore("links", backup.id, only=chosen)
    service.restore_backup("links", backup.id, only=chosen)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert changed_by_rsync(before, root) == {"alone.cf"}
    names = ("main.cf", "conf/site.cf", "conf/other.cf")
    assert {os.lstat(root / name).st_ino for name in names} == {node}


@needs_rsync
@pytest.mark.parametrize(
    "make", [_make_file, _make_symlink, _make_fifo], ids=["file", "symlink", "fifo"]
)
@pytest.mark.parametrize("chosen", [["main.cf", "conf/site.cf"], ["main.cf", "conf/other.cf"]])
def test_a_selective_restore_that_links_a_copy_again_previews_the_names_left_alone_it_joins(
    service, tmp_path, make, chosen
):
    # main.cf, made again alone, is linked back to the node its chosen partner shares with
    # the name left alone. rsync, which judges a node by its first name, then sees that name
    # relinked too: the preview left it out, so the restore changed a path it did not name.
    root, backup = _linked_names(service, tmp_path, make)
    os.unlink(root / "main.cf")
    make(root / "main.cf")
    before = snapshot(root, tmp_path / "before")
    node = os.lstat(root / "conf" / "site.cf").st_ino

    preview = service.preview_restore("links", backup.id, only=chosen)
    service.restore_backup("links", backup.id, only=chosen)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    left_alone = ({"conf/site.cf", "conf/other.cf"} - set(chosen)).pop()
    relinked = next(change for change in preview.changes if change.path == left_alone)
    assert relinked.kinds == (ChangeKind.HARDLINK,)
    names = ("main.cf", "conf/site.cf", "conf/other.cf")
    assert {os.lstat(root / name).st_ino for name in names} == {node}


@needs_rsync
@pytest.mark.parametrize("by", ["restore", "import"])
@pytest.mark.parametrize("same_mode", [True, False], ids=["as-backed-up", "mode-changed"])
def test_a_file_whose_first_name_is_excluded_is_previewed_as_its_other_names_are_linked(
    service, tmp_path, by, same_mode
):
    # conf.d/main.cf, the backup's first name of the file main.cf.link also names, is
    # excluded now, and shares its live node with etc/main.cf, which the restore removes.
    # The restore leaves conf.d/main.cf as it is: the preview took it for the name
    # main.cf.link would be linked to, and named it relinked, which it is not.
    root = tmp_path / "links"
    (root / "conf.d").mkdir(parents=True)
    (root / "conf.d" / "main.cf").write_text("linked = twice\n")
    os.link(root / "conf.d" / "main.cf", root / "main.cf.link")
    service.add_environment("links", root, version="1.0")
    backup = service.create_backup("links")
    (root / "etc").mkdir()
    os.link(root / "conf.d" / "main.cf", root / "etc" / "main.cf")
    (root / "main.cf.link").unlink()
    shutil.copy2(root / "conf.d" / "main.cf", root / "main.cf.link")  # a copy of its own
    if not same_mode:
        os.chmod(root / "conf.d" / "main.cf", 0o600)
    service.set_excludes("links", ["conf.d/"])
    before = snapshot(root, tmp_path / "before")
    node = os.lstat(root / "conf.d" / "main.cf").st_ino
    if by == "restore":
        preview, do_it = _by_restore(service, tmp_path, backup)
    else:
        preview, do_it = _by_import(service, tmp_path, backup)
    do_it()

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert "conf.d/main.cf" not in {change.path for change in preview.changes}
    assert os.lstat(root / "conf.d" / "main.cf").st_ino == node  # left as it is


def _by_restore(service, _tmp_path, backup):
    """What restoring `backup` into links would change, and the restore."""
    return (
        service.preview_restore("links", backup.id),
        lambda: service.restore_backup("links", backup.id),
    )


def _by_import(service, tmp_path, backup):
    """What importing `backup`, exported, into links would change, and the import."""
    exported = service.export_backup(backup.id, tmp_path / "links.envops")
    checked = service.check_configuration_file(exported, allow_external_links=True)
    return (
        service.preview_import("links", checked),
        lambda: service.import_configuration_file("links", checked),
    )


def _by_restoring_the_file_s_names(service, _tmp_path, backup):
    """What restoring only main.cf and conf of `backup` would change, and the restore: a
    folder the backup does not hold is left as it is, with what it holds."""
    chosen = ["main.cf", "conf"]
    return (
        service.preview_restore("links", backup.id, only=chosen),
        lambda: service.restore_backup("links", backup.id, only=chosen),
    )


@needs_rsync
@pytest.mark.parametrize(
    "make", [_make_file, _make_symlink, _make_fifo], ids=["file", "symlink", "fifo"]
)
@pytest.mark.parametrize(
    "put_back",
    [_by_restore, _by_import, _by_restoring_the_file_s_names],
    ids=["restore", "import", "selective"],
)
@pytest.mark.parametrize(
    ("excluded", "kinds"),
    [
        ("site.cf.moved", (ChangeKind.HARDLINK,)),
        ("conf/site.cf.moved", (ChangeKind.HARDLINK,)),
        # With its folder, which no backup holds; a selective restore leaves that as it is.
        ("new/site.cf.moved", (ChangeKind.REMOVED,)),
    ],
    ids=["top", "in-a-folder-restored", "in-a-folder-removed"],
)
def test_a_restore_that_links_a_copy_again_previews_the_excluded_name_it_joins(
    service, tmp_path, make, put_back, excluded, kinds
):
    if put_back is _by_restoring_the_file_s_names:
        kinds = (ChangeKind.HARDLINK,)
    # conf/site.cf, unchanged, keeps its live node, which an excluded name shares, and
    # main.cf, made again alone, joins it. rsync sees the excluded name relinked too.
    root, backup = _linked_names(service, tmp_path, make)
    (root / excluded).parent.mkdir(exist_ok=True)
    os.link(root / "conf" / "site.cf", root / excluded, follow_symlinks=False)
    service.set_excludes("links", ["*.moved"])
    os.unlink(root / "main.cf")
    make(root / "main.cf")
    before = snapshot(root, tmp_path / "before")
    node = os.lstat(root / "conf" / "site.cf").st_ino

    preview, do_it = put_back(service, tmp_path, backup)
    do_it()

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert next(c for c in preview.changes if c.path == excluded).kinds == kinds
    names = ["main.cf", "conf/site.cf", "conf/other.cf"]
    if kinds == (ChangeKind.HARDLINK,):
        names.append(excluded)
    else:  # nothing left to share the node with: written anew
        node = os.lstat(root / "main.cf").st_ino
    assert {os.lstat(root / name).st_ino for name in names} == {node}


@needs_rsync
def test_a_restore_keeps_a_file_s_link_to_a_name_excluded_since_the_backup(service, tmp_path):
    root, backup = _linked_names(service, tmp_path)
    service.set_excludes("links", ["conf/"])
    time.sleep(0.01)
    (root / "alone.cf").write_text("edited\n")
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("links", backup.id)
    service.restore_backup("links", backup.id)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert changed_by_rsync(before, root) == {"alone.cf"}
    assert os.path.samefile(root / "main.cf", root / "conf" / "site.cf")
    assert os.path.samefile(root / "main.cf", root / "conf" / "other.cf")


@needs_rsync
@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda path: path.write_text("listen = 80\n"), id="content"),
        pytest.param(lambda path: path.chmod(0o600), id="mode"),
        pytest.param(lambda path: os.setxattr(path, "user.note", b"new"), id="xattr"),
        pytest.param(lambda path: os.utime(path, (1, 1)), id="mtime"),
    ],
)
def test_a_chosen_file_edited_under_both_names_is_restored_alone_and_the_other_name_kept(
    service, tmp_path, edit
):
    # Edited in place, the file is no longer what the backup holds: the chosen name gets the
    # backup's, and the name left alone keeps the edit, so the two are no longer one file.
    root, backup = _linked_names(service, tmp_path)
    time.sleep(0.01)
    edit(root / "main.cf")
    before = snapshot(root, tmp_path / "before")
    wanted = snapshot(root, tmp_path / "kept")

    preview = service.preview_restore("links", backup.id, only=["main.cf"])
    service.restore_backup("links", backup.id, only=["main.cf"])

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert not os.path.samefile(root / "main.cf", root / "conf" / "site.cf")
    assert (root / "main.cf").read_text() == "listen = 443\n"
    assert rsync_differences(wanted / "conf", root / "conf") == []  # as edited
    assert service.preview_restore("links", backup.id, only=["main.cf"]).changes == ()


@needs_rsync
@pytest.mark.parametrize("shown_first", [False, True], ids=["command-line", "window"])
def test_a_selective_restore_brings_back_names_that_begin_or_end_with_a_space(
    service, tmp_path, shown_first
):
    # Chosen paths were stripped as typed text is: " lead.conf" was looked for as
    # "lead.conf", refused as in neither tree; ticked in the window, left as it was.
    root = tmp_path / "spaces"
    (root / "trail ").mkdir(parents=True)
    (root / " lead.conf").write_text("lead\n")
    (root / "trail " / "x.conf").write_text("x\n")
    (root / "other.conf").write_text("other\n")
    service.add_environment("spaces", root, version="1.0")
    backup = service.create_backup("spaces")
    wanted = snapshot(root, tmp_path / "wanted")
    time.sleep(0.01)
    for path in (" lead.conf", "trail /x.conf", "other.conf"):
        (root / path).write_text("edited\n")
    chosen = [" lead.conf", "trail "]

    preview = service.preview_restore("spaces", backup.id, only=chosen)
    shown = preview if shown_first else None
    service.restore_backup("spaces", backup.id, only=chosen, previewed=shown)

    assert {change.path for change in preview.changes} == {" lead.conf", "trail /x.conf"}
    assert rsync_differences(wanted / "trail ", root / "trail ", "--delete") == []
    assert (root / " lead.conf").read_text() == "lead\n"
    assert (root / "other.conf").read_text() == "edited\n"


def test_a_selective_restore_of_a_name_that_is_not_utf8_is_recorded(service, tmp_path):
    root = tmp_path / "legacy"
    root.mkdir()
    name = os.fsdecode(b"caf\xe9.conf")  # Latin-1, as an old tarball leaves it
    (root / name).write_text("kept\n")
    service.add_environment("legacy", root, version="1.0")
    backup = service.create_backup("legacy")
    (root / name).write_text("edited\n")

    service.restore_backup("legacy", backup.id, only=[name])

    assert (root / name).read_text() == "kept\n"
    assert "partial: only caf\\xe9.conf" in service.activity("legacy")[0].detail


@needs_rsync
def test_the_preview_names_excluded_files_removed_with_their_folder(service, tmp_path, billing):
    # Excluded paths are left as they are, except where the restore removes their folder.
    root, backup = billing
    service.set_excludes("billing", ["*.log", "cache/"])
    (root / "build" / "cache").mkdir(parents=True)  # a folder the backup does not have
    (root / "build" / "run.log").write_text("excluded\n")
    (root / "build" / "cache" / "blob").write_text("excluded with its folder\n")
    (root / "app.log").write_text("excluded, and kept\n")
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("billing", backup.id)
    service.restore_backup("billing", backup.id)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert {"build/run.log", "build/cache", "build/cache/blob"} <= {
        change.path for change in preview.changes
    }
    assert (root / "app.log").read_text() == "excluded, and kept\n"


@needs_rsync
@pytest.mark.parametrize("backed_up_as", ["file", "link"])
def test_the_preview_names_an_excluded_folder_the_backup_puts_a_file_in_place_of(
    service, tmp_path, backed_up_as
):
    # "cache/" excludes folders only: the backup's file of that name is restored, and the
    # folder goes with all it holds, as rsync does. The preview must say so, not "added".
    root = tmp_path / "billing"
    make_config_tree(root)
    service.add_environment("billing", root, version="4.2.0")
    if backed_up_as == "file":
        (root / "conf.d" / "cache").write_text("a file in the backup\n")
    else:
        os.symlink("/var/cache/billing", root / "conf.d" / "cache")
    backup = service.create_backup("billing")
    (root / "conf.d" / "cache").unlink()
    (root / "conf.d" / "cache" / "pages").mkdir(parents=True)
    (root / "conf.d" / "cache" / "pages" / "index.html").write_text("cached\n")
    service.set_excludes("billing", ["cache/"])

    kinds = _restored_as_previewed(service, tmp_path, root, backup)

    assert kinds["conf.d/cache"] == (ChangeKind.KIND,)
    assert kinds["conf.d/cache/pages/index.html"] == (ChangeKind.REMOVED,)


def _restored_as_previewed(service, tmp_path, root, backup) -> dict[str, tuple[ChangeKind, ...]]:
    """Preview a restore of `backup` into billing, then restore it: the preview names just
    what rsync says changed, and is the report kept. How each path changed."""
    before = snapshot(root, tmp_path / "before")

    preview = service.preview_restore("billing", backup.id)
    service.restore_backup("billing", backup.id)

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert service.restore_report(service.activity("billing")[0].id) == preview
    return {change.path: change.kinds for change in preview.changes}


@needs_rsync
@pytest.mark.skipif(not AS_ROOT, reason="making a device file needs root (CI runs as root)")
def test_the_preview_names_every_device_file_a_restore_takes_away(service, tmp_path, billing):
    # No backup holds a device file and a restore leaves one as it is, except where the
    # backup puts something at its path or takes away its folder: then it goes, as rsync
    # says, and the preview must name it so.
    root, backup = billing
    os.mknod(root / "app.yaml.lock", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # left alone
    (root / "VERSION").unlink()
    os.mknod(root / "VERSION", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # the backup's file
    (root / "conf.d" / "cache.ini").unlink()
    (root / "conf.d" / "cache.ini").mkdir()  # a folder where the backup has a file
    os.mknod(root / "conf.d" / "cache.ini" / "tty", 0o600 | stat.S_IFCHR, os.makedev(5, 0))
    (root / "spool").mkdir()  # a folder the backup does not have
    os.mknod(root / "spool" / "disk", 0o660 | stat.S_IFBLK, os.makedev(7, 200))

    kinds = _restored_as_previewed(service, tmp_path, root, backup)

    assert kinds["VERSION"] == (ChangeKind.KIND,)
    assert kinds["conf.d/cache.ini/tty"] == kinds["spool/disk"] == (ChangeKind.REMOVED,)
    assert stat.S_ISCHR((root / "app.yaml.lock").lstat().st_mode)


def test_a_selective_restore_of_a_path_outside_the_folder_is_refused(service, tmp_path, billing):
    _root, backup = billing

    with pytest.raises(InvalidInputError, match="cannot be restored on its own"):
        service.restore_backup("billing", backup.id, only=["../etc"])


def test_a_selective_restore_of_a_path_in_neither_the_backup_nor_the_folder_changes_nothing(
    service, tmp_path, billing
):
    root, backup = billing
    mess_up(root)
    messed = describe_tree(root)
    activity = service.activity("billing")

    for ask in (service.preview_restore, service.restore_backup):
        with pytest.raises(NotFoundError, match=r"There is no 'conf\.d/typo' in .*nothing was"):
            ask("billing", backup.id, only=["app.yaml", "conf.d/typo"])

    assert describe_tree(root) == messed
    assert service.activity("billing") == activity


def test_a_selective_restore_of_a_path_only_reached_through_a_link_is_refused(
    service, tmp_path, billing
):
    # make_config_tree's db.ini is a link to conf.d/database.ini; here a folder is one too.
    root, backup = billing
    (root / "conf.d" / "database.ini").write_text("[db]\nhost=elsewhere\n")
    os.symlink("conf.d", root / "cfg")
    edited = describe_tree(root)

    for ask in (service.preview_restore, service.restore_backup):
        with pytest.raises(
            NotFoundError,
            match=r"'cfg/database\.ini' goes through 'cfg', a link to 'conf\.d' .* name the "
            r"path it leads to \('conf\.d/database\.ini'\) in the folder, or 'cfg' for the",
        ):
            ask("billing", backup.id, only=["cfg/database.ini"])
    assert describe_tree(root) == edited

    # Where the backup holds the path, the link gives way to its folder as it was.
    (root / "cfg").unlink()
    (root / "cfg").mkdir()
    (root / "cfg" / "site.ini").write_text("[site]\n")
    with_folder = service.create_backup("billing")
    shutil.rmtree(root / "cfg")
    os.symlink("conf.d", root / "cfg")
    service.restore_backup("billing", with_folder.id, only=["cfg/site.ini"])
    assert (root / "cfg" / "site.ini").read_text() == "[site]\n"
    assert not (root / "cfg").is_symlink()


def test_a_restore_keeps_what_it_changed_with_its_activity_entry(service, tmp_path, billing):
    root, backup = billing
    mess_up(root)
    preview = service.preview_restore("billing", backup.id)

    service.restore_backup("billing", backup.id, backup_first=True)

    restored, *earlier = service.activity("billing")
    assert service.restore_report(restored.id) == preview
    assert all(service.restore_report(entry.id) is None for entry in earlier)


@pytest.mark.parametrize("previewed", [False, True], ids=["at a terminal", "previewed"])
def test_a_restore_reports_the_file_its_pre_restore_command_left_as_removed(
    service, billing, previewed
):
    root, backup = billing
    saves_its_state = RestoreCommand(argv=["sh", "-c", "echo 'sessions: 42' > state.saved"])
    service.set_restore_command("billing", "pre", saves_its_state)
    mess_up(root)
    preview = service.preview_restore("billing", backup.id)

    service.restore_backup(
        "billing", backup.id, backup_first=True, previewed=preview if previewed else None
    )

    assert not (root / "state.saved").exists()  # not in the backup: the swap took it away
    report = service.restore_report(service.activity("billing")[0].id)
    removed = [c for c in report.changes if c.path == "state.saved"]
    assert [c.kinds for c in removed] == [(ChangeKind.REMOVED,)]
    # The rest as previewed; the folder's own time moved as the command added its file.
    assert [c for c in report.changes if c.path not in (".", "state.saved")] == [
        c for c in preview.changes if c.path != "."
    ]


def test_a_restore_works_out_its_report_once_its_first_files_are_written(service, tmp_path):
    # Not before: preparing the writing (which files, from where) in the same interpreter,
    # the restore would wait for both.
    root = tmp_path / "billing"
    make_config_tree(root, files=2000)
    service.add_environment("billing", root, version="4.2.0")
    backup = service.create_backup("billing")
    mess_up(root)
    preview = service.preview_restore("billing", backup.id)
    working_out: list[tuple[int, bool]] = []

    def look(progress: Progress) -> None:
        if progress.phase == "restoring":
            threads = {thread.name for thread in threading.enumerate()}
            working_out.append((progress.done, "envops-report" in threads))

    service.restore_backup("billing", backup.id, progress=look)

    assert working_out[0] == (0, False)
    assert service.restore_report(service.activity("billing")[0].id) == preview


@pytest.mark.parametrize(
    ("folder", "excludes", "beside"),
    [("emptied", [], True), ("as it was", [], False), ("emptied", ["*.log"], True)],
)
def test_a_big_restore_works_out_its_report_beside_the_writing_only_when_that_holds_little(
    service, monkeypatch, billing, folder, excludes, beside
):
    # A backup bigger than the limit: its report is worked out while its files are written
    # only if the folder's side of it is small, excludes or not.
    monkeypatch.setattr(restore_steps, "_REPORT_BESIDE_WRITING_UP_TO", 5)
    root, backup = billing
    service.set_excludes("billing", excludes)
    if folder == "emptied":
        shutil.rmtree(root)
        (root / "build").mkdir(parents=True)  # not in the backup: removed, with what it holds
        (root / "build" / "run.log").write_text("excluded, and lost with its folder\n")
    else:
        mess_up(root)
    preview = service.preview_restore("billing", backup.id)
    worked_out_on: list[str] = []
    report = replacements.changes_json

    def watched(*args, **kwargs):
        worked_out_on.append(threading.current_thread().name)
        return report(*args, **kwargs)

    monkeypatch.setattr(replacements, "changes_json", watched)
    service.restore_backup("billing", backup.id)

    assert worked_out_on == ["envops-report" if beside else threading.current_thread().name]
    assert service.restore_report(service.activity("billing")[0].id) == preview
    if folder == "emptied":
        assert "build/run.log" in {change.path for change in preview.changes}


def test_a_folder_is_modified_since_its_last_backup_until_backed_up_or_restored(service, tmp_path):
    root = tmp_path / "billing"
    make_config_tree(root)
    service.add_environment("billing", root, version="4.2.0")
    assert service.modified_since_backup("billing") is None  # no backup yet
    backup = service.create_backup("billing")
    assert service.modified_since_backup("billing") is False

    (root / "app.yaml").write_text("server:\n  port: 1\n")
    assert service.modified_since_backup("billing") is True

    service.restore_backup(
        "billing", backup.id, backup_first=True
    )  # its backup first holds the edit
    assert service.modified_since_backup("billing") is False
    (root / "conf.d" / "cache.ini").chmod(0o600)
    assert service.modified_since_backup("billing") is True
    service.create_backup("billing")
    assert service.modified_since_backup("billing") is False


@pytest.mark.skipif(not scanning._BY_DESCRIPTOR, reason="statuses here come with the listing")
@pytest.mark.parametrize("gone", ["a lock file that came and went", "a file of the backup"])
def test_a_file_removed_as_the_folder_is_checked_for_changes_is_judged_as_gone(
    service, tmp_path, monkeypatch, gone
):
    root = tmp_path / "billing"
    make_config_tree(root)
    service.add_environment("billing", root, version="4.2.0")
    service.create_backup("billing")
    name = "app.pid" if gone.startswith("a lock") else "app.yaml"
    folder_time = root.stat().st_mtime_ns
    (root / name).write_text("42\n")
    os.utime(root, ns=(folder_time, folder_time))  # as a lock file's coming and going leaves it
    lstat = os.lstat

    def removed_as_it_is_looked_at(entry, *args, **kwargs):
        if entry == name:
            os.unlink(entry, dir_fd=kwargs.get("dir_fd"))
        return lstat(entry, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", removed_as_it_is_looked_at)
    modified = service.modified_since_backup("billing")
    assert modified is (name == "app.yaml")


def test_a_preview_lists_the_xattrs_only_of_files_changed_since_they_were_backed_up(
    settled, service, tmp_path, xattrs_listed
):
    # Any change to a file's xattrs moves its ctime, so the hash cache, which keeps each
    # file's xattrs as of its ctime, answers for the files that have not changed since; a
    # preview listed every file's (20,000 calls for the 1 GiB tree).
    root = tmp_path / "billing"
    make_config_tree(root)
    os.setxattr(root / "app.yaml", "user.origin", b"deploy-42")
    os.setxattr(root / "hooks.sh", "user.origin", b"deploy-42")
    made_long_ago(root)
    service.add_environment("billing", root, version="4.2.0")
    backup = service.create_backup("billing")
    os.setxattr(root / "app.yaml", "user.origin", b"deploy-43")
    (root / "conf.d" / "cache.ini").write_text("[cache]\nttl=1\n")
    xattrs_listed.clear()

    preview = service.preview_restore("billing", backup.id)

    files = {str(root / e.path) for e in service.backup_entries(backup.id) if e.sha256}
    assert files & set(xattrs_listed.by_name) == {
        str(root / "app.yaml"),
        str(root / "conf.d" / "cache.ini"),
    }
    restored = service.restore_to_folder(backup.id, tmp_path / "as backed up")
    assert {c.path for c in preview.changes} == changed_by_rsync(root, restored)


def test_an_unchanged_folder_is_known_unmodified_without_reading_its_files(
    settled, service, tmp_path, xattrs_listed
):
    # A folder as its last backup found it is told by the quick scan's digest alone, with
    # no file's content or xattrs read; a change only to xattrs or to the folder's own mode
    # still shows.
    root = tmp_path / "billing"
    make_config_tree(root)
    os.setxattr(root / "app.yaml", "user.origin", b"deploy-42")
    made_long_ago(root)
    service.add_environment("billing", root, version="4.2.0")
    backup = service.create_backup("billing")
    xattrs_listed.clear()

    assert service.modified_since_backup("billing") is False
    files = {str(root / e.path) for e in service.backup_entries(backup.id) if e.sha256}
    assert not files & set(xattrs_listed)

    os.setxattr(root / "app.yaml", "user.origin", b"deploy-43")  # no mtime, no size moves
    assert service.modified_since_backup("billing") is True
    service.create_backup("billing")
    assert service.modified_since_backup("billing") is False
    root.chmod(0o700)
    assert service.modified_since_backup("billing") is True


def test_a_restore_whose_preview_is_out_of_date_changes_nothing_and_says_what_it_would_now(
    service, tmp_path, billing
):
    root, backup = billing
    mess_up(root)
    previewed = service.preview_restore("billing", backup.id)
    (root / "conf.d" / "later.ini").write_text("[changed after the preview]\n")
    as_it_was = snapshot(root, tmp_path / "as_it_was")

    with pytest.raises(PreviewOutOfDateError) as out_of_date:
        service.restore_backup("billing", backup.id, backup_first=True, previewed=previewed)

    assert rsync_differences(as_it_was, root, "--delete", "--modify-window=-1") == []
    assert len(service.list_backups("billing")) == 1  # not even its backup first
    assert "conf.d/later.ini" in {c.path for c in out_of_date.value.changes.changes}
    now = service.preview_restore("billing", backup.id)
    service.restore_backup("billing", backup.id, previewed=now, only=["conf.d"])
    assert not (root / "conf.d" / "later.ini").exists()


def test_a_restore_of_a_folder_as_it_was_previewed_does_not_compare_it_again(
    service, tmp_path, billing, settled, monkeypatch
):
    # Comparing 200,000 paths takes 3-4 s: the restore's check finds the folder as the
    # preview saw it by a quick scan's name, and keeps the preview as its report.
    root, backup = billing
    mess_up(root)
    time.sleep(0.05)  # past the tick of a file's last change
    previewed = service.preview_restore("billing", backup.id)
    assert previewed.fingerprint is not None
    compared_on = threads_calling(monkeypatch, tree_diff, "live_tree")

    service.restore_backup("billing", backup.id, previewed=previewed)

    assert compared_on == []
    entry = service.query_activity(ActivityQuery(), None, 1)[0]
    assert entry.action is ActivityAction.BACKUP_RESTORED
    assert service.restore_report(entry.id).changes == previewed.changes
    assert service.preview_restore("billing", backup.id).changes == ()


def _edited_in_place(root: Path) -> None:
    # The same size, and its mtime put back: only its ctime tells.
    path = root / "conf.d" / "database.ini"
    before = path.stat()
    path.write_bytes(path.read_bytes().replace(b"pool=20", b"pool=21"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def _renamed_over(root: Path) -> None:
    # Another file, the same bytes and times, moved over it: only its inode tells.
    original = root / "conf.d" / "database.ini"
    twin = root / "twin.ini"
    shutil.copy2(original, twin)
    twin.write_bytes(original.read_bytes().replace(b"pool=20", b"pool=99"))
    os.utime(twin, ns=(original.stat().st_atime_ns, original.stat().st_mtime_ns))
    twin.rename(original)


CHANGED_SINCE_THE_PREVIEW = {
    "content, same size and time": _edited_in_place,
    "a file moved over it": _renamed_over,
    "an xattr": lambda root: os.setxattr(root / "VERSION", "user.note", b"edited"),
    "a mode": lambda root: (root / "certs" / "server.key").chmod(0o644),
    "a hardlink": lambda root: os.link(root / "VERSION", root / "VERSION.bak"),
    "a link retargeted": lambda root: (
        (root / "plugins" / "enabled" / "audit.so").unlink(),
        os.symlink("../other.so", root / "plugins" / "enabled" / "audit.so"),
    ),
    "an empty folder": lambda root: (root / "certs" / "old").mkdir(),
    "the folder's mode": lambda root: root.chmod(0o711),
}
if AS_ROOT:
    CHANGED_SINCE_THE_PREVIEW["an owner"] = lambda root: os.chown(root / "VERSION", 1, 1)


@pytest.mark.parametrize("change", CHANGED_SINCE_THE_PREVIEW)
def test_any_change_after_a_settled_preview_makes_it_out_of_date(
    service, tmp_path, billing, settled, change
):
    root, backup = billing
    mess_up(root)
    time.sleep(0.05)
    previewed = service.preview_restore("billing", backup.id)
    assert previewed.fingerprint is not None  # named, so the restore may trust the name
    time.sleep(0.05)  # a change in the preview's tick could not be told (so none is named)
    CHANGED_SINCE_THE_PREVIEW[change](root)
    as_it_was = snapshot(root, tmp_path / "as_it_was")

    with pytest.raises(PreviewOutOfDateError):
        service.restore_backup("billing", backup.id, previewed=previewed)

    assert rsync_differences(as_it_was, root, "--delete", "--modify-window=-1") == []


def test_an_excluded_file_made_after_the_preview_in_a_folder_the_restore_removes_stops_it(
    service, tmp_path, billing, settled
):
    # The preview names the excluded files the restore takes away with their folder; a
    # scan never sees them, so one written since must still make the preview out of date.
    root, backup = billing
    service.set_excludes("billing", ["*.log"])
    (root / "extra").mkdir()
    (root / "extra" / "first.log").write_text("kept by no backup\n")
    time.sleep(0.05)
    previewed = service.preview_restore("billing", backup.id)
    assert "extra/first.log" in {c.path for c in previewed.changes}
    time.sleep(0.05)
    folder = (root / "extra").stat()
    (root / "extra" / "second.log").write_text("written since\n")
    os.utime(root / "extra", ns=(folder.st_atime_ns, folder.st_mtime_ns))  # as `tar -x` would

    with pytest.raises(PreviewOutOfDateError) as out_of_date:
        service.restore_backup("billing", backup.id, previewed=previewed)

    assert "extra/second.log" in {c.path for c in out_of_date.value.changes.changes}
    assert (root / "extra" / "second.log").exists()


@pytest.fixture
def with_excluded_logs(service, billing):
    """billing excluding its logs, with logs in a folder its backup does not hold (so a
    restore takes them away with it) and in a folder of their own, messed up since."""
    root, backup = billing
    service.set_excludes("billing", ["*.log", "cache/"])
    (root / "extra" / "deep").mkdir(parents=True)
    (root / "extra" / "first.log").write_text("kept by no backup\n")
    (root / "extra" / "cache" / "pages").mkdir(parents=True)
    (root / "extra" / "cache" / "pages" / "1.html").write_text("<p>one</p>\n")
    mess_up(root)
    return root, backup


def test_a_restore_with_excludes_previewed_on_an_unchanged_folder_does_not_compare_it_again(
    service, with_excluded_logs, settled, monkeypatch
):
    root, backup = with_excluded_logs
    time.sleep(0.05)
    previewed = service.preview_restore("billing", backup.id)
    assert {"extra/first.log", "extra/cache/pages/1.html"} <= {c.path for c in previewed.changes}
    assert previewed.fingerprint is not None
    compared_on = threads_calling(monkeypatch, tree_diff, "live_tree")

    service.restore_backup("billing", backup.id, previewed=previewed)

    assert compared_on == []
    assert not (root / "extra").exists()
    entry = service.query_activity(ActivityQuery(), None, 1)[0]
    assert service.restore_report(entry.id).changes == previewed.changes


EXCLUDED_CHANGED_SINCE_THE_PREVIEW = {
    "a log beside the others": lambda root: (root / "extra" / "second.log").write_text("+\n"),
    "a page deep in an excluded folder": lambda root: (
        root / "extra" / "cache" / "pages" / "2.html"
    ).write_text("<p>two</p>\n"),
    "an excluded folder made": lambda root: (root / "extra" / "deep" / "cache").mkdir(),
    "a log gone": lambda root: (root / "extra" / "first.log").unlink(),
}


@pytest.mark.parametrize("change", EXCLUDED_CHANGED_SINCE_THE_PREVIEW)
def test_what_changes_in_excluded_paths_the_restore_would_take_away_stops_it(
    service, tmp_path, with_excluded_logs, settled, change
):
    root, backup = with_excluded_logs
    time.sleep(0.05)
    previewed = service.preview_restore("billing", backup.id)
    assert previewed.fingerprint is not None
    folders = {p: p.stat() for p in root.glob("extra/**") if p.is_dir()}

    EXCLUDED_CHANGED_SINCE_THE_PREVIEW[change](root)
    for folder, before in folders.items():  # as `tar -x` would leave them
        if folder.exists():
            os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    as_it_was = snapshot(root, tmp_path / "as_it_was")

    with pytest.raises(PreviewOutOfDateError):
        service.restore_backup("billing", backup.id, previewed=previewed)

    assert rsync_differences(as_it_was, root, "--delete", "--modify-window=-1") == []


def test_what_changes_since_the_preview_in_paths_left_alone_does_not_stop_the_restore(
    service, tmp_path, billing
):
    # The service keeps writing its log, so the user unticked it; new files appear beside
    # it, which moves the folder's own mtime, and another unticked file changes its mode.
    root, backup = billing
    mess_up(root)
    (root / "service.log").write_text("started\n")
    previewed = service.preview_restore("billing", backup.id)
    with (root / "service.log").open("a") as log:
        log.write("handled a request\n")
    (root / "service.pid").write_text("4242\n")
    (root / "hooks.sh").chmod(0o700)
    left_alone = snapshot(root, tmp_path / "left alone")

    service.restore_backup("billing", backup.id, previewed=previewed, only=["conf.d", "app.yaml"])

    assert (root / "service.log").read_text() == "started\nhandled a request\n"
    chosen = ("--exclude=/conf.d", "--exclude=/app.yaml")
    assert rsync_differences(left_alone, root, "--delete", "--modify-window=-1", *chosen) == []
    assert service.preview_restore("billing", backup.id, only=["conf.d", "app.yaml"]).changes == ()


def test_a_path_ticked_in_a_preview_and_gone_since_makes_the_preview_out_of_date(service, billing):
    root, backup = billing
    mess_up(root)
    previewed = service.preview_restore("billing", backup.id)
    (root / "conf.d" / "new.ini").unlink()  # the one path ticked, gone before Restore

    with pytest.raises(PreviewOutOfDateError):
        service.restore_backup("billing", backup.id, previewed=previewed, only=["conf.d/new.ini"])


@needs_rsync
def test_the_preview_of_an_import_names_exactly_the_paths_the_import_changes(service, tmp_path):
    root = tmp_path / "billing"
    make_config_tree(root)
    os.chmod(root / "hooks.sh", 0o4755)  # a power a configuration file does not bring
    service.add_environment("billing", root, version="4.2.0")
    backup = service.create_backup("billing")
    exported = service.export_backup(backup.id, tmp_path / "billing.envops.zip")
    time.sleep(0.01)
    mess_up(root)
    before = snapshot(root, tmp_path / "before")
    checked = service.check_configuration_file(exported, allow_external_links=True)

    preview = service.preview_import("billing", checked)
    service.import_configuration_file("billing", service.check_configuration_file(exported))

    assert {change.path for change in preview.changes} == changed_by_rsync(before, root)
    assert {c.path: c.kinds for c in preview.changes}["hooks.sh"] == (ChangeKind.MODE,)
    assert preview.after == "billing.envops.zip"


@needs_rsync
def test_an_import_into_an_empty_folder_adds_exactly_what_its_preview_names(
    service, tmp_path, monkeypatch
):
    # As a restore into an empty folder: only the folder itself is laid out, under the
    # file's policy (a setuid bit it does not bring), every entry added.
    root = tmp_path / "billing"
    make_config_tree(root)
    os.chmod(root / "hooks.sh", 0o4755)
    service.add_environment("billing", root, version="4.2.0")
    exported = service.export_backup(
        service.create_backup("billing").id, tmp_path / "billing.envops.zip"
    )
    spare = tmp_path / "spare"
    spare.mkdir()
    service.add_environment("spare", spare, version="4.2.0")
    before = snapshot(spare, tmp_path / "before")
    checked = service.check_configuration_file(exported, allow_external_links=True)
    laid_out = []
    real = tree_diff.to_apply
    monkeypatch.setattr(tree_diff, "to_apply", lambda *a: laid_out.append(a) or real(*a))

    preview = service.preview_import("spare", checked)
    laid_out_for_it = len(laid_out)
    service.import_configuration_file("spare", service.check_configuration_file(exported))

    assert laid_out_for_it == 1  # the folder's own
    assert {change.path for change in preview.changes} == changed_by_rsync(before, spare)
    assert all(c.kinds == (ChangeKind.ADDED,) for c in preview.changes if c.path != ".")
    assert stat.S_IMODE((spare / "hooks.sh").stat().st_mode) == 0o755
    assert service.preview_import("spare", checked).changes == ()


@pytest.fixture
def exported(service, tmp_path, billing):
    """billing's backup as a configuration file, and billing messed up since."""
    root, backup = billing
    exported = service.export_backup(backup.id, tmp_path / "billing.envops.zip")
    time.sleep(0.01)
    mess_up(root)
    return exported


def test_an_import_whose_preview_is_out_of_date_changes_nothing_and_keeps_the_file(
    service, tmp_path, billing, exported
):
    root, _backup = billing
    staged = service.stage_configuration_file(exported)
    previewed = service.preview_import("billing", staged)
    (root / "conf.d" / "later.ini").write_text("[changed after the preview]\n")
    as_it_was = snapshot(root, tmp_path / "as_it_was")
    backups = service.list_backups("billing")

    with pytest.raises(PreviewOutOfDateError, match="nothing was imported") as out_of_date:
        service.import_configuration("billing", staged, backup_first=True, previewed=previewed)

    assert rsync_differences(as_it_was, root, "--delete", "--modify-window=-1") == []
    assert service.list_backups("billing") == backups  # neither a backup first nor the file's
    assert "conf.d/later.ini" in {c.path for c in out_of_date.value.changes.changes}
    # Still staged: imported once its new preview is seen.
    now = service.preview_import("billing", staged)
    service.import_configuration("billing", staged, previewed=now)
    assert not (root / "conf.d" / "later.ini").exists()
    assert service.restore_report(service.activity("billing")[0].id) == now


def test_an_import_into_a_folder_as_it_was_previewed_does_not_compare_it_again(
    service, billing, exported, settled, monkeypatch
):
    # As a restore's: a file of 200,000 paths took its 4 s comparison twice, once for the
    # dialog and again when Import was pressed.
    staged = service.stage_configuration_file(exported)
    time.sleep(0.05)  # past the tick of a file's last change
    previewed = service.preview_import("billing", staged)
    assert previewed.fingerprint is not None
    compared_on = threads_calling(monkeypatch, tree_diff, "live_tree")

    service.import_configuration("billing", staged, previewed=previewed)

    assert compared_on == []
    assert service.restore_report(service.activity("billing")[0].id) == previewed
    assert (
        service.preview_import("billing", service.stage_configuration_file(exported)).changes == ()
    )


def test_the_preview_of_another_file_of_the_same_name_is_out_of_date_for_this_one(
    service, tmp_path, billing, exported, settled
):
    # Same name, same folder untouched since: only what the files hold tells them apart.
    root, _backup = billing
    service.create_backup("billing")  # billing as messed up
    other = service.export_backup(service.list_backups("billing")[0].id, tmp_path / "b.zip")
    same_name = tmp_path / "elsewhere" / exported.name
    same_name.parent.mkdir()
    other.rename(same_name)
    (root / "conf.d" / "later.ini").write_text("[after both backups]\n")
    time.sleep(0.05)
    previewed = service.preview_import("billing", service.stage_configuration_file(exported))
    assert previewed.fingerprint is not None
    as_it_was = snapshot(root, tmp_path / "as_it_was")
    staged = service.stage_configuration_file(same_name)

    with pytest.raises(PreviewOutOfDateError):
        service.import_configuration("billing", staged, previewed=previewed)

    assert rsync_differences(as_it_was, root, "--delete", "--modify-window=-1") == []


@pytest.mark.parametrize("way", ["uploaded first", "in one pass"])
def test_an_import_keeps_what_it_changed_with_its_activity_entry(service, exported, way):
    preview = service.preview_import("billing", service.check_configuration_file(exported))

    if way == "uploaded first":
        service.import_configuration("billing", service.stage_configuration_file(exported))
    else:
        service.import_configuration_file("billing", service.check_configuration_file(exported))

    imported = service.activity("billing")[0]
    assert imported.action is ActivityAction.CONFIGURATION_IMPORTED
    assert service.restore_report(imported.id) == preview
    assert preview.changes and preview.after == "billing.envops.zip"


def test_a_file_that_cannot_be_read_is_shown_as_modified_not_an_error(
    service, tmp_path, billing, monkeypatch
):
    root, backup = billing
    (root / "app.yaml").write_text("server:\n  port: 1\n")
    from envops_desktop.service import tree_diff

    def vanished(path):
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(tree_diff, "sha256_of_file", vanished)  # gone between scan and read

    changes = {c.path: c.kinds for c in service.preview_restore("billing", backup.id).changes}

    assert ChangeKind.MODIFIED in changes["app.yaml"]
