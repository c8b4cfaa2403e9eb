"""Shared fixtures: a real service on a real data dir, and realistic configuration trees."""

import os

# GUI tests run without a display; this must be set before Qt is first imported.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest

from envops_desktop.service import EnvOpsService, scanning
from envops_desktop.ui.crash_reporter import CrashReporter
from tests.trees import make_config_tree


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


@pytest.fixture
def xattrs_listed(monkeypatch) -> list[str]:
    """Every path whose extended attributes are listed from now on."""
    listed: list[str] = []
    listxattr = os.listxattr

    def listing(path, *args, **kwargs):
        listed.append(os.fsdecode(path))
        return listxattr(path, *args, **kwargs)

    monkeypatch.setattr(os, "listxattr", listing)
    return listed
