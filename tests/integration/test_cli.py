"""The `envops` command line: its contract of commands, JSON output and exit codes."""

import fcntl
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from time import monotonic, tzset
from zoneinfo import ZoneInfo

import pytest

from envops_desktop.cli import commands as cli_commands
from envops_desktop.cli import main
from envops_desktop.service import EnvOpsService
from envops_desktop.service.flushing import current_boot_id, settle_in_background
from envops_desktop.store.database import DATABASE_NAME
from envops_desktop.store.timestamps import utc_now
from tests.disks import needs_root_to_mount, small_disk
from tests.meanwhile import after_the_backup_scan
from tests.privileges import as_an_ordinary_user, given_to
from tests.store_view import (
    damage_blob,
    damage_table,
    flipped_bit,
    leave_unreferenced_content,
    tamper_with_manifest,
)
from tests.terminal import CommandAtATerminal
from tests.trees import describe_tree, made_long_ago, make_config_tree, mess_up
from tests.zips import configuration_owned_by_another_user, simple_configuration

REPO = Path(__file__).parents[2]


@pytest.fixture
def cli(tmp_path, capsys):
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def billing(cli, tmp_path) -> Path:
    root = tmp_path / "billing"
    make_config_tree(root)
    assert cli("env", "add", "billing", "--path", str(root), "--version", "4.2.0")[0] == 0
    return root


def test_help_runs_as_an_installed_command():
    result = subprocess.run(
        [sys.executable, "-m", "envops_desktop.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0
    for command in ("env", "backup", "restore", "import", "activity", "verify"):
        assert command in result.stdout


@pytest.mark.parametrize(
    "before",
    [[], ["--data-dir", "/srv/envops"], ["--data-dir=/srv/envops"], ["--data", "restore"]],
    ids=["alone", "after-data-dir", "data-dir-equals", "abbreviated-data-dir-named-restore"],
)
def test_the_help_of_every_command_shows_its_own_arguments(capsys, before):
    # Only the command named gets its arguments built: each must still find its own.
    own = {
        "env": "add,list,show,update,remove",
        "backup": "create,list",
        "restore": "--dry-run",
        "diff": "live: its folder",
        "import": "--root-folder",
        "activity": "--limit",
        "store": "use,sync,copy",
        "schedule": "set,show,run",
        "retention": "show,apply,set",
        "verify": "--json",
        "gc": "--dry-run",
    }
    for command, shown in own.items():
        with pytest.raises(SystemExit) as ended:
            main([*before, command, "--help"])
        assert ended.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: envops {command}"), out
        for word in shown.split(","):
            assert word in out, (command, word)


def test_backup_restore_round_trip_from_the_command_line(cli, billing):
    original = describe_tree(billing)
    code, out, _ = cli("backup", "create", "billing", "--name", "golden", "--json")
    assert code == 0
    backup = json.loads(out)
    mess_up(billing)
    code, out, _ = cli("restore", "billing", backup["id"][:10], "--yes")
    assert code == 0 and "restored to golden" in out
    assert describe_tree(billing) == original


def test_a_backup_names_what_it_left_out_as_files_were_removed(cli, billing, monkeypatch):
    after_the_backup_scan(monkeypatch, (billing / "hooks.sh").unlink)
    code, out, _ = cli("backup", "create", "billing")

    assert code == 0
    created, left_out = out.splitlines()
    assert created.startswith("Created backup ") and ": 6 files" in created  # of 7
    assert left_out == (
        "Not backed up: hooks.sh (removed while it was being backed up: not in this backup)"
    )


def test_a_file_dated_past_2262_is_backed_up_with_the_latest_time_envops_keeps(
    cli, billing, tmp_path
):
    # A wrong clock's or a damaged archive's year 2300 is past what 64 bits of nanoseconds
    # hold: the backup ended in an OverflowError traceback, and so did every one after it.
    year_2300_ns = int(datetime(2300, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp()) * 10**9
    for path in (billing / "app.yaml", billing / "conf.d"):
        os.utime(path, ns=(year_2300_ns, year_2300_ns))

    code, out, _ = cli("backup", "create", "billing")
    restored = tmp_path / "restored"
    assert cli("restore", "billing", "latest", "--to", str(restored))[0] == 0

    assert code == 0
    assert out.splitlines()[1:] == [
        f"Not backed up: {path} (its modification time, in the year 2300, lies after 2262, "
        "the latest EnvOps keeps: a restore gives it 2262-04-11 23:47 UTC instead)"
        for path in ("app.yaml", "conf.d")
    ]
    assert (restored / "app.yaml").read_bytes() == (billing / "app.yaml").read_bytes()
    for path in ("app.yaml", "conf.d"):
        assert (restored / path).stat().st_mtime_ns == 2**63 - 1


def test_restore_dry_run_lists_the_changes_and_changes_nothing(cli, billing):
    backup = json.loads(cli("backup", "create", "billing", "--name", "golden", "--json")[1])
    mess_up(billing)
    messed_up = describe_tree(billing)

    code, out, _ = cli("restore", "billing", "golden", "--dry-run")
    listed = json.loads(cli("restore", "billing", "golden", "--dry-run", "--json")[1])

    assert code == 0 and describe_tree(billing) == messed_up
    lines = out.splitlines()
    assert "modified, mtime          app.yaml  (18 B → 50 B)" in lines
    assert lines[-1] == (
        "live → golden: 3 added, 1 modified, 1 removed, 3 changed only in metadata."
    )
    kinds = {change["path"]: change["kinds"] for change in listed["changes"]}
    assert kinds["conf.d/cache.ini"] == ["added"] and kinds["conf.d/new.ini"] == ["removed"]
    assert listed["counts"]["added"] == 3  # the empty folder and the link put back too
    assert [e["action"] for e in json.loads(cli("activity", "--json")[1])] == [
        "backup created",
        "environment added",
    ]
    assert backup["name"] == "golden"


def test_restore_and_import_with_json_print_what_they_changed_as_the_dry_run_listed_it(
    cli, billing, tmp_path
):
    backup = json.loads(cli("backup", "create", "billing", "--name", "golden", "--json")[1])
    exported = tmp_path / "billing.envops.zip"
    assert cli("backup", "export", backup["id"], str(exported))[0] == 0

    for command in (("restore", "billing", "golden"), ("import", "billing", str(exported))):
        mess_up(billing)
        code, out, _ = cli(*command, "--dry-run", "--json")
        listed = json.loads(out)
        assert code == 0 and listed["counts"]["added"] == 3, command

        code, out, _ = cli(*command, "--yes", "--json")

        assert code == 0, command
        done = json.loads(out)  # JSON alone: no sentence around it
        assert done["changes"] == listed["changes"] and done["counts"] == listed["counts"]
        assert done == json.loads(cli("activity", "--changes", _newest_restore(cli), "--json")[1])

    old = tmp_path / "old"
    code, out, err = cli("restore", "billing", backup["id"], "--to", str(old), "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "backup": backup["id"],
        "folder": str(old),
        "files": backup["file_count"],
        "bytes": backup["total_bytes"],
    }


def _newest_restore(cli) -> str:
    entries = json.loads(cli("activity", "billing", "--json")[1])
    return str(next(e["id"] for e in entries if e["has_report"]))


def test_a_preview_or_a_compare_with_the_folder_gone_says_so_in_a_sentence(cli, billing, tmp_path):
    backup = json.loads(cli("backup", "create", "billing", "--name", "golden", "--json")[1])
    billing.rename(tmp_path / "moved away")

    for args in (
        ("restore", "billing", "golden", "--dry-run"),
        ("restore", "billing", "golden", "--dry-run", "--json"),
        ("diff", backup["id"], "live"),
        ("restore", "billing", "golden", "--yes"),
    ):
        code, out, err = cli(*args)
        assert (code, out) == (6, ""), args
        assert err.startswith(f"envops: The environment directory {billing} does not exist."), args
        if args[0] == "restore":  # and how to go on: not made here, its disk may be unmounted
            assert f"make an empty one there (mkdir {billing}) and restore again" in err, args

    billing.mkdir()
    assert cli("restore", "billing", "golden", "--yes")[0] == 0
    assert (billing / "app.yaml").exists()


def test_a_dry_run_lists_a_name_with_a_newline_or_an_escape_on_one_line(cli, billing):
    # Printed as it is, this name would add a line saying app.yaml is removed.
    cli("backup", "create", "billing", "--name", "golden")
    (billing / "notes\nremoved                  app.yaml").write_text("x\n")
    (billing / "\x1b[2Jcleared").write_text("y\n")

    code, out, _ = cli("restore", "billing", "golden", "--dry-run")
    listed = json.loads(cli("restore", "billing", "golden", "--dry-run", "--json")[1])

    assert code == 0 and "\x1b" not in out
    assert out.splitlines() == [
        "removed                  \\x1b[2Jcleared",  # in path order: before "."
        "mtime                    .",
        "removed                  notes\\nremoved                  app.yaml",
        "live → golden: 2 removed, 1 changed only in metadata.",
    ]
    assert {c["path"] for c in listed["changes"]} == {  # JSON says the names exactly
        ".",
        "\x1b[2Jcleared",
        "notes\nremoved                  app.yaml",
    }


def test_a_dry_run_tells_a_backslash_in_a_name_from_an_escape(cli, billing):
    # Both were listed as "notes\nold": one has a newline, the other a backslash and an n.
    cli("backup", "create", "billing", "--name", "golden")
    (billing / "notes\nold").write_text("x\n")
    (billing / "notes\\nold").write_text("y\n")

    code, out, _ = cli("restore", "billing", "golden", "--dry-run")

    assert code == 0
    removed = sorted(line.split(None, 1)[1] for line in out.splitlines()[:-1] if "notes" in line)
    assert removed == ["notes\\\\nold", "notes\\nold"]


def test_backup_list_json_names_an_extended_attribute_that_is_not_utf8_exactly(cli, billing):
    # pydantic's JSON refused the folder's attribute name as a key: a traceback, no list.
    os.setxattr(billing, b"user.caf\xe9", b"latin-1")
    cli("backup", "create", "billing")

    code, out, _ = cli("backup", "list", "billing", "--json")

    assert code == 0
    xattrs = json.loads(out)[0]["root_meta"]["xattrs"]
    assert [os.fsencode(name) for name in xattrs] == [b"user.caf\xe9"]


def test_a_dry_runs_json_names_a_name_that_is_not_utf8_exactly_for_only_to_take(cli, billing):
    # Its byte was written as the text "\\xff": the very name of another file, one that
    # holds a backslash, so a script handing the JSON's path to --only restored that one.
    odd = os.path.join(os.fsencode(billing), b"caf\xe9.conf")  # Latin-1, as old tools wrote
    looks_alike = billing / "caf\\xe9.conf"
    for path in (odd, looks_alike):
        with open(path, "w") as file:
            file.write("kept\n")
    cli("backup", "create", "billing", "--name", "golden")
    for path in (odd, looks_alike):
        with open(path, "w") as file:
            file.write("edited\n")

    listed = json.loads(cli("restore", "billing", "golden", "--dry-run", "--json")[1])
    paths = [os.fsencode(change["path"]) for change in listed["changes"]]
    assert sorted(paths) == [b"caf\\xe9.conf", b"caf\xe9.conf"]

    given = listed["changes"][paths.index(b"caf\xe9.conf")]["path"]
    code, _, err = cli("restore", "billing", "golden", "--yes", "--only", given)

    assert code == 0, err
    with open(odd) as file:
        assert file.read() == "kept\n"
    assert looks_alike.read_text() == "edited\n"


@pytest.fixture
def golden(cli, billing) -> tuple[dict, dict]:
    """billing backed up as golden, then messed up: its tree as backed up, and as it is."""
    wanted = describe_tree(billing)
    cli("backup", "create", "billing", "--name", "golden")
    mess_up(billing)
    return wanted, describe_tree(billing)


def _split(tree: dict, folder: str) -> tuple[dict, dict]:
    """A described tree's paths in `folder`, and the others."""
    inside = {p: v for p, v in tree.items() if p == folder or p.startswith(folder + "/")}
    return inside, {p: v for p, v in tree.items() if p not in inside}


def test_restore_to_a_folder_needs_no_confirmation_and_leaves_the_environment(
    cli, billing, golden, tmp_path
):
    wanted, messed = golden

    code, out, _ = cli("restore", "billing", "golden", "--to", str(tmp_path / "golden"))

    assert code == 0 and out.strip() == f"golden (4.2.0) was written to {tmp_path / 'golden'}."
    assert describe_tree(tmp_path / "golden") == wanted
    assert describe_tree(billing) == messed
    assert len(json.loads(cli("backup", "list", "billing", "--json")[1])) == 1  # none first


def test_restore_only_some_paths_from_the_command_line(cli, billing, golden):
    wanted, messed = golden

    dry = cli("restore", "billing", "golden", "--only", "conf.d", "--dry-run")[1].splitlines()
    code, _, _ = cli("restore", "billing", "golden", "--only", "conf.d/", "--yes")

    assert dry[-1] == "live → golden: 1 added, 1 removed, 1 changed only in metadata."
    now = describe_tree(billing)
    assert code == 0
    assert _split(now, "conf.d")[0] == _split(wanted, "conf.d")[0]
    assert _split(now, "conf.d")[1] == _split(messed, "conf.d")[1]
    assert (
        "partial: only conf.d" in json.loads(cli("activity", "billing", "--json")[1])[0]["detail"]
    )


def test_restore_only_takes_paths_as_the_shell_completes_them_and_refuses_a_typo(
    cli, billing, golden, monkeypatch
):
    wanted, messed = golden

    typo, _, said = cli("restore", "billing", "golden", "--only", "conf.d", "cnf.d", "--yes")
    assert typo == 6 and "There is no 'cnf.d' in golden or in the folder of billing" in said
    whole, _, said = cli("restore", "billing", "golden", "--only", str(billing), "--yes")
    assert whole == 1 and "is the whole folder of billing: leave out --only" in said
    assert describe_tree(billing) == messed
    monkeypatch.chdir(billing)
    code, _, _ = cli("restore", "billing", "golden", "--only", f"{billing}/conf.d/", "--yes")

    assert code == 0
    now = describe_tree(billing)
    assert _split(now, "conf.d")[0] == _split(wanted, "conf.d")[0]
    assert _split(now, "conf.d")[1] == _split(messed, "conf.d")[1]


def test_restore_only_takes_a_relative_path_typed_inside_the_folder_from_where_it_is_typed(
    cli, billing, golden, monkeypatch
):
    # As git takes a path: standing in conf.d, `cache.ini` (as the shell completes it) is
    # conf.d/cache.ini, and `../app.yaml` billing's app.yaml.
    wanted, messed = golden
    monkeypatch.chdir(billing / "conf.d")

    past, _, said = cli("restore", "billing", "golden", "--only", "../../x", "--yes")
    whole, _, told = cli("restore", "billing", "golden", "--only", "..", "--yes")
    code, _, _ = cli("restore", "billing", "golden", "--only", "cache.ini", "../app.yaml", "--yes")

    assert past == 1 and "climbs out of the environment" in said
    assert whole == 1 and "is the whole folder of billing" in told
    assert code == 0
    now = describe_tree(billing)
    for restored in ("conf.d/cache.ini", "app.yaml"):
        assert now[restored] == wanted[restored]
    assert now["conf.d/new.ini"] == messed["conf.d/new.ini"]  # not asked for: left
    assert now["hooks.sh"] == messed["hooks.sh"]
    detail = json.loads(cli("activity", "billing", "--json")[1])[0]["detail"]
    assert "conf.d/cache.ini" in detail


def test_restore_only_inside_a_folder_reached_through_a_link_takes_the_shells_name_for_it(
    cli, tmp_path, monkeypatch
):
    # billing added by a path through a link: the current folder's own name (with links
    # resolved) is not under it, the name the shell keeps in $PWD is.
    real = tmp_path / "disks" / "billing"
    make_config_tree(real)
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "billing").symlink_to(real)
    linked = tmp_path / "srv" / "billing"
    assert cli("env", "add", "billing", "--path", str(linked), "--version", "4.2.0")[0] == 0
    cli("backup", "create", "billing", "--name", "golden")
    wanted = describe_tree(real)
    mess_up(real)
    monkeypatch.setenv("PWD", str(linked / "conf.d"))

    monkeypatch.chdir(tmp_path)  # a $PWD left from elsewhere is not where it stands
    stale, _, said = cli("restore", "billing", "golden", "--only", "cache.ini", "--yes")
    monkeypatch.chdir(real / "conf.d")
    code, _, _ = cli("restore", "billing", "golden", "--only", "cache.ini", "--yes")

    assert stale == 6 and "There is no 'cache.ini' in golden" in said
    assert code == 0
    now = describe_tree(real)
    assert now["conf.d/cache.ini"] == wanted["conf.d/cache.ini"]
    assert "conf.d/new.ini" in now


def test_import_dry_run_lists_what_the_file_would_change(cli, billing, tmp_path):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    exported = tmp_path / "billing.envops.zip"
    assert cli("backup", "export", backup["id"], str(exported))[0] == 0
    mess_up(billing)
    messed = describe_tree(billing)

    code, out, _ = cli("import", "billing", str(exported), "--dry-run", "--json")

    listed = json.loads(out)
    assert code == 0 and describe_tree(billing) == messed
    assert listed["after"] == "billing.envops.zip"
    assert {c["path"]: c["kinds"] for c in listed["changes"]}["conf.d/new.ini"] == ["removed"]


def test_a_dry_run_of_a_restore_or_import_of_another_version_is_refused_as_they_are(
    cli, billing, tmp_path
):
    backup = json.loads(cli("backup", "create", "billing", "--name", "golden", "--json")[1])
    exported = tmp_path / "billing.envops.zip"
    assert cli("backup", "export", backup["id"], str(exported))[0] == 0
    archive = tmp_path / "billing.tar"
    subprocess.run(["tar", "-cf", str(archive), "-C", str(billing), "."], check=True)
    assert cli("env", "update", "billing", "--version", "4.3.0")[0] == 0
    before = describe_tree(billing)

    for args in (
        ("restore", "billing", "golden", "--dry-run"),
        ("restore", "billing", "golden", "--dry-run", "--json"),
        ("import", "billing", str(exported), "--dry-run"),
        ("import", "billing", str(archive), "--dry-run", "--version", "4.2.0"),
    ):
        code, out, err = cli(*args)
        assert (code, out) == (3, ""), args
        assert "but billing runs version 4.3.0; update the environment" in err, args

    assert describe_tree(billing) == before
    # Written to a folder of its own, a backup of another version is no trouble.
    code, out, _ = cli("restore", "billing", "golden", "--dry-run", "--to", str(tmp_path / "x"))
    assert code == 0 and f"would be written to {tmp_path / 'x'}: " in out


def test_a_dry_run_of_a_restore_to_a_folder_checks_the_folder_and_writes_nothing(
    cli, billing, tmp_path
):
    backup = json.loads(cli("backup", "create", "billing", "--name", "golden", "--json")[1])
    before = describe_tree(billing)
    new = tmp_path / "old-billing"

    code, out, _ = cli("restore", "billing", "golden", "--dry-run", "--to", str(new), "--json")
    assert code == 0 and not new.exists() and describe_tree(billing) == before
    assert json.loads(out) == {
        "backup": backup["id"],
        "folder": str(new),
        "files": backup["file_count"],
        "bytes": backup["total_bytes"],
    }

    code, out, err = cli("restore", "billing", "golden", "--dry-run", "--to", str(billing / "x"))
    assert (code, out) == (1, "") and "is inside billing's folder" in err


def test_diff_compares_two_backups_or_a_backup_with_the_live_folder(cli, billing):
    first = json.loads(cli("backup", "create", "billing", "--json")[1])
    (billing / "conf.d" / "new.ini").write_text("[new]\n")
    second = json.loads(cli("backup", "create", "billing", "--json")[1])
    (billing / "app.yaml").unlink()

    code, out, _ = cli("diff", first["id"][:12], second["id"][:12])
    live = json.loads(cli("diff", second["id"][:12], "live", "--json")[1])

    assert code == 0 and "added                    conf.d/new.ini" in out.splitlines()
    assert {c["path"]: c["kinds"] for c in live["changes"]}["app.yaml"] == ["removed"]
    assert cli("diff", first["id"][:12], "no-such-backup")[0] == 6


def test_diff_names_an_environments_backups_as_restore_does(cli, billing, tmp_path):
    cli("backup", "create", "billing", "--name", "before upgrade")
    (billing / "conf.d" / "new.ini").write_text("[new]\n")
    cli("backup", "create", "billing")
    (billing / "app.yaml").unlink()
    other = tmp_path / "other"
    make_config_tree(other)
    cli("env", "add", "other", "--path", str(other), "--version", "4.2.0")
    cli("backup", "create", "other", "--name", "theirs")

    since_last = json.loads(cli("diff", "latest", "live", "--env", "billing", "--json")[1])
    upgrade = json.loads(cli("diff", "before upgrade", "latest", "--env", "billing", "--json")[1])
    by_name_alone = cli("diff", "before upgrade", "live")
    of_another = cli("diff", "theirs", "live", "--env", "billing")

    assert {c["path"]: c["kinds"] for c in since_last["changes"]}["app.yaml"] == ["removed"]
    assert {c["path"]: c["kinds"] for c in upgrade["changes"]}["conf.d/new.ini"] == ["added"]
    assert "app.yaml" not in {c["path"] for c in upgrade["changes"]}
    assert by_name_alone[0] == 6 and "--env ENV" in by_name_alone[2]
    assert of_another[0] == 6 and "billing has no backup named" in of_another[2]


def _columns_line_up(listing: str) -> bool:
    """Every row's cells start where the header's names do."""
    header, *rows = listing.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    return bool(rows) and all(
        all(i == 0 or row[i - 1] == " " for i in starts[1:]) and row[starts[-1]] != " "
        for row in rows
    )


def test_listings_stay_in_line_with_long_names_and_versions(cli, billing, tmp_path):
    long_root = tmp_path / "eu-west"
    make_config_tree(long_root)
    version = "2024.11.3-hotfix-17"
    cli(
        "env", "add", "billing-production-eu-west-1", "--path", str(long_root), "--version", version
    )
    cli("backup", "create", "billing-production-eu-west-1", "--name", "before the upgrade")
    cli("backup", "create", "billing-production-eu-west-1", "--name", "after")

    backups = cli("backup", "list", "billing-production-eu-west-1")[1]
    environments = cli("env", "list")[1]
    activity = cli("activity")[1]

    for listing in (backups, environments, activity):
        assert _columns_line_up(listing), listing
    assert backups.splitlines()[1].split()[3] == version  # after the date and time


def test_what_a_restore_changed_is_read_back_from_the_activity_log(cli, billing):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    mess_up(billing)
    preview = json.loads(cli("restore", "billing", "latest", "--dry-run", "--json")[1])
    preview_text = cli("restore", "billing", "latest", "--dry-run")[1]
    assert cli("restore", "billing", "latest", "--yes", "--no-backup-first")[0] == 0

    restored, created = json.loads(cli("activity", "billing", "--json", "--limit", "2")[1])
    listing = cli("activity", "billing")[1].splitlines()
    code, text, _ = cli("activity", "--changes", str(restored["id"]))
    report = json.loads(cli("activity", "--changes", str(restored["id"]), "--json")[1])

    assert listing[0].split()[0] == "ID" and listing[1].split()[0] == str(restored["id"])
    assert code == 0 and text == preview_text
    assert report["after"] == backup["name"] and report["changes"] == preview["changes"]
    code, _, err = cli("activity", "--changes", str(created["id"]))
    assert code == 6 and "kept no list of changes" in err
    # An id no entry has is said to be none, not an entry that kept nothing.
    for missing in (restored["id"] + 1, 0, -3):
        code, _, err = cli("activity", "--changes", str(missing))
        assert (code, err) == (
            6,
            f"envops: There is no activity entry {missing} (envops activity lists the entries).\n",
        )


def test_a_failed_restore_says_it_kept_no_list_because_it_did_not_finish(cli, billing):
    # It answered that "restores and imports keep one", as if it were not a restore.
    cli("backup", "create", "billing")
    mess_up(billing)
    assert cli("env", "update", "billing", "--post-restore-command", "false")[0] == 0
    assert cli("restore", "billing", "latest", "--yes", "--no-backup-first")[0] != 0
    failed = json.loads(cli("activity", "billing", "--json", "--limit", "1")[1])[0]

    code, _, err = cli("activity", "--changes", str(failed["id"]))

    assert failed["action"] == "restore failed" and failed["has_report"] is False
    assert code == 6 and "only a restore or an import that finished keeps one" in err


def test_diff_from_the_live_folder_to_a_backup_lists_what_the_backup_has_otherwise(cli, billing):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    (billing / "app.yaml").unlink()
    (billing / "conf.d" / "new.ini").write_text("[new]\n")

    code, out, _ = cli("diff", "live", backup["id"][:12], "--json")
    dry_run = json.loads(cli("restore", "billing", backup["id"][:12], "--dry-run", "--json")[1])

    assert code == 0
    changes = json.loads(out)
    assert (changes["before"], changes["after"]) == ("live", backup["name"])
    kinds = {c["path"]: c["kinds"] for c in changes["changes"]}
    assert kinds["app.yaml"] == ["added"] and kinds["conf.d/new.ini"] == ["removed"]
    assert changes["changes"] == dry_run["changes"]  # nothing excluded: a restore's changes
    assert cli("diff", "live", "live")[0] == 1


@pytest.fixture
def production_and_test(cli, tmp_path):
    """Two environments of one version; production has a backup "golden"."""
    folders = {}
    for name in ("production", "test"):
        folders[name] = tmp_path / name
        make_config_tree(folders[name], seed=len(name))
        assert cli("env", "add", name, "--path", str(folders[name]), "--version", "4.2.0")[0] == 0
    (folders["production"] / "app.yaml").write_text("server:\n  port: 443\n")
    cli("backup", "create", "production", "--name", "golden")
    return folders


def test_a_backup_of_another_environment_is_restored_only_when_named_with_from(
    cli, production_and_test
):
    folders = production_and_test
    golden = json.loads(cli("backup", "list", "production", "--json")[1])[0]
    test_before = describe_tree(folders["test"])

    refused = cli("restore", "test", golden["id"][:12], "--yes")
    assert refused[0] == 6 and "--from production" in refused[2]
    assert describe_tree(folders["test"]) == test_before

    code, out, _ = cli("restore", "test", "golden", "--from", "production", "--yes")

    assert code == 0 and out.strip() == "test was restored to golden of production (4.2.0)."
    assert (folders["test"] / "app.yaml").read_text() == "server:\n  port: 443\n"
    restored = json.loads(cli("activity", "test", "--json")[1])[0]
    assert restored["action"] == "backup restored"
    assert restored["detail"].startswith("golden (4.2.0) of production restored in")
    assert (folders["production"] / "app.yaml").read_text() == "server:\n  port: 443\n"


def test_a_backup_of_another_version_is_refused_into_another_environment(cli, production_and_test):
    folders = production_and_test
    cli("env", "update", "test", "--version", "5.0.0")
    test_before = describe_tree(folders["test"])

    code, _, err = cli("restore", "test", "golden", "--from", "production", "--yes")

    assert code == 3 and "5.0.0" in err
    assert describe_tree(folders["test"]) == test_before


def test_a_configuration_file_whose_version_file_links_to_another_version_is_refused(cli, tmp_path):
    production, test = tmp_path / "production", tmp_path / "test"
    make_config_tree(production)
    (production / "VERSION").unlink()
    (production / "release").mkdir()
    (production / "release" / "VERSION").write_text("5.0.0\n")
    os.symlink("release/VERSION", production / "VERSION")
    make_config_tree(test)  # VERSION 4.2.0
    assert cli("env", "add", "production", "--path", str(production), "--version", "4.2.0")[0] == 0
    assert cli("env", "add", "test", "--path", str(test), "--version-file", "VERSION")[0] == 0
    backup = json.loads(cli("backup", "create", "production", "--json")[1])
    exported = tmp_path / "production.envops.zip"
    assert cli("backup", "export", backup["id"], str(exported))[0] == 0
    before = describe_tree(test)

    for args in (("--dry-run",), ("--yes",)):
        code, out, err = cli("import", "test", str(exported), *args)
        assert (code, out) == (3, ""), args
        assert "is version 5.0.0 but test runs version 4.2.0" in err, args

    assert describe_tree(test) == before


def test_list_and_show_commands_print_json(cli, billing):
    cli("backup", "create", "billing")
    envs = json.loads(cli("env", "list", "--json")[1])
    assert envs[0]["name"] == "billing" and envs[0]["status"] == "Ready"
    shown = json.loads(cli("env", "show", "billing", "--json")[1])
    assert shown["version"] == "4.2.0" and shown["created_at"].endswith("Z")
    assert "version: 4.2.0" in cli("env", "show", "billing")[1].splitlines()
    backups = json.loads(cli("backup", "list", "billing", "--json")[1])
    assert len(backups) == 1 and backups[0]["origin"] == "manual"
    activity = json.loads(cli("activity", "billing", "--json")[1])
    assert activity[0]["action"] == "backup created"
    assert json.loads(cli("verify", "--json")[1])["checked"] > 0


def test_pre_and_post_restore_commands_are_set_when_added_and_changed_by_update(cli, tmp_path):
    root = tmp_path / "crm"
    make_config_tree(root)
    add = ("env", "add", "crm", "--path", str(root), "--version", "1")
    assert cli(*add, "--pre-restore-command", "systemctl stop 'crm web'")[0] == 0
    shown = json.loads(cli("env", "show", "crm", "--json")[1])
    assert shown["pre_restore_command"]["argv"] == ["systemctl", "stop", "crm web"]

    code, out, _ = cli(
        "env", "update", "crm", "--pre-restore-command", "", "--post-restore-command", "true"
    )

    assert code == 0 and out.splitlines() == [
        "crm runs nothing pre-restore.",
        "crm runs true post-restore.",
    ]
    shown = json.loads(cli("env", "show", "crm", "--json")[1])
    assert shown["pre_restore_command"] is None and shown["post_restore_command"]["argv"] == [
        "true"
    ]


@pytest.mark.parametrize("timeout", ["0", "inf", "86401"])
def test_a_pre_restore_timeout_of_nothing_or_forever_is_refused_naming_the_command(
    cli, tmp_path, timeout
):
    # inf was taken: a command that hung then held the environment at Updating for good.
    root = tmp_path / "crm"
    make_config_tree(root)
    code, _, err = cli(
        "env", "add", "crm", "--path", str(root), "--version", "1",
        "--pre-restore-command", "true", "--pre-restore-timeout", timeout,
    )  # fmt: skip
    assert code == 1
    assert err == (
        "envops: The pre-restore command's timeout must be more than 0 seconds and at most "
        "86400 (a day).\n"
    )
    assert json.loads(cli("env", "list", "--json")[1]) == []


def test_a_command_timeout_an_older_version_kept_past_a_day_is_read_as_a_day(
    cli, billing, tmp_path
):
    with sqlite3.connect(tmp_path / "data" / DATABASE_NAME) as db:  # as an older version kept it
        db.execute(
            "UPDATE environments SET post_restore_argv = ?, post_restore_timeout = ?",
            ('["true"]', float("inf")),
        )

    code, out, _ = cli("env", "show", "billing")

    assert code == 0 and "post_restore_command: true (timeout 86400 s)" in out.splitlines()


def test_blank_post_restore_command_is_refused_with_a_sentence(cli, tmp_path):
    root = tmp_path / "crm"
    make_config_tree(root)
    code, _, err = cli(
        "env", "add", "crm", "--path", str(root), "--version", "1", "--post-restore-command", " "
    )
    assert code == 1 and err == "envops: The post-restore command is empty.\n"
    assert json.loads(cli("env", "list", "--json")[1]) == []


def test_small_backup_from_the_command_line_loads_neither_pydantic_nor_a_pool_library(
    billing, tmp_path
):
    # pydantic validates configuration files and prints JSON; its import would be a third of
    # what a backup of an unchanged tree may take. concurrent.futures (with logging) would
    # cost a backup of a few changed files 21 ms; only big operations need its process pool.
    script = (
        "import sys; from envops_desktop.cli import main; "
        f"code = main(['--data-dir', {str(tmp_path / 'data')!r}, 'backup', 'create', 'billing']); "
        "print(code, 'pydantic' in sys.modules, 'concurrent.futures' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.splitlines()[-1] == "0 False False"


def test_small_restore_from_the_command_line_loads_neither_pydantic_nor_the_team_store(
    cli, billing, tmp_path
):
    # Each was a tenth of a second of a 5 MiB restore's 0.28 s (most of it starting Python).
    cli("backup", "create", "billing")
    script = (
        "import sys; from envops_desktop.cli import main; "
        f"code = main(['--data-dir', {str(tmp_path / 'data')!r}, 'restore', 'billing', "
        "'latest', '--yes', '--no-backup-first']); "
        "print(code, 'pydantic' in sys.modules, 'envops_desktop.service.sharing' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.splitlines()[-1] == "0 False False"


def test_the_envops_command_keeps_the_garbage_collector_off_what_outlives_it(billing, tmp_path):
    # The collector ran 230 times while an import checked a 20,000-file manifest, its full
    # passes walking every module's objects, and once more at exit over everything left.
    script = (
        "import gc, sys; from envops_desktop.launch import cli; "
        f"sys.argv = ['envops', '--data-dir', {str(tmp_path / 'data')!r}, 'backup', 'list', "
        "'billing']; code = cli(); "
        "print(code, gc.get_threshold()[0] > 700, gc.get_count()[0] == 0, "
        "gc.get_freeze_count() > 10_000)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.splitlines()[-1] == "0 True True True"


def test_backup_command_leaves_no_write_ahead_log_behind(billing, tmp_path):
    # SQLite folds its write-ahead log into the database and removes it when the last
    # connection closes; a command that leaves a connection to the interpreter's exit (a pool
    # thread's, say) leaves megabytes of log behind after every backup.
    script = (
        "import sys; from envops_desktop.launch import cli; "
        f"sys.argv = ['envops', '--data-dir', {str(tmp_path / 'data')!r}, 'backup', 'create', "
        "'billing']; sys.exit(cli())"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, capture_output=True)
    assert not (tmp_path / "data" / f"{DATABASE_NAME}-wal").exists()


def test_version_mismatch_exits_3_and_changes_nothing(cli, billing):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    assert cli("env", "update", "billing", "--version", "5.0.0")[0] == 0
    before = describe_tree(billing)
    code, _, err = cli("restore", "billing", backup["id"], "--yes")
    assert code == 3
    assert err.startswith("envops: ") and err.count("\n") == 1
    assert "update the environment" in err
    assert describe_tree(billing) == before


def test_busy_environment_exits_4(cli, billing, tmp_path):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    env_id = json.loads(cli("env", "show", "billing", "--json")[1])["id"]
    with open(tmp_path / "data" / "locks" / f"env-{env_id}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _, err = cli("restore", "billing", backup["id"], "--yes")
    assert code == 4 and "busy" in err


def test_invalid_configuration_file_exits_5(cli, billing, tmp_path):
    bogus = tmp_path / "bogus.zip"
    bogus.write_text("hello")
    code, _, err = cli("import", "billing", str(bogus), "--yes")
    assert code == 5 and "nor a zip or tar archive" in err


def test_unknown_names_exit_6(cli, billing, tmp_path):
    assert cli("env", "show", "nope")[0] == 6
    assert cli("restore", "billing", "zzzzzz", "--yes")[0] == 6
    assert cli("backup", "delete", "zzzzzz")[0] == 6
    # A file that is not there is not found, not an invalid configuration file (5).
    missing = tmp_path / "billing-typo.envops.zip"
    for dry_run in ([], ["--dry-run"]):
        code, _, said = cli("import", "billing", str(missing), "--yes", *dry_run)
        assert (code, said) == (6, f"envops: {missing} does not exist; nothing was changed.\n")


def test_usage_errors_exit_2(cli, billing):
    with pytest.raises(SystemExit) as exited:
        cli("restore")
    assert exited.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["env", "add", "web", "--path", "", "--version", "1"],
        ["restore", "billing", "latest", "--to", ""],
        ["import", "billing", "", "--yes"],
        ["backup", "export", "latest", " "],
        ["restore", "billing", "latest", "--yes", "--passphrase-file", ""],
    ],
    ids=["env add --path", "restore --to", "import", "backup export", "--passphrase-file"],
)
def test_a_path_left_empty_by_an_unset_variable_is_refused_not_taken_for_the_working_folder(
    cli, billing, tmp_path, monkeypatch, capsys, argv
):
    working = tmp_path / "where the script runs"
    working.mkdir()
    monkeypatch.chdir(working)
    backup_id = json.loads(cli("backup", "create", "billing", "--json")[1])["id"]
    before = describe_tree(billing)
    argv = [backup_id if word == "latest" and argv[0] == "backup" else word for word in argv]
    with pytest.raises(SystemExit) as exited:
        cli(*argv)
    assert exited.value.code == 2
    assert "the path is empty (a variable left unset?)" in capsys.readouterr().err
    assert [env["name"] for env in json.loads(cli("env", "list", "--json")[1])] == ["billing"]
    assert list(working.iterdir()) == [] and describe_tree(billing) == before


def test_a_listing_of_a_name_that_is_not_utf8_is_written_under_a_desktops_locale(
    cli, billing, tmp_path
):
    # Under en_US.UTF-8, unlike C, Python writes stdout with errors "strict" (as
    # PYTHONIOENCODING here asks): the listing ended in a UnicodeEncodeError traceback.
    cli("backup", "create", "billing", "--name", "golden")
    with open(os.path.join(os.fsencode(billing), b"caf\xe9.conf"), "w") as file:
        file.write("added since\n")
    command = [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(tmp_path / "data")]
    desktop = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}

    for asked, listing in [
        (["diff", "--env", "billing", "golden", "live"], b"added                    caf\xe9.conf"),
        (["restore", "billing", "golden", "--dry-run"], b"removed                  caf\xe9.conf"),
    ]:
        listed = subprocess.run([*command, *asked], capture_output=True, cwd=REPO, env=desktop)
        assert listed.returncode == 0, listed.stderr.decode()
        assert listing in listed.stdout.splitlines()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full (Linux has one)")
@pytest.mark.parametrize("asked", [["backup", "create", "billing"], ["activity", "--json"]])
def test_output_to_a_full_disk_ends_in_a_sentence_not_a_traceback(billing, tmp_path, asked):
    # `envops backup create billing > log` on a full disk ended in an OSError traceback.
    command = [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(tmp_path / "data")]
    with open("/dev/full", "w") as full:  # a device every write to fails as a full disk
        result = subprocess.run([*command, *asked], stdout=full, stderr=subprocess.PIPE, cwd=REPO)

    assert result.returncode == 1
    assert result.stderr.decode() == (
        "envops: could not write its output: No space left on device.\n"
    )
    listed = subprocess.run([*command, "backup", "list", "billing", "--json"], capture_output=True)
    assert len(json.loads(listed.stdout)) == (asked[0] == "backup")  # its work stays done


def test_a_backup_run_with_its_output_closed_is_taken_and_succeeds(billing, tmp_path):
    # As a cron line with `>&-` runs it: Python gives it no stdout, which is not an error.
    command = [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(tmp_path / "data")]
    closed = ["sh", "-c", 'exec "$@" >&-', "sh", *command, "backup", "create", "billing"]

    result = subprocess.run(closed, stderr=subprocess.PIPE, cwd=REPO)

    assert (result.returncode, result.stderr) == (0, b"")
    listed = subprocess.run([*command, "backup", "list", "billing", "--json"], capture_output=True)
    assert len(json.loads(listed.stdout)) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["backup", "create", "billing", "--name", "caf\udce9"],
        ["env", "update", "billing", "--version", "caf\udce9"],
        ["env", "add", "caf\udce9", "--path", "{tmp}", "--version", "1"],
        ["env", "show", "caf\udce9"],
        ["restore", "billing", "caf\udce9", "--yes"],
        ["schedule", "set", "billing", "--daily", "02:00", "--time-zone", "Europe/caf\udce9"],
        ["store", "use", "s3://team-bucket/caf\udce9"],
    ],
    ids=["backup name", "version", "new environment", "lookup", "backup", "zone", "prefix"],
)
def test_a_name_typed_in_a_terminal_that_is_not_utf8_is_refused_in_a_sentence(
    cli, billing, tmp_path, monkeypatch, argv
):
    # A Latin-1 terminal sends é as the byte 0xe9: each ended in a UnicodeEncodeError
    # traceback from the database, the prefix in a sentence about encoding a character.
    monkeypatch.setenv("ENVOPS_PASSPHRASE", "one team, one passphrase")

    def recorded() -> tuple[str, str]:
        return cli("env", "list", "--json")[1], cli("backup", "list", "billing", "--json")[1]

    before = recorded()

    code, _, err = cli(*[word.replace("{tmp}", str(tmp_path)) for word in argv])

    assert code == 2
    assert err.startswith("envops: ") and "caf\\xe9 is not UTF-8 text" in err
    assert recorded() == before


def test_a_path_that_is_not_utf8_is_still_taken_where_a_path_is_asked(cli, billing):
    (billing / os.fsdecode(b"caf\xe9.conf")).write_text("added since\n")
    cli("backup", "create", "billing", "--name", "golden")

    code, out, err = cli("restore", "billing", "golden", "--dry-run", "--only", "caf\udce9.conf")

    assert code == 0, err
    assert out.endswith("no changes.\n")


@pytest.mark.parametrize("through_a_link", [False, True], ids=["itself", "a link to it"])
def test_a_folder_whose_path_is_not_utf8_is_refused_with_a_sentence(
    cli, billing, tmp_path, through_a_link
):
    # It ended in a UnicodeEncodeError traceback, from the database that keeps paths as text.
    odd = os.path.join(os.fsencode(tmp_path), b"caf\xe9")  # Latin-1, as old tools wrote
    os.mkdir(odd)
    given = os.fsdecode(odd)
    if through_a_link:
        given = str(tmp_path / "cafe")
        os.symlink(odd, given)

    code, _, err = cli("env", "add", "cafe", "--path", given, "--version", "1.0")

    assert code == 1
    assert f"{tmp_path}/caf\\xe9 has a name that is not UTF-8" in err
    assert [env["name"] for env in json.loads(cli("env", "list", "--json")[1])] == ["billing"]


def test_restore_without_yes_off_a_terminal_refuses_with_usage(cli, billing, monkeypatch):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    code, _, err = cli("restore", "billing", backup["id"])
    assert code == 2 and "--yes" in err


def test_import_and_export_from_the_command_line(cli, billing, tmp_path):
    code, out, _ = cli("import", "billing", str(simple_configuration(tmp_path / "c.zip")), "--yes")
    assert code == 0, out
    assert (billing / "conf.d" / "db.ini").read_text() == "[db]\nhost=replica\n"
    backups = json.loads(cli("backup", "list", "billing", "--json")[1])
    # Newest first: the backup taken just before the swap, then the file's own.
    assert [b["origin"] for b in backups] == ["pre-restore", "imported"]
    exported = tmp_path / "again.zip"
    assert cli("backup", "export", backups[1]["id"], str(exported))[0] == 0
    assert exported.stat().st_size > 0


def test_import_of_a_file_that_is_not_a_configuration_is_refused_before_asking(
    cli, billing, tmp_path, monkeypatch
):
    not_a_zip = tmp_path / "notes.txt"
    not_a_zip.write_text("hello\n")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)  # asking would exit 2
    before = describe_tree(billing)
    code, _, err = cli("import", "billing", str(not_a_zip))
    assert code == 5 and "notes.txt was refused" in err
    assert describe_tree(billing) == before


def test_remove_environment_keeps_its_folder(cli, billing):
    before = describe_tree(billing)
    assert cli("env", "remove", "billing", "--yes")[0] == 0
    assert describe_tree(billing) == before
    assert json.loads(cli("env", "list", "--json")[1]) == []


def test_data_dir_comes_from_the_environment_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ENVOPS_DATA_DIR", str(tmp_path / "from-env"))
    assert main(["env", "list"]) == 0
    assert (tmp_path / "from-env" / "envops.sqlite3").exists()
    assert os.stat(tmp_path / "from-env").st_mode & 0o077 == 0


@pytest.mark.parametrize("below", ["", "envops"])
def test_a_file_where_the_data_folder_goes_is_named_in_a_sentence(tmp_path, capsys, below):
    in_the_way = tmp_path / "data"
    in_the_way.write_text("notes\n")
    data_dir = in_the_way / below if below else in_the_way

    assert main(["--data-dir", str(data_dir), "env", "list"]) == 1

    err = capsys.readouterr().err
    assert err == (
        f"envops: Cannot open the data folder {data_dir}: {in_the_way} is a file, not a "
        "folder. Choose another folder with --data-dir DIR or the ENVOPS_DATA_DIR variable.\n"
    )
    assert in_the_way.read_text() == "notes\n"


@needs_root_to_mount
def test_a_data_folder_on_a_read_only_disk_is_refused_in_a_sentence(tmp_path, capsys):
    with small_disk(tmp_path / "disk", "4m") as disk:
        assert main(["--data-dir", str(disk / "kept"), "env", "list"]) == 0
        capsys.readouterr()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)

        assert main(["--data-dir", str(disk / "new"), "env", "list"]) == 1
        assert capsys.readouterr().err == (
            f"envops: Cannot open the data folder {disk / 'new'}: read-only file system. "
            "Choose another folder with --data-dir DIR or the ENVOPS_DATA_DIR variable.\n"
        )
        assert main(["--data-dir", str(disk / "kept"), "env", "add", "web", "--path",
                     str(tmp_path), "--version", "1"]) == 1  # fmt: skip
        err = capsys.readouterr().err
        assert err.startswith(f"envops: Cannot use {disk / 'kept' / DATABASE_NAME}: it is on a")
        assert "disk mounted read-only" in err and err.endswith(
            "Mount it read-write, or choose another data folder.\n"
        )


@pytest.mark.parametrize("run_from", ["anywhere", "a checkout of another version"])
def test_restore_returns_once_in_place_and_a_detached_process_settles_it(
    cli, billing, tmp_path, monkeypatch, run_from
):
    if run_from != "anywhere":
        # The settler is this version's, whatever package the folder the command ran in
        # holds: a newer checkout's settler once migrated an older command's data folder.
        decoy = tmp_path / "checkout" / "envops_desktop"
        decoy.mkdir(parents=True)
        (decoy / "__init__.py").write_text("")
        (decoy / "cli.py").write_text("raise SystemExit(3)\n")
        monkeypatch.chdir(decoy.parent)
    started: list[tuple[list[str], int | None]] = []

    def start(data_dir: Path, journal_ids: list[str]) -> int | None:
        pid = settle_in_background(data_dir, journal_ids)
        started.append((journal_ids, pid))
        return pid

    original = describe_tree(billing)
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    mess_up(billing)
    monkeypatch.setattr(cli_commands, "settle_in_background", start)
    assert cli("restore", "billing", backup["id"], "--yes")[0] == 0
    assert describe_tree(billing) == original  # in place when the command returns
    [(journal_ids, pid)] = started
    if current_boot_id() is None:  # nowhere to tell a power cut from a kill: settled at once
        assert journal_ids == [] and pid is None
        return
    assert len(journal_ids) == 1 and pid is not None
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    with sqlite3.connect(tmp_path / "data" / DATABASE_NAME) as db:
        assert db.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 0
    assert not [p for p in billing.parent.iterdir() if ".envops-" in p.name]  # previous gone


def test_restore_backs_up_first_by_default_and_no_backup_first_skips_it(cli, billing):
    cli("backup", "create", "billing", "--name", "golden")
    mess_up(billing)
    assert cli("restore", "billing", "golden", "--yes")[0] == 0
    origins = [b["origin"] for b in json.loads(cli("backup", "list", "billing", "--json")[1])]
    assert origins == ["pre-restore", "manual"]
    mess_up(billing)
    assert cli("restore", "billing", "golden", "--yes", "--no-backup-first")[0] == 0
    assert len(json.loads(cli("backup", "list", "billing", "--json")[1])) == 2
    # The flag scripts already pass keeps working.
    mess_up(billing)
    assert cli("restore", "billing", "golden", "--yes", "--backup-first")[0] == 0
    assert len(json.loads(cli("backup", "list", "billing", "--json")[1])) == 3


def test_import_backs_up_first_by_default(cli, billing, tmp_path):
    source = simple_configuration(tmp_path / "c.zip")
    assert cli("import", "billing", str(source), "--yes")[0] == 0
    origins = [b["origin"] for b in json.loads(cli("backup", "list", "billing", "--json")[1])]
    assert sorted(origins) == ["imported", "pre-restore"]


def test_a_backup_is_named_by_latest_its_name_or_a_prefix_among_its_environment(
    cli, billing, tmp_path
):
    other = tmp_path / "other"
    make_config_tree(other)
    cli("env", "add", "other", "--path", str(other), "--version", "4.2.0")
    # Made within milliseconds of each other: their ids share all but the last characters.
    made = [
        json.loads(cli("backup", "create", env, "--name", name, "--json")[1])
        for env, name in (("other", "theirs"), ("billing", "nightly"), ("billing", "weekly"))
    ]
    mess_up(billing)
    code, out, _ = cli("restore", "billing", "latest", "--yes", "--no-backup-first")
    assert code == 0 and "restored to weekly" in out
    code, out, _ = cli("restore", "billing", "nightly", "--yes", "--no-backup-first")
    assert code == 0 and "restored to nightly" in out
    # Unique among billing's backups, whatever other environments' ids begin with.
    nightly, weekly = made[1]["id"], made[2]["id"]
    prefix = nightly[: len(_shared_start(nightly, weekly)) + 1]
    code, out, _ = cli("restore", "billing", prefix, "--yes", "--no-backup-first")
    assert code == 0 and "restored to nightly" in out
    code, _, err = cli("restore", "billing", made[0]["id"], "--yes")
    assert code == 6 and "billing has no backup" in err
    code, _, err = cli("restore", "billing", _shared_start(nightly, weekly), "--yes")
    assert code == 1 and "fits 2 backups of billing" in err and "nightly" in err


def _shared_start(first: str, second: str) -> str:
    length = 0
    while length < min(len(first), len(second)) and first[length] == second[length]:
        length += 1
    return first[:length]


def test_readme_examples_name_backups_in_ways_that_stay_unique():
    readme = (REPO / "README.md").read_text()
    for line in readme.splitlines():
        if line.startswith(("envops restore ", "envops backup export ")):
            reference = line.split()[3]
            is_full_id = len(reference) == 12 and reference.isalnum()
            assert reference in ("latest", '"before') or is_full_id, line


def test_piping_into_head_ends_quietly(billing, tmp_path):
    data = tmp_path / "data"
    # A log longer than a pipe holds (64 KiB), so that `head` leaves while envops still writes.
    with sqlite3.connect(data / DATABASE_NAME) as db:
        db.executemany(
            "INSERT INTO activity (time, environment_id, environment_name, action, user,"
            " outcome, detail) VALUES ('2026-11-01T10:00:00Z', NULL, 'billing',"
            " 'backup created', 'tester', 'success', ?)",
            [(f"nightly {index}: " + "x" * 100,) for index in range(3000)],
        )
    pipeline = subprocess.run(
        f"{sys.executable} -m envops_desktop.cli --data-dir {data} activity --limit 5000 "
        "| head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert pipeline.returncode == 0 and pipeline.stdout.count("\n") == 1
    assert pipeline.stderr == ""


def test_env_show_says_none_for_an_unset_post_restore_command(cli, billing):
    assert "post_restore_command: none" in cli("env", "show", "billing")[1].splitlines()


def test_env_show_writes_a_command_as_the_line_it_runs(cli, billing):
    # It printed Python's dict: {'argv': ['systemctl', 'reload', 'my app'], 'timeout_...
    cli("env", "update", "billing", "--pre-restore-command", "systemctl stop 'my app'")
    cli("env", "update", "billing", "--exclude", "*.log", "cache/")

    lines = cli("env", "show", "billing")[1].splitlines()

    assert "pre_restore_command: systemctl stop 'my app' (timeout 300 s)" in lines
    assert "excludes: *.log, cache/" in lines


def test_env_show_gives_times_in_this_computers_zone_as_backup_list_does(cli, billing, monkeypatch):
    # It printed the stored UTC (2026-12-07T12:57:27.016137Z) beside `backup list`'s 13:57.
    monkeypatch.setenv("TZ", "Europe/Berlin")
    tzset()
    try:
        backup = json.loads(cli("backup", "create", "billing", "--json")[1])
        shown = json.loads(cli("env", "show", "billing", "--json")[1])
        lines = cli("env", "show", "billing")[1].splitlines()
        listed = cli("backup", "list", "billing")[1].splitlines()[1]
    finally:
        monkeypatch.delenv("TZ")
        tzset()

    stored = datetime.fromisoformat(shown["last_backup_at"].replace("Z", "+00:00"))
    berlin = stored.astimezone(ZoneInfo("Europe/Berlin"))
    assert shown["last_backup_at"].endswith("Z")  # JSON keeps UTC
    assert f"last_backup_at: {berlin:%Y-%m-%d %H:%M:%S}" in lines
    assert listed.startswith(f"{backup['id']}  {berlin:%Y-%m-%d %H:%M}")


def test_verify_lists_each_problem_it_found(cli, billing, tmp_path):
    cli("backup", "create", "billing")
    packs = list((tmp_path / "data" / "objects" / "packs").iterdir())
    for pack in packs:
        pack.write_bytes(b"\0" * pack.stat().st_size)  # every packed content damaged
    code, out, _ = cli("verify")
    damaged = [line for line in out.splitlines() if line.startswith("damaged: ")]
    assert code == 1 and len(damaged) > 1
    assert f"{len(damaged)} damaged" in out


def test_verify_names_what_is_damaged_and_repair_lets_the_next_backup_store_it_again(
    cli, billing, tmp_path
):
    made_long_ago(billing)  # the hash cache knows every file: a backup reads none of them
    assert cli("backup", "create", "billing", "--name", "golden")[0] == 0
    app = hashlib.sha256((billing / "app.yaml").read_bytes()).hexdigest()
    damage_blob(tmp_path / "data", app)

    code, out, _ = cli("verify")
    assert code == 1
    assert f"damaged: {app} (app.yaml in golden of billing)" in out.splitlines()
    assert "envops verify --repair forgets each stored file that cannot be trusted" in out

    code, out, _ = cli("verify", "--repair")
    assert code == 1 and "Forgot the 1 missing or damaged" in out
    assert cli("backup", "create", "billing")[0] == 0
    code, out, _ = cli("verify")
    assert code == 0 and "0 missing, 0 damaged" in out
    mess_up(billing)
    assert cli("restore", "billing", "golden", "--yes", "--no-backup-first")[0] == 0
    assert (billing / "app.yaml").read_text().startswith("server:\n  port: 8443")


def test_verify_names_the_backups_whose_list_of_files_is_damaged(cli, billing, tmp_path):
    # Two backups of one unchanged folder share one list of files.
    cli("backup", "create", "billing", "--name", "golden")
    cli("backup", "create", "billing", "--name", "nightly")

    tamper_with_manifest(tmp_path / "data", flipped_bit)
    code, out, _ = cli("verify")
    damaged = [line for line in out.splitlines() if line.startswith("damaged manifest: ")]
    assert code == 1 and len(damaged) == 1
    assert damaged[0].endswith(" (nightly of billing, and 1 more backup)")
    assert "deletes each backup whose list of files is damaged" in out


@pytest.mark.parametrize("output", ["text", "json"])
def test_verify_repair_deletes_the_backups_whose_list_of_files_is_damaged(
    cli, billing, tmp_path, output
):
    golden = json.loads(cli("backup", "create", "billing", "--name", "golden", "--json")[1])
    (billing / "only-in-nightly.ini").write_text("[nightly]\n")
    nightly = json.loads(cli("backup", "create", "billing", "--name", "nightly", "--json")[1])
    tamper_with_manifest(tmp_path / "data", flipped_bit, of_backup=nightly["id"])

    code, out, _ = cli("verify", "--repair", *(["--json"] if output == "json" else []))

    assert code == 1  # what it found
    if output == "json":
        assert [b["name"] for b in json.loads(out)["deleted"]] == ["nightly"]
    else:
        assert "Deleted the backups whose list of files was damaged (nightly of billing)" in out
    code, out, _ = cli("verify")
    assert code == 0 and "0 missing, 0 damaged, 0 unreferenced" in out, out
    code, out, _ = cli("backup", "list", "billing")
    assert "golden" in out and "nightly" not in out
    mess_up(billing)
    assert cli("restore", "billing", golden["id"], "--yes", "--no-backup-first")[0] == 0
    assert not (billing / "only-in-nightly.ini").exists()


def test_a_backup_whose_list_of_files_is_damaged_is_deleted_and_the_store_is_whole_again(
    cli, billing, tmp_path
):
    # Its list could not be read to free what it held, so emptying Deleted failed, and gc
    # refused for good: verify's advice led nowhere.
    golden = json.loads(cli("backup", "create", "billing", "--name", "golden", "--json")[1])
    (billing / "only-in-nightly.ini").write_text("[nightly]\n")
    nightly = json.loads(cli("backup", "create", "billing", "--name", "nightly", "--json")[1])
    tamper_with_manifest(tmp_path / "data", flipped_bit, of_backup=nightly["id"])

    code, out, _ = cli("verify")
    assert code == 1 and "cannot be restored" in out
    # Deleted by hand too, and not only by verify --repair.
    assert cli("backup", "delete", nightly["id"])[0] == 0
    code, out, err = cli("backup", "empty-bin", "--yes")

    assert code == 0, err
    code, out, _ = cli("verify")
    assert code == 0 and "0 missing, 0 damaged, 0 unreferenced" in out, out
    mess_up(billing)
    assert cli("restore", "billing", golden["id"], "--yes", "--no-backup-first")[0] == 0
    assert not (billing / "only-in-nightly.ini").exists()


def test_a_damaged_list_of_another_backup_does_not_keep_deleted_from_being_emptied(
    cli, billing, tmp_path
):
    # What the damaged list needs is unknown, so the content stays; the backups go.
    cli("backup", "create", "billing", "--name", "golden")
    (billing / "only-in-nightly.ini").write_text("[nightly]\n")
    nightly = json.loads(cli("backup", "create", "billing", "--name", "nightly", "--json")[1])
    tamper_with_manifest(tmp_path / "data", flipped_bit, of_backup=nightly["id"])
    (billing / "only-in-extra.ini").write_text("[extra]\n")
    extra = json.loads(cli("backup", "create", "billing", "--name", "extra", "--json")[1])

    assert cli("backup", "delete", extra["id"])[0] == 0
    code, _, err = cli("backup", "empty-bin", "--yes")

    assert code == 0, err
    assert cli("backup", "list", "billing", "--deleted")[1].count("\n") <= 1  # header only
    code, out, _ = cli("verify")
    assert code == 1 and "nightly of billing" in out


def test_verify_at_a_terminal_shows_its_progress_and_stops_at_ctrl_c(cli, tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    for index in range(64):  # long enough to read for the moment it takes to press Ctrl-C
        (root / f"disk{index}.img").write_bytes(os.urandom(2 << 20))
    cli("env", "add", "images", "--path", str(root), "--version", "1")
    cli("backup", "create", "images")

    verify = CommandAtATerminal("--data-dir", str(tmp_path / "data"), "verify")
    verify.read_until(b"verifying [", 60)
    verify.process.send_signal(signal.SIGINT)
    code, out = verify.wait()

    assert b"verifying [" in verify.drawn and b" elapsed" in verify.drawn
    assert code == 1 and b"The operation was cancelled" in verify.drawn
    assert out == b""  # no report of a check that did not finish


def test_ctrl_c_in_the_backup_of_a_large_file_stops_it_inside_the_file(cli, tmp_path):
    root = tmp_path / "vm"
    root.mkdir()
    with open(root / "disk.img", "wb") as image:
        image.truncate(64 << 30)  # all hole, yet some forty seconds of hashing to read
    cli("env", "add", "vm", "--path", str(root), "--version", "1")

    backup = CommandAtATerminal("--data-dir", str(tmp_path / "data"), "backup", "create", "vm")
    inside = re.compile(rb"\] +[1-9][0-9]?% ")  # of its one file: neither 0 % nor 100 %
    deadline = monotonic() + 60
    while not inside.search(backup.drawn) and monotonic() < deadline:
        backup.read_until(b"\0", 0.2)  # what it draws meanwhile
    backup.process.send_signal(signal.SIGINT)
    asked = monotonic()
    code, out = backup.wait()

    assert inside.search(backup.drawn), backup.drawn[-300:]
    assert monotonic() - asked < 10  # reading on to the file's end would take 40 s
    assert code == 1 and b"The operation was cancelled" in backup.drawn
    assert out == b""
    assert json.loads(cli("backup", "list", "vm", "--json")[1]) == []


def test_removing_an_environment_at_a_terminal_shows_what_it_reads_and_frees(
    cli, billing, tmp_path
):
    cli("backup", "create", "billing")
    cli("backup", "create", "billing")
    remove = CommandAtATerminal(
        "--data-dir", str(tmp_path / "data"), "env", "remove", "billing", "--yes"
    )
    code, out = remove.wait()

    assert code == 0 and out.startswith(b"Removed billing;")
    assert b"reading backups [" in remove.drawn and b"freeing stored files" in remove.drawn
    assert json.loads(cli("env", "list", "--json")[1]) == []


@pytest.mark.parametrize("key", ["Ctrl+D", "Ctrl+C"])
def test_the_restore_question_shows_with_the_output_sent_elsewhere_and_ctrl_d_or_c_is_a_no(
    cli, billing, tmp_path, key
):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    mess_up(billing)
    before = describe_tree(billing)
    restore = CommandAtATerminal(
        "--data-dir", str(tmp_path / "data"), "restore", "billing", backup["id"], answering=True
    )
    restore.read_until(b"Continue? [y/N] ", 60)
    restore.wait_until_asleep()
    if key == "Ctrl+D":
        restore.type(b"\x04")
    else:  # what the terminal does with Ctrl+C
        restore.process.send_signal(signal.SIGINT)
    code, out = restore.wait()

    assert b"Continue? [y/N] " in restore.drawn and out == b""  # asked on the terminal
    assert code == 2 and b"envops: Nothing was changed." in restore.drawn
    assert b"Traceback" not in restore.drawn
    assert describe_tree(billing) == before
    assert len(json.loads(cli("backup", "list", "billing", "--json")[1])) == 1


def test_a_dry_run_at_a_terminal_shows_the_time_it_takes_and_stops_at_ctrl_c(cli, tmp_path):
    root = tmp_path / "fleet"
    for group in range(120):  # enough files for the changes to take some seconds to work out
        (root / f"host{group}").mkdir(parents=True)
        for index in range(250):
            (root / f"host{group}" / f"{index}.conf").write_text(f"id = {group}.{index}\n")
    cli("env", "add", "fleet", "--path", str(root), "--version", "1")
    cli("backup", "create", "fleet")
    data = str(tmp_path / "data")

    for phase, command in (
        (b"working out the changes", ("restore", "fleet", "latest", "--dry-run")),
        (b"comparing", ("diff", "latest", "live", "--env", "fleet")),
    ):
        run = CommandAtATerminal("--data-dir", data, *command)
        run.read_until(b"0:00 elapsed", 60)
        run.process.send_signal(signal.SIGINT)
        code, out = run.wait()

        assert phase + b" 0:00 elapsed" in run.drawn, command
        assert code == 1 and b"The operation was cancelled" in run.drawn, command
        assert out == b"", command

    code, out, _ = cli("restore", "fleet", "latest", "--dry-run")
    assert code == 0 and out.strip().endswith(": no changes.")


@pytest.mark.parametrize(
    ("work", "command"),
    [
        ("compare", ("diff", "latest", "live", "--env", "billing")),
        ("preview_restore", ("restore", "billing", "latest", "--dry-run")),
    ],
)
def test_a_ctrl_c_as_the_changes_are_worked_out_stops_them_even_at_their_end(
    cli, billing, monkeypatch, work, command
):
    # A Ctrl-C that came as the work got to its end was set aside and the changes printed
    # whole: at a terminal in CI, a diff of 30,000 files stopped so ended with code 0.
    cli("backup", "create", "billing")
    worked_out = getattr(EnvOpsService, work)

    def interrupted_as_it_ends(*args, **kwargs):
        changes = worked_out(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return changes

    monkeypatch.setattr(EnvOpsService, work, interrupted_as_it_ends)
    code, out, err = cli(*command)

    assert code == 1 and "The operation was cancelled" in err
    assert out == ""


def test_ctrl_c_during_a_restore_at_a_terminal_leaves_the_environment_as_it_was(
    cli, billing, tmp_path
):
    for index in range(64):
        (billing / f"disk{index}.img").write_bytes(os.urandom(2 << 20))
    cli("backup", "create", "billing")
    mess_up(billing)
    before = describe_tree(billing)

    restore = CommandAtATerminal(
        "--data-dir", str(tmp_path / "data"), "restore", "billing", "latest", "--yes",
        "--no-backup-first",
    )  # fmt: skip
    restore.read_until(b"restoring [", 60)
    restore.process.send_signal(signal.SIGINT)
    code, out = restore.wait()
    assert out == b""  # it never said it restored

    assert code == 1 and b"The restore was cancelled; billing is exactly as it was." in (
        restore.drawn
    )
    assert describe_tree(billing) == before
    assert cli("env", "show", "billing", "--json")[1].count('"Ready"') == 1


def test_usage_errors_do_not_offer_the_internal_settler():
    help_text = subprocess.run(
        [sys.executable, "-m", "envops_desktop.cli", "nonsense"],
        capture_output=True, text=True, cwd=REPO,
    ).stderr  # fmt: skip
    assert "invalid choice" in help_text and "settle" not in help_text


def test_a_file_from_another_environment_is_named_before_anything_changes(
    cli, billing, tmp_path, monkeypatch
):
    source = simple_configuration(tmp_path / "web.zip", exported_from="web-frontend")
    sentence = "This file was exported from web-frontend. Importing it replaces billing's"
    before = describe_tree(billing)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda question: "n")
    code, _, err = cli("import", "billing", str(source))
    assert code == 2 and sentence in err
    assert describe_tree(billing) == before
    code, _, err = cli("import", "billing", str(source), "--yes")
    assert code == 0 and sentence in err


def test_an_unbalanced_quote_in_a_post_restore_command_is_a_sentence(cli, tmp_path):
    root = tmp_path / "billing"
    make_config_tree(root)
    code, _, err = cli(
        "env", "add", "billing", "--path", str(root), "--version", "1",
        "--post-restore-command", "systemctl restart 'billing",
    )  # fmt: skip
    assert code == 1 and "no closing quotation" in err and "Traceback" not in err
    assert json.loads(cli("env", "list", "--json")[1]) == []


def test_an_export_is_readable_by_its_owner_only(cli, billing, tmp_path):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    exported = tmp_path / "billing.envops.zip"
    exported.write_bytes(b"an older export, world-readable")
    exported.chmod(0o644)
    assert cli("backup", "export", backup["id"], str(exported))[0] == 0
    assert exported.stat().st_mode & 0o777 == 0o600


def test_an_export_into_a_folder_is_named_as_the_window_names_it_and_never_written_over(
    cli, billing, tmp_path
):
    backup = json.loads(cli("backup", "create", "billing", "--name", "nightly/eu", "--json")[1])
    exports = tmp_path / "exports"
    exports.mkdir()

    code, out, _ = cli("backup", "export", backup["id"], str(exports))
    again, _, said = cli("backup", "export", backup["id"], f"{exports}/")

    written = exports / "billing nightly-eu.envops.zip"
    assert code == 0 and out == f"Exported backup {backup['id']} to {written}.\n"
    assert [p.name for p in exports.iterdir()] == [written.name]
    assert again == 1
    assert said == f"envops: {written} already exists; name the file to write instead.\n"
    # What was written is the backup's configuration file, as the window would import it.
    mess_up(billing)
    assert cli("import", "billing", str(written), "--yes", "--no-backup-first")[0] == 0
    assert cli("diff", backup["id"], "live")[1].endswith(": no changes.\n")


def test_a_backup_named_for_its_time_exports_into_a_folder_with_no_colon_in_the_name(
    cli, billing, tmp_path
):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    assert re.fullmatch(r"Backup \d{4}-\d\d-\d\d \d\d:\d\d", backup["name"])

    assert cli("backup", "export", backup["id"], str(tmp_path))[0] == 0

    written = tmp_path / f"billing {backup['name'].replace(':', '-')}.envops.zip"
    assert written.is_file()  # a name Windows, a USB stick's FAT and Finder all take


@pytest.mark.skipif(os.geteuid() != 0, reason="setuid-root files and owners need root (CI)")
def test_an_imported_file_sets_no_owners_setuid_or_trusted_attributes_unless_allowed(
    cli, billing, tmp_path
):
    helper = billing / "hooks.sh"
    os.chown(helper, 1, 1)
    os.chmod(helper, 0o4755)
    os.setxattr(helper, "trusted.envops", b"power")
    os.setxattr(helper, "user.note", b"kept")
    assert cli("backup", "create", "billing", "--name", "signed")[0] == 0
    exported = tmp_path / "signed.envops.zip"
    assert cli("backup", "export", _latest_id(cli), str(exported))[0] == 0
    other = tmp_path / "other"
    make_config_tree(other)
    assert cli("env", "add", "other", "--path", str(other), "--version", "4.2.0")[0] == 0

    assert cli("import", "other", str(exported), "--yes")[0] == 0
    imported = other / "hooks.sh"
    st = imported.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o755, 0, 0)
    assert os.listxattr(imported) == ["user.note"]
    # The imported backup holds no more than was applied: restoring it later adds nothing.
    assert cli("restore", "other", "latest", "--yes", "--no-backup-first")[0] == 0
    assert imported.stat().st_mode & 0o7777 == 0o755

    assert cli("import", "other", str(exported), "--yes", "--keep-privileges")[0] == 0
    st = imported.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o4755, 1, 1)
    assert sorted(os.listxattr(imported)) == ["trusted.envops", "user.note"]


def _latest_id(cli) -> str:
    code, out, _ = cli("backup", "list", "billing", "--json")
    assert code == 0
    return json.loads(out)[0]["id"]


def test_gc_frees_content_a_killed_backup_left_and_a_dry_run_only_says_so(cli, billing, tmp_path):
    assert cli("backup", "create", "billing", "--name", "kept")[0] == 0
    left = leave_unreferenced_content(tmp_path / "data", tmp_path)
    assert json.loads(cli("verify", "--json")[1])["unreferenced"] == left

    code, out, _ = cli("gc", "--dry-run", "--json")
    assert code == 0 and len(json.loads(out)["blobs"]) == left
    assert json.loads(cli("verify", "--json")[1])["unreferenced"] == left

    code, out, _ = cli("gc")
    assert code == 0 and f"Freed {left} stored files" in out
    report = json.loads(cli("verify", "--json")[1])
    assert report["unreferenced"] == 0 and report["missing"] == [] and report["damaged"] == []
    mess_up(billing)
    assert cli("restore", "billing", "kept", "--yes", "--no-backup-first")[0] == 0


def test_a_configuration_of_one_file_is_counted_in_the_singular_everywhere(cli, tmp_path):
    root = tmp_path / "motd"
    root.mkdir()
    (root / "motd").write_bytes(b"!")
    assert cli("env", "add", "motd", "--path", str(root), "--version", "1")[0] == 0

    code, out, _ = cli("backup", "create", "motd")
    assert code == 0 and out.rstrip().endswith(": 1 file, 1 byte."), out
    assert "(manual): 1 file, 1 byte" in cli("activity")[1]
    assert cli("verify")[1].startswith("1 stored file checked: 0 missing")
    code, out, _ = cli("restore", "motd", "latest", "--to", str(tmp_path / "aside"), "--dry-run")
    assert code == 0 and "1 file, 1 byte. motd stays as it is." in out, out

    backup = json.loads(cli("backup", "list", "motd", "--json")[1])[0]["id"]
    assert cli("backup", "delete", backup)[0] == 0
    code, out, _ = cli("backup", "empty-bin", "--yes")
    assert (code, out) == (0, "Freed 1 backup from Deleted.\n")
    assert cli("gc")[1].startswith("Freed 0 stored files no backup needs (0 bytes)")


def test_verify_says_what_unreferenced_files_are_and_which_command_frees_them(
    cli, billing, tmp_path
):
    assert cli("backup", "create", "billing")[0] == 0
    code, out, _ = cli("verify")
    assert code == 0 and "0 unreferenced." in out and "gc" not in out
    left = leave_unreferenced_content(tmp_path / "data", tmp_path)

    code, out, _ = cli("verify")

    assert code == 0
    assert f"{left} unreferenced." in out
    assert "belong to no backup (left by an operation that did not finish); envops gc" in out


def test_gc_at_a_terminal_says_it_waits_for_a_backup_and_stops_at_ctrl_c(cli, billing, tmp_path):
    assert cli("backup", "create", "billing", "--name", "kept")[0] == 0
    (billing / "only-in-expired.conf").write_text("freed by gc, once its days are up\n")
    expired = json.loads(cli("backup", "create", "billing", "--name", "expired", "--json")[1])
    month_ago = EnvOpsService(tmp_path / "data", clock=lambda: utc_now() - timedelta(days=30))
    month_ago.delete_backup(expired["id"])  # in Deleted for longer than it keeps backups
    month_ago.close()
    left = leave_unreferenced_content(tmp_path / "data", tmp_path)
    lock = os.open(tmp_path / "data" / "locks" / "blobs.lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_SH)  # as a backup storing its files holds it

    try:
        gc = CommandAtATerminal("--data-dir", str(tmp_path / "data"), "gc")
        gc.read_until(b"waiting for backups", 60)
        gc.process.send_signal(signal.SIGINT)
        code, out = gc.wait()
    finally:
        os.close(lock)

    assert b"waiting for backups 0:0" in gc.drawn  # the time it has waited, and no bar
    assert code == 1 and b"The operation was cancelled; nothing was changed." in gc.drawn
    assert out == b""
    deleted = json.loads(cli("backup", "list", "billing", "--deleted", "--json")[1])
    assert [b["name"] for b in deleted] == ["expired"]
    assert json.loads(cli("verify", "--json")[1])["unreferenced"] == left
    assert cli("gc")[0] == 0
    assert json.loads(cli("backup", "list", "billing", "--deleted", "--json")[1]) == []
    assert json.loads(cli("verify", "--json")[1])["unreferenced"] == 0


def test_gc_at_a_terminal_shows_what_it_reads_and_frees_as_it_empties_deleted(
    cli, billing, tmp_path
):
    expired = json.loads(cli("backup", "create", "billing", "--json")[1])
    month_ago = EnvOpsService(tmp_path / "data", clock=lambda: utc_now() - timedelta(days=30))
    month_ago.delete_backup(expired["id"])  # in Deleted for longer than it keeps backups
    month_ago.close()

    gc = CommandAtATerminal("--data-dir", str(tmp_path / "data"), "gc")
    code, _out = gc.wait()

    assert code == 0 and b"reading backups [" in gc.drawn and b"freeing stored files" in gc.drawn
    assert json.loads(cli("backup", "list", "billing", "--deleted", "--json")[1]) == []


def test_ctrl_c_while_gc_empties_deleted_says_what_it_freed_before_it_stopped(
    cli, billing, tmp_path, monkeypatch
):
    (billing / "only-in-expired.conf").write_text("freed by gc, once its days are up\n")
    expired = json.loads(cli("backup", "create", "billing", "--name", "expired", "--json")[1])
    month_ago = EnvOpsService(tmp_path / "data", clock=lambda: utc_now() - timedelta(days=30))
    month_ago.delete_backup(expired["id"])
    month_ago.close()
    empty_bin = EnvOpsService.empty_bin

    def ctrl_c_as_it_ends(self, *args, **kwargs):  # the moment is the user's, not ours
        emptied = empty_bin(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return emptied

    monkeypatch.setattr(EnvOpsService, "empty_bin", ctrl_c_as_it_ends)
    code, out, err = cli("gc")

    assert code == 1 and out == ""
    assert "Stopped once the backup whose days in Deleted were up had been freed" in err
    assert json.loads(cli("backup", "list", "billing", "--deleted", "--json")[1]) == []


def test_emptying_deleted_also_frees_what_killed_backups_left(cli, billing, tmp_path):
    assert cli("backup", "create", "billing", "--name", "kept")[0] == 0
    assert cli("backup", "create", "billing", "--name", "doomed")[0] == 0
    left = leave_unreferenced_content(tmp_path / "data", tmp_path)
    doomed = next(
        b
        for b in json.loads(cli("backup", "list", "billing", "--json")[1])
        if b["name"] == "doomed"
    )

    code, said, _ = cli("backup", "delete", doomed["id"])
    assert code == 0 and said.startswith("Moved doomed")
    listed = json.loads(cli("backup", "list", "billing", "--deleted", "--json")[1])
    assert [b["name"] for b in listed] == ["doomed"]

    assert cli("backup", "empty-bin", "--yes")[0] == 0

    assert left and json.loads(cli("verify", "--json")[1])["unreferenced"] == 0
    assert json.loads(cli("backup", "list", "billing", "--deleted", "--json")[1]) == []


def test_an_import_keeping_owners_it_may_not_set_says_which_files_before_and_after(
    cli, billing, tmp_path, monkeypatch
):
    source = configuration_owned_by_another_user(tmp_path / "owned.envops.zip")
    given_to(tmp_path / "data")  # the ordinary user's own data folder
    as_an_ordinary_user(monkeypatch)

    code, _, err = cli("import", "billing", str(source), "--yes", "--keep-privileges")

    assert code == 0
    assert "tool.sh will belong to you instead of their recorded owners" in err
    given_to(tmp_path / "data")  # what this process, root in truth, made there meanwhile
    code, out, err = cli("activity", "billing", "--json")
    assert "tool.sh will belong to you" in out, err
    # Without --keep-privileges the files are the importing user's, as asked: nothing to say.
    code, _, err = cli("import", "billing", str(source), "--yes")
    assert code == 0 and "will belong to you" not in err


def test_a_retention_count_past_what_the_window_shows_is_refused_and_an_old_one_read(
    cli, billing, tmp_path
):
    # Any count was taken: the Retention dialog's boxes go to 9999, so it showed 9999 for
    # 50,000 and saved that, and for 99999999999999999999 it failed to open at all.
    env_id = json.loads(cli("env", "show", "billing", "--json")[1])["id"]
    code, _, err = cli("retention", "set", "billing", "--scheduled-last", "10000")
    assert (code, err) == (2, "envops: a count of backups or days is 1 to 9999.\n")

    with sqlite3.connect(tmp_path / "data" / DATABASE_NAME) as db:  # as an older version kept it
        db.execute(
            "INSERT INTO retention_rules VALUES (?, ?)",
            (env_id, '{"scheduled_days": 30, "scheduled_last": 99999999999999999999}'),
        )
    code, out, _ = cli("retention", "show", "billing")

    assert code == 0 and out.startswith("Scheduled backups: for 30 days and the last 9999. ")


def test_a_schedule_set_from_the_command_line_runs_in_the_time_zone_given(cli, billing):
    code, out, _ = cli(
        "schedule", "set", "billing", "--daily", "02:00", "--time-zone", "Pacific/Chatham"
    )
    assert code == 0
    assert out.startswith("billing: Every day at 02:00 (Pacific/Chatham time) — next run ")

    code, out, _ = cli("schedule", "show", "billing", "--json")
    [shown] = json.loads(out)
    assert shown["rule"]["zone"] == "Pacific/Chatham"
    next_run = datetime.fromisoformat(shown["next_run"])
    assert next_run.astimezone(ZoneInfo("Pacific/Chatham")).time() == time(2, 0)


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        (["--daily", "02:00", "--time-zone", "Mars/Olympus"], "Mars/Olympus is not a time zone"),
        (["--daily", "02:00", "--time-zone", ""], ': "" is not a time zone'),  # a variable unset
        (["--every-hours", "8", "--time-zone", "Asia/Tokyo"], "every few hours counts elapsed"),
    ],
)
def test_a_schedule_in_a_time_zone_that_cannot_be_is_refused(cli, billing, rule, said):
    code, _, err = cli("schedule", "set", "billing", *rule)

    assert code == 2 and said in err
    assert json.loads(cli("schedule", "show", "billing", "--json")[1])[0]["rule"] is None


@pytest.mark.parametrize(
    "rule",
    [["--daily", "25:00"], ["--weekly", "Monday", "9:60"], ["--monthly", "1", "noon"]],
)
def test_a_schedule_at_a_time_no_clock_shows_is_refused_in_a_sentence(cli, billing, rule):
    code, _, err = cli("schedule", "set", "billing", *rule)

    assert code == 2
    assert err == f"envops: {rule[-1]} is not a time of day: give HH:MM, from 00:00 to 23:59.\n"
    assert json.loads(cli("schedule", "show", "billing", "--json")[1])[0]["rule"] is None


def test_a_schedule_time_of_one_hour_digit_is_taken(cli, billing):
    assert cli("schedule", "set", "billing", "--daily", "7:30")[0] == 0
    [shown] = json.loads(cli("schedule", "show", "billing", "--json")[1])
    assert shown["rule"]["at"] == "07:30:00"


def test_a_damaged_page_of_the_database_is_named_in_a_sentence(cli, billing, tmp_path):
    assert cli("backup", "create", "billing")[0] == 0
    database = damage_table(tmp_path / "data", "backups")

    assert cli("env", "list")[0] == 0  # what does not read that page still works
    code, _, err = cli("backup", "list", "billing")

    assert code == 1
    assert err.startswith(f"envops: {database} is damaged (")
    assert "Move it aside and restore it from a copy" in err


@pytest.mark.parametrize(
    "name", ["golden\nroot  restore  ok", "x" * 101], ids=["a newline", "too long"]
)
def test_a_backup_name_that_is_too_long_or_not_printable_is_refused(cli, billing, name):
    code, _, err = cli("backup", "create", "billing", "--name", name)
    assert code != 0
    assert err == "envops: A backup's name must be 1 to 100 printable characters.\n"
    assert cli("backup", "list", "billing", "--json")[1].strip() == "[]"


@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        (" latest ", "the newest backup of an environment wherever a backup is named"),
        ("live", "an environment's folder as it is now wherever backups are compared"),
    ],
)
def test_a_backup_cannot_be_named_latest_or_live_which_mean_something_else(
    cli, billing, name, meaning
):
    assert cli("backup", "create", "billing", "--name", "golden")[0] == 0
    code, _, err = cli("backup", "create", "billing", "--name", name)

    assert code == 1
    assert err == f"envops: {name.strip()!r} stands for {meaning}; give this backup another name.\n"
    assert [b["name"] for b in json.loads(cli("backup", "list", "billing", "--json")[1])] == [
        "golden"
    ]
    assert cli("backup", "create", "billing", "--name", name.title())[0] == 0  # not the word


@pytest.mark.parametrize("name", ["", "   ", "\t"], ids=["empty", "spaces", "a tab"])
def test_a_backup_name_left_blank_is_named_for_the_backups_time(cli, billing, name):
    code, out, _ = cli("backup", "create", "billing", "--name", name, "--json")

    assert code == 0
    assert json.loads(out)["name"].startswith("Backup 20")  # as with no --name at all


@pytest.mark.parametrize("limit", ["-5", "0", "ten"])
def test_an_activity_limit_that_is_not_a_count_is_refused_not_read_as_all(cli, billing, limit):
    with pytest.raises(SystemExit) as ended:
        cli("activity", "--limit", limit)

    assert ended.value.code == 2  # a usage error, where -5 listed the whole log


def test_a_shared_store_endpoint_that_is_not_a_web_address_is_refused(cli, billing, monkeypatch):
    monkeypatch.setenv("ENVOPS_PASSPHRASE", "correct horse battery staple")
    code, _, err = cli("store", "use", "s3://team-configs/ops", "--endpoint", "minio:9000")
    assert code != 0
    assert "'minio:9000' is not an endpoint: give its address with http:// or https://" in err


def test_importing_a_pipe_is_refused_without_waiting_for_a_writer(
    tmp_path, pipe_named_like_an_archive
):
    data = tmp_path / "data"
    make_config_tree(tmp_path / "billing")
    envops = [sys.executable, "-m", "envops_desktop.cli", "--data-dir", str(data)]
    add = ["env", "add", "billing", "--path", str(tmp_path / "billing"), "--version", "1"]
    subprocess.run([*envops, *add], check=True, cwd=REPO, capture_output=True)

    done = subprocess.run(
        [*envops, "import", "billing", str(pipe_named_like_an_archive.path), "--yes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 5
    assert "from-ssh.zip was refused: it is a pipe, a device or a socket" in done.stderr
    assert pipe_named_like_an_archive.opened_to_read == 0


@pytest.mark.parametrize("command", ["restore", "import"])
def test_at_a_terminal_another_version_is_refused_before_the_question(
    cli, billing, tmp_path, monkeypatch, command
):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    exported = tmp_path / "billing.envops.zip"
    assert cli("backup", "export", backup["id"], str(exported))[0] == 0
    assert cli("env", "update", "billing", "--version", "5.0.0")[0] == 0
    asked: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "y")
    before = describe_tree(billing)

    argv = {
        "restore": ["restore", "billing", "latest"],
        "import": ["import", "billing", str(exported)],
    }
    code, _, err = cli(*argv[command])

    assert code == 3 and "update the environment to 4.2.0 first" in err
    assert asked == []  # not asked a question whose answer could change nothing
    assert describe_tree(billing) == before


@pytest.mark.parametrize("command", ["restore", "restore --only conf.d", "import"])
def test_asked_at_a_terminal_the_question_says_what_changes_and_holds_the_folder_to_it(
    cli, billing, tmp_path, monkeypatch, command
):
    backup = json.loads(cli("backup", "create", "billing", "--json")[1])
    exported = tmp_path / "billing.envops.zip"
    assert cli("backup", "export", backup["id"], str(exported))[0] == 0
    mess_up(billing)
    argv = {
        "restore": ["restore", "billing", backup["id"]],
        "restore --only conf.d": ["restore", "billing", backup["id"], "--only", "conf.d"],
        "import": ["import", "billing", str(exported)],
    }[command]
    asked, seen_when_asked_again = [], []

    def answer_after_an_edit(question: str) -> str:
        asked.append(question)
        if len(asked) == 1:  # a deploy job writes while the operator reads
            (billing / "conf.d" / "late.ini").write_text("[written while the question waited]\n")
        else:
            seen_when_asked_again.append(describe_tree(billing))
        return "y"

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", answer_after_an_edit)
    before = describe_tree(billing)  # as the question saw it
    code, _, err = cli(*argv)

    assert re.search(r"It changes: \d+ added, .*removed.* \(--dry-run lists them\)", asked[0])
    assert "changed since its preview" in err and len(asked) == 2  # asked again, then done
    assert code == 0, err
    # Nothing was changed before it asked again: only the late edit is new.
    after = seen_when_asked_again[0]
    assert after.pop("conf.d/late.ini") and {p: v for p, v in after.items() if p != "conf.d"} == {
        p: v for p, v in before.items() if p != "conf.d"
    }
    assert asked[1] != asked[0]  # what it changes now: the late edit too
    assert not (billing / "conf.d" / "late.ini").exists()
