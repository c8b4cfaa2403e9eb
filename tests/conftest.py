"""Shared fixtures: a real service on a real data dir, and realistic configuration trees."""

import os

# GUI tests run without a display; this must be set before Qt is first imported.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import contextlib
import tempfile
import threading
from pathlib import Path

import pytest

from envops_desktop.service import EnvOpsService, scanning
from envops_desktop.ui.crash_reporter import CrashReporter
from tests.trees import make_config_tree


@pytest.fixture(autouse=True, scope="session")
def temporary_folder_of_the_run(tmp_path_factory: pytest.TempPathFactory):
    """The temporary files of every process the tests start go in the run's own folder,
    which pytest clears with its older runs: a command killed by a test leaves its helpers'
    fork server's folder (`pymp-…`) behind, and dozens had gathered in /tmp run after run."""
    folder = tmp_path_factory.mktemp("tmp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(folder))
        patch.setattr(tempfile, "tempdir", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def crash_reporter():
    """The app's own catch-all handler, for every test: what reaches it fails the test.

    pytest-qt's own capture is off (pyproject.toml), so an exception escaping a slot reaches
    exactly what reaches it in the app, and shows the same banner; a test that leaves
    anything here fails at teardown.
    """
    reporter = CrashReporter()
    reporter.show_with(lambda _text: None)  # no window: nothing to show it in, but kept
    reporter.install()
    yield reporter
    reporter.uninstall()
    assert not reporter.raised, "an exception reached the catch-all handler:\n" + (
        reporter.describe()
    )


@pytest.fixture
def service(tmp_path: Path):
    svc = EnvOpsService(tmp_path / "data")
    yield svc
    svc.close()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A realistic configuration directory: nested folders, a link, an empty folder, modes."""
    root = tmp_path / "environments" / "billing"
    make_config_tree(root)
    return root


@pytest.fixture
def environment(service: EnvOpsService, config_dir: Path):
    return service.add_environment("billing", config_dir, version="4.2.0")


@pytest.fixture
def settled(monkeypatch):
    """Back up as if the files had last changed long before: a ctime cannot be set back, and
    a tree whose inodes changed within two seconds of its backup is never named by digest."""
    monkeypatch.setattr(scanning, "RACY_NS", 0)


class XattrListings(list):
    """The paths whose extended attributes were listed, in order; `by_name` holds those
    listed by path rather than on an open file."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: list[str] = []


@pytest.fixture
def xattrs_listed(monkeypatch) -> XattrListings:
    """Every path whose extended attributes are listed from now on."""
    listed = XattrListings()
    listxattr = os.listxattr

    def listing(path, *args, **kwargs):
        if isinstance(path, int):
            listed.append(os.readlink(f"/proc/self/fd/{path}"))
        else:
            listed.append(os.fsdecode(path))
            listed.by_name.append(listed[-1])
        return listxattr(path, *args, **kwargs)

    monkeypatch.setattr(os, "listxattr", listing)
    return listed


class NamedPipe:
    """A named pipe in a test, and how many times something opened it to read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened_to_read = 0


@pytest.fixture
def pipe_named_like_an_archive(tmp_path):
    """`from-ssh.zip`, a named pipe, as `mkfifo` and `ssh host cat … >` make one. Until the
    test ends, a writer comes by every half second and goes, so that whatever opened it to
    read is let go (reading nothing), and counted, instead of holding the test forever."""
    pipe = NamedPipe(tmp_path / "from-ssh.zip")
    os.mkfifo(pipe.path)
    done = threading.Event()

    def let_readers_go() -> None:
        while not done.wait(0.5):
            with contextlib.suppress(OSError):  # no reader there: nothing to let go
                os.close(os.open(pipe.path, os.O_WRONLY | os.O_NONBLOCK))
                pipe.opened_to_read += 1

    writer = threading.Thread(target=let_readers_go)
    writer.start()
    yield pipe
    done.set()
    writer.join()
