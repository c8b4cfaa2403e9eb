"""The main window's actions, with their shortcuts, menus, toolbar and when each is allowed."""

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QToolButton

from envops_desktop.controller.action_rules import Needs
from envops_desktop.ui.icons import icon

Shortcut = QKeySequence | QKeySequence.StandardKey | str | None


class WindowActions(QObject):
    """Every command of the main window as a QAction, whatever menu or button shows it.

    Each action says what it needs (`Needs`); `update` enables it or disables it with a
    tooltip saying why not, so the toolbar, the menus and the shortcuts always agree.
    """

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._needs: dict[QAction, Needs] = {}
        self._tips: dict[QAction, str] = {}
        tr = self.tr
        new = self._new
        self.add = new(
            "addEnvironmentAction",
            tr("&Add environment…"),
            "add",
            Needs.NOTHING,
            QKeySequence.StandardKey.New,
        )
        self.update_env = new(
            "updateEnvironmentAction",
            tr("&Update environment…"),
            "edit",
            Needs.IDLE,
            "Ctrl+E",
        )
        self.remove = new(
            "removeEnvironmentAction",
            tr("&Remove environment…"),
            "remove",
            Needs.IDLE,
            "Ctrl+Shift+Del",
        )
        self.backup = new(
            "createBackupAction", tr("Create &backup…"), "backup", Needs.IDLE, "Ctrl+B"
        )
        self.restore = new(
            "restoreBackupAction",
            tr("&Restore backup…"),
            "restore",
            Needs.IDLE | Needs.BACKUP,
            "Ctrl+R",
        )
        self.import_file = new(
            "importConfigurationAction", tr("Restore from &file…"), "import", Needs.IDLE, "Ctrl+I"
        )
        self.export = new(
            "exportBackupAction", tr("&Export backup…"), "export", Needs.BACKUP, "Ctrl+Shift+E"
        )
        self.delete = new(
            "deleteBackupAction",
            tr("&Delete backup…"),
            "trash",
            Needs.IDLE | Needs.BACKUP,
            QKeySequence.StandardKey.Delete,
        )
        self.schedule = new(
            "scheduleBackupsAction",
            tr("&Schedule backups…"),
            None,
            Needs.ENVIRONMENT,
            "Ctrl+Shift+B",
        )
        self.retention = new(
            "retentionAction", tr("Re&tention…"), None, Needs.ENVIRONMENT, "Ctrl+Shift+K"
        )
        self.refresh = new(
            "refreshAction",
            tr("Re&fresh"),
            "refresh",
            Needs.NOTHING,
            QKeySequence.StandardKey.Refresh,
        )
        self.find = new(
            "findAction",
            tr("F&ind"),
            None,
            Needs.NOTHING,
            QKeySequence.StandardKey.Find,
        )
        self.sync = new(
            "syncStoreAction", tr("S&ync with team"), "refresh", Needs.NOTHING, "Ctrl+Shift+Y"
        )
        self.verify = new(
            "verifyStoreAction", tr("&Verify store"), None, Needs.NOTHING, "Ctrl+Shift+V"
        )
        # Not StandardKey.Preferences: that is empty on Windows and on most X11 desktops.
        self.preferences = new(
            "preferencesAction", tr("&Preferences…"), None, Needs.NOTHING, "Ctrl+,"
        )
        # Not StandardKey.Quit: that is empty on Windows and on an X11 desktop with no theme.
        self.quit = new("quitAction", tr("&Quit"), None, Needs.NOTHING, "Ctrl+Q")
        self.about = new("aboutAction", tr("&About EnvOps Desktop"), None, Needs.NOTHING, None)

    def _new(
        self, name: str, text: str, icon_name: str | None, needs: Needs, shortcut: Shortcut
    ) -> QAction:
        action = QAction(icon(icon_name) if icon_name else QIcon(), text, self._window)
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        self._tips[action] = text.replace("&", "").replace("…", "")
        self._needs[action] = needs
        self._window.addAction(action)  # its shortcut works whatever menu shows it
        return action

    def connect(self, action: QAction, slot: Callable[[], object]) -> None:
        # triggered(bool) would hand `checked` to a slot that takes an optional argument.
        action.triggered.connect(lambda _checked=False: slot())

    def update(self, why_not: Callable[[Needs], str | None]) -> None:
        """Enable what can run now; give what cannot a tooltip saying why."""
        for action, needs in self._needs.items():
            reason = why_not(needs)
            action.setEnabled(reason is None)
            tip = self._tips[action] if reason is None else reason
            action.setToolTip(tip)
            action.setStatusTip(tip)

    def fill_menus(self) -> None:
        bar = self._window.menuBar()
        tr = self.tr
        self._menu(
            bar.addMenu(tr("&File")),
            [
                self.import_file,
                self.export,
                None,
                self.sync,
                self.verify,
                self.preferences,
                None,
                self.quit,
            ],
        )
        self._menu(
            bar.addMenu(tr("&Environment")),
            [self.add, self.update_env, self.remove, None, self.find, self.refresh],
        )
        self._menu(
            bar.addMenu(tr("&Backup")),
            [
                self.backup,
                self.restore,
                self.export,
                self.delete,
                None,
                self.schedule,
                self.retention,
            ],
        )
        self._menu(bar.addMenu(tr("&Help")), [self.about])

    def environment_menu(self) -> QMenu:
        """The environments table's right-click menu."""
        menu = QMenu(self._window)
        menu.setObjectName("environmentMenu")
        return self._menu(
            menu,
            [self.backup, self.schedule, self.import_file, None, self.update_env, self.remove],
        )

    @staticmethod
    def _menu(menu: QMenu, actions: list[QAction | None]) -> QMenu:
        menu.setToolTipsVisible(True)  # a disabled entry says why
        for action in actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        return menu

    def make_toolbar(self) -> QToolBar:
        toolbar = QToolBar(self.tr("Main toolbar"), self._window)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        for action in (
            self.add,
            self.update_env,
            None,
            self.backup,
            self.restore,
            self.import_file,
            None,
            self.refresh,
        ):
            if action is None:
                toolbar.addSeparator()
                continue
            toolbar.addAction(action)
            button = toolbar.widgetForAction(action)
            # createBackupAction's button is createBackupButton, as the GUI contract names it.
            button.setObjectName(action.objectName().removesuffix("Action") + "Button")
            button.setAccessibleName(self._tips[action])
        # Qt's own button for what a narrow window has no room for: it shows only then.
        more = toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
        if more is not None:
            more.setAccessibleName(self.tr("More toolbar buttons"))
            more.setToolTip(self.tr("More toolbar buttons"))
        return toolbar
