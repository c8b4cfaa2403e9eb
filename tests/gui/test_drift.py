"""The environments table says when a folder was changed since its last backup."""

from envops_desktop.controller import drift_watch
from envops_desktop.controller.environments_model import DRIFT_COLUMN, MODIFIED
from tests.gui.conftest import select_environment, when_modal
from tests.gui.user import press_shortcut


def _badge(window) -> str:
    model = window.controller.environments_model
    return model.index(model.row_of(window.controller.selected_environment.id), DRIFT_COLUMN).data()


def test_the_drift_badge_follows_the_folder_and_goes_with_the_next_backup(
    qtbot, window, service, environment, config_dir, monkeypatch
):
    monkeypatch.setattr(drift_watch, "WATCHED_EVERY_SECONDS", 0.0)
    service.create_backup("billing")
    window.controller.refresh()
    select_environment(window, "billing")
    qtbot.waitUntil(lambda: window.controller.drift.state(environment.id) is False, timeout=10_000)
    assert _badge(window) == ""

    (config_dir / "app.yaml").write_text("server:\n  port: 1\n")  # seen by the folder's watcher

    qtbot.waitUntil(lambda: _badge(window) == MODIFIED, timeout=10_000)
    when_modal(lambda dialog: dialog.accept(), named="createBackupDialog")
    press_shortcut(qtbot, window, "Ctrl+B")
    qtbot.waitUntil(lambda: _badge(window) == "", timeout=20_000)
    assert len(service.list_backups("billing")) == 2
