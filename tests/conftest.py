"""Shared fixtures: a real service on a real data dir, and realistic configuration trees."""

import os

# GUI tests run without a display; this must be set before Qt is first imported.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest

from envops_desktop.service import EnvOpsService
from tests.trees import make_config_tree


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
