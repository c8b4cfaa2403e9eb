"""Preferences: this workstation's folders and notifications, and the team's shared store."""

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.main_controller import MainController
from envops_desktop.controller.operation_runner import RunningOperation
from envops_desktop.data_dir import log_dir
from envops_desktop.domain.retention import SCHEDULED_DAYS_CHOICES
from envops_desktop.ui.desktop_notifier import NOTIFICATIONS_ON, notifications_on
from envops_desktop.ui.label_text import plain_label, rich_label
from envops_desktop.ui.theme import DARK, LIGHT, SYSTEM, THEME, apply_theme, chosen_theme

_SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse


class PreferencesDialog(QDialog):
    """Tabs of settings. General shows the data and log folders and turns desktop
    notifications on or off (a window preference, in QSettings); Storage connects the data
    folder to a team's S3-compatible bucket.

    Test connection proves the server refuses a second create-only write and a write on a
    stale ETag before anything is kept; Connect then makes the store in the bucket (or
    unlocks the one there) with the passphrase. Both run on workers.
    """

    def __init__(
        self, controller: MainController, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle(self.tr("Preferences"))
        self._controller, self._settings = controller, settings
        self._running: RunningOperation | None = None
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("preferencesTabs")
        self.tabs.addTab(self._general_tab(), self.tr("&General"))
        self.tabs.addTab(self._storage_tab(), self.tr("&Storage"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    def _general_tab(self) -> QWidget:
        tab = QWidget(self)
        tab.setObjectName("generalTab")
        data_dir = plain_label(str(self._controller.service.data_dir), tab)
        data_dir.setObjectName("generalDataFolderLabel")
        logs = plain_label(str(log_dir()), tab)
        logs.setObjectName("logFolderLabel")
        for label in (data_dir, logs):
            label.setTextInteractionFlags(label.textInteractionFlags() | _SELECTABLE)
        self.notifications = QCheckBox(
            self.tr("&Notify me when long work ends while EnvOps is in the background"), tab
        )
        self.notifications.setObjectName("notificationsCheckBox")
        self.notifications.setAccessibleName(self.notifications.text().replace("&", ""))
        self.notifications.setChecked(notifications_on(self._settings))
        self.notifications.toggled.connect(lambda on: self._settings.setValue(NOTIFICATIONS_ON, on))
        self.theme = QComboBox(tab)
        self.theme.setObjectName("themeCombo")
        self.theme.setAccessibleName(self.tr("Theme"))
        for text, value in (
            (self.tr("As the desktop"), SYSTEM),
            (self.tr("Light"), LIGHT),
            (self.tr("Dark"), DARK),
        ):
            self.theme.addItem(text, value)
        self.theme.setCurrentIndex(self.theme.findData(chosen_theme(self._settings)))
        self.theme.currentIndexChanged.connect(self._theme_chosen)
        service = self._controller.service
        self.bin_days = QSpinBox(tab)
        self.bin_days.setObjectName("binDaysSpinBox")
        self.bin_days.setAccessibleName(self.tr("Days a deleted backup stays recoverable"))
        self.bin_days.setRange(1, 365)
        self.bin_days.setSuffix(self.tr(" days"))
        self.bin_days.setValue(round(service.bin_days()))
        self.bin_days.valueChanged.connect(lambda days: service.set_bin_days(days))
        default = service.default_retention()
        self.default_days = QComboBox(tab)
        self.default_days.setObjectName("defaultRetentionCombo")
        self.default_days.setAccessibleName(self.tr("Keep scheduled backups for, by default"))
        for days in SCHEDULED_DAYS_CHOICES:
            self.default_days.addItem(self.tr("{n} days").format(n=days), days)
        self.default_days.setCurrentIndex(
            max(0, self.default_days.findData(default.scheduled_days))
        )
        self.default_days.currentIndexChanged.connect(
            lambda: service.set_default_retention(
                service.default_retention().model_copy(
                    update={"scheduled_days": self.default_days.currentData()}
                )
            )
        )
        form = QFormLayout()
        form.addRow(self.tr("Data folder:"), data_dir)
        form.addRow(self.tr("Log folder:"), logs)
        form.addRow(self.tr("&Theme:"), self.theme)
        form.addRow(self.tr("Keep &deleted backups for:"), self.bin_days)
        form.addRow(self.tr("Keep scheduled backups &for:"), self.default_days)
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addWidget(self.notifications)
        note = QLabel(
            self.tr(
                "A scheduled backup that fails is told even while the window is in front. "
                "Deleted days and the retention of scheduled backups are this data folder's: "
                "the command line goes by them too (an environment's own retention rule, "
                "set in Retention…, comes first)."
            ),
            tab,
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        return tab

    def _theme_chosen(self) -> None:
        theme = self.theme.currentData()
        self._settings.setValue(THEME, theme)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)

    def _storage_tab(self) -> QWidget:
        tab = QWidget(self)
        tab.setObjectName("storageTab")
        settings = self._controller.store_work.shared_store()
        data_dir = plain_label(str(self._controller.service.data_dir), tab)
        data_dir.setObjectName("dataFolderLabel")
        self.url = self._field(tab, "storeUrlEdit", self.tr("Shared store address"))
        self.url.setPlaceholderText(self.tr("s3://bucket/prefix"))
        self.endpoint = self._field(tab, "storeEndpointEdit", self.tr("S3 server"))
        self.endpoint.setPlaceholderText(self.tr("AWS when empty; MinIO or Ceph: its URL"))
        self.region = self._field(tab, "storeRegionEdit", self.tr("Region"))
        self.passphrase = self._field(tab, "storePassphraseEdit", self.tr("Passphrase"))
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        if settings is not None:
            self.url.setText(settings.url)
            self.endpoint.setText(settings.endpoint or "")
            self.region.setText(settings.region or "")
        self.remember = QCheckBox(self.tr("&Keep the passphrase in the system keyring"), tab)
        self.remember.setObjectName("rememberPassphraseCheckBox")
        self.remember.setAccessibleName(self.remember.text().replace("&", ""))
        self.test_button = QPushButton(self.tr("&Test connection"), tab)
        self.test_button.setObjectName("testConnectionButton")
        self.test_button.setAccessibleName(self.tr("Test the connection to the shared store"))
        self.test_button.clicked.connect(self.test_connection)
        self.connect_button = QPushButton(self.tr("&Connect"), tab)
        self.connect_button.setObjectName("connectStoreButton")
        self.connect_button.setAccessibleName(self.tr("Connect to the shared store"))
        self.connect_button.clicked.connect(self.connect_store)
        self.status = plain_label(parent=tab)
        self.status.setObjectName("storeStatusLabel")
        self.status.setWordWrap(True)
        self.status.setText(
            self.tr("Connected to {url} (store {id}).").format(
                url=settings.url, id=settings.store_id
            )
            if settings is not None
            else self.tr("Backups stay in this workstation's data folder only.")
        )
        form = QFormLayout()
        form.addRow(self.tr("Data folder:"), data_dir)
        form.addRow(self.tr("&Address:"), self.url)
        form.addRow(self.tr("S3 s&erver:"), self.endpoint)
        form.addRow(self.tr("&Region:"), self.region)
        form.addRow(self.tr("&Passphrase:"), self.passphrase)
        form.addRow("", self.remember)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.connect_button)
        row.addStretch(1)
        note = rich_label(
            self.tr(
                "Everything in the bucket is encrypted with a key that only the passphrase "
                "unlocks. <b>Lose the passphrase and the store cannot be read.</b>"
            ),
            tab,
        )
        note.setWordWrap(True)
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addStretch(1)
        return tab

    @staticmethod
    def _field(parent: QWidget, name: str, accessible: str) -> QLineEdit:
        edit = QLineEdit(parent)
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        return edit

    def _address(self) -> tuple[str, str, str]:
        return self.url.text().strip(), self.endpoint.text().strip(), self.region.text().strip()

    def test_connection(self) -> None:
        """Test connection: prove the server enforces conditional writes."""
        self._launch(
            self.tr("Testing the connection…"),
            self._controller.store_work.test_store(*self._address()),
            lambda check: self.tr("{where} enforces conditional writes: it can be shared.").format(
                where=check.where
            ),
        )

    def connect_store(self) -> None:
        """Connect: make or unlock the store in the bucket and keep its address."""
        if not self.passphrase.text():
            self.status.setText(self.tr("Give the store's passphrase first."))
            self.passphrase.setFocus()
            return
        self._launch(
            self.tr("Connecting…"),
            self._controller.store_work.connect_store(
                *self._address(), self.passphrase.text(), self.remember.isChecked()
            ),
            lambda opened: (
                self.tr("Made the store in {url} and connected to it.")
                if opened.created
                else self.tr("Connected to the store in {url}.")
            ).format(url=opened.settings.url),
        )

    def _launch(self, waiting: str, running: RunningOperation, said: Callable[[Any], str]) -> None:
        self.status.setText(waiting)
        self.test_button.setEnabled(False)
        self.connect_button.setEnabled(False)
        running.succeeded.connect(lambda result: self._done(said(result)))
        running.failed.connect(lambda message, _error: self._done(message))
        running.cancelled.connect(lambda message: self._done(message))
        self._running = running
        self._controller.runner.launch(running)

    def _done(self, text: str) -> None:
        self._running = None
        self.status.setText(text)
        self.test_button.setEnabled(True)
        self.connect_button.setEnabled(True)

    def reject(self) -> None:
        if self._running is not None:  # a connection attempt ends on its own, with retries
            self._running.wait(60_000)
        super().reject()
