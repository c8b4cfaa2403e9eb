"""Registering environments: validation, version files, and never touching their folders."""

import os
import threading
import time

import pytest

from envops_desktop.domain.enums import ActivityAction
from envops_desktop.domain.errors import (
    InvalidInputError,
    NotFoundError,
    OperationCancelledError,
)
from envops_desktop.domain.models import RestoreCommand
from envops_desktop.domain.progress import CancelToken
from tests.store_view import store_files
from tests.trees import describe_tree


def test_adding_an_environment_records_it_and_an_activity_entry(service, config_dir):
    env = service.add_environment("billing", config_dir, version="4.2.0")
    assert service.get_environment("billing") == env
    assert service.get_environment(env.id) == env
    assert service.activity()[0].action is ActivityAction.ENVIRONMENT_ADDED


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\there"])
def test_bad_names_are_refused(service, config_dir, name):
    with pytest.raises(InvalidInputError, match="printable"):
        service.add_environment(name, config_dir, version="1")


@pytest.mark.parametrize("field", ["name", "version"])
def test_a_name_or_version_that_is_not_utf8_text_is_refused(service, config_dir, field):
    # What the database cannot hold as text: refused by the service itself, whoever asks.
    given = {"name": "billing", "version": "4.2.0", field: os.fsdecode(b"caf\xe9")}
    with pytest.raises(InvalidInputError, match=r"must be UTF-8 text: caf\\xe9 holds"):
        service.add_environment(given["name"], config_dir, version=given["version"])
    assert service.list_environments() == []


def test_duplicate_names_and_paths_are_refused(service, config_dir, tmp_path):
    service.add_environment("billing", config_dir, version="1")
    with pytest.raises(InvalidInputError, match="already exists"):
        service.add_environment("BILLING", tmp_path, version="1")
    with pytest.raises(InvalidInputError, match="already the environment billing"):
        service.add_environment("other", config_dir, version="1")


def test_a_missing_folder_is_refused(service, tmp_path):
    with pytest.raises(InvalidInputError, match="not an existing folder"):
        service.add_environment("x", tmp_path / "nope", version="1")


def test_the_data_dir_cannot_be_an_environment(service, tmp_path):
    with pytest.raises(InvalidInputError, match="EnvOps's own data"):
        service.add_environment("x", tmp_path, version="1")


def test_version_and_version_file_are_exclusive(service, config_dir):
    with pytest.raises(InvalidInputError, match="either a version or a version file"):
        service.add_environment("x", config_dir)
    with pytest.raises(InvalidInputError, match="either a version or a version file"):
        service.add_environment("x", config_dir, version="1", version_file="VERSION")


def test_version_file_governs_the_version(service, config_dir):
    env = service.add_environment("billing", config_dir, version_file="VERSION")
    assert env.version == "4.2.0"
    (config_dir / "VERSION").write_text("4.3.1\nbuild 7\n")
    # As recorded until read again: a look at an environment never waits on its folder.
    assert service.get_environment("billing").version == "4.2.0"
    service.read_versions("billing")
    assert service.get_environment("billing").version == "4.3.1"
    with pytest.raises(InvalidInputError, match="takes its version from VERSION"):
        service.update_environment_version("billing", "9")


def test_a_missing_version_file_is_refused(service, config_dir):
    with pytest.raises(InvalidInputError, match="does not exist"):
        service.add_environment("billing", config_dir, version_file="NOPE")


def test_a_version_file_that_is_a_pipe_is_refused_without_waiting_for_it(
    service, config_dir, pipe_named_like_an_archive
):
    # Written by the deploy job into a pipe, say, and linked where the version file goes.
    os.symlink(pipe_named_like_an_archive.path, config_dir / "VERSION.live")
    with pytest.raises(InvalidInputError, match=r"VERSION\.live is not a regular file"):
        service.add_environment("billing", config_dir, version_file="VERSION.live")
    time.sleep(1)  # two rounds of the pipe's writer: long enough to find a reader waiting
    assert pipe_named_like_an_archive.opened_to_read == 0


def test_updating_the_recorded_version_is_logged(service, config_dir):
    service.add_environment("billing", config_dir, version="1.0")
    assert service.update_environment_version("billing", "1.1").version == "1.1"
    assert "1.0 → 1.1" in service.activity("billing")[0].detail


def test_removing_an_environment_never_deletes_its_folder(service, config_dir, tmp_path):
    said = RestoreCommand(argv=["sh", "-c", "echo restarted"])
    env = service.add_environment("billing", config_dir, version="1", post_restore_command=said)
    service.restore_backup("billing", service.create_backup("billing").id)
    before = describe_tree(config_dir)
    assert (tmp_path / "data" / "command-output" / f"{env.id}-post-restore.log").exists()
    service.remove_environment("billing")
    assert describe_tree(config_dir) == before
    assert list((tmp_path / "data" / "command-output").iterdir()) == []  # what it printed
    with pytest.raises(NotFoundError):
        service.get_environment("billing")
    assert store_files(tmp_path / "data") == {}
    assert service.activity()[0].action is ActivityAction.ENVIRONMENT_REMOVED


def test_the_service_works_from_another_thread(service, config_dir):
    results = []
    service.add_environment("billing", config_dir, version="1")
    worker = threading.Thread(target=lambda: results.append(service.create_backup("billing")))
    worker.start()
    worker.join()
    assert service.list_backups("billing") == results


@pytest.mark.parametrize("version", ["4.3\nbilling  Ready  9.9", "4.3\x1b[31m", "4.3\x7f"])
def test_a_version_with_control_characters_is_refused(service, environment, version):
    with pytest.raises(InvalidInputError, match="printable"):
        service.update_environment_version("billing", version)
    assert service.get_environment("billing").version == "4.2.0"


def test_a_version_file_with_control_characters_is_refused(service, config_dir):
    (config_dir / "VERSION").write_text("4.2\x1b[2K\n")
    with pytest.raises(InvalidInputError, match="control characters"):
        service.add_environment("billing", config_dir, version_file="VERSION")
    assert service.list_environments() == []


def test_a_post_restore_command_with_an_unbalanced_quote_is_refused_when_set():
    with pytest.raises(InvalidInputError, match="cannot be split into words: no closing"):
        RestoreCommand.from_text("systemctl restart 'billing")


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("systemctl stop billing && sleep 1", "&&"),
        ("reload.sh; true", ";"),
        ("nginx -t 2>&1", ">&"),
        ("journalctl -u billing | tail", "|"),
        ("systemctl restart $SERVICE", "$SERVICE"),
        ("cp ${HOME}/billing.env .", "${HOME}"),
        ("curl -d `hostname` http://ops/restored", "`"),
        ("~/bin/reload-billing", "~"),
        ("systemctl restart billing # and its workers", "#"),
    ],
)
def test_a_restore_command_only_a_shell_would_run_is_refused_with_the_sh_c_that_runs_it(
    line, shown
):
    # Run as a program with its arguments, `a && b` would hand `a` the words `&&` and `b`.
    with pytest.raises(InvalidInputError) as refused:
        RestoreCommand.from_text(line, when="pre")
    assert f"holds {shown!r}, which only a shell reads" in str(refused.value)
    suggested = str(refused.value).split("write ", 1)[1].removesuffix(".")
    assert RestoreCommand.from_text(suggested).argv == ["sh", "-c", line]


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        (
            "find . -name '*.tmp' -exec rm {} \\;",
            ["find", ".", "-name", "*.tmp", "-exec", "rm", "{}", ";"],
        ),
        (
            "sh -c 'systemctl stop billing && sleep 1'",
            ["sh", "-c", "systemctl stop billing && sleep 1"],
        ),
        ("echo '$HOME' \\$PATH \"a|b\"", ["echo", "$HOME", "$PATH", "a|b"]),
        # A line in double quotes is for the shell it is handed to, its variables too.
        (
            'sh -c "systemctl stop $SERVICE && sleep 1"',
            ["sh", "-c", "systemctl stop $SERVICE && sleep 1"],
        ),
        (
            "curl http://ops/health?full=1#top --user a~b",
            ["curl", "http://ops/health?full=1#top", "--user", "a~b"],
        ),
    ],
)
def test_a_restore_command_with_quoted_or_escaped_shell_characters_runs_as_written(line, argv):
    assert RestoreCommand.from_text(line).argv == argv


def test_an_add_cancelled_while_its_folder_was_looked_at_records_nothing(service, config_dir):
    # The window's Cancel, pressed while a network disk held the look at the folder.
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(OperationCancelledError):
        service.add_environment("billing", config_dir, version="4.2.0", cancel=cancel)
    assert service.list_environments() == []
    assert service.activity() == []
