"""Retention…: how long an environment's backups are kept, with a dry run before anything goes."""

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.main_controller import MainController
from envops_desktop.domain.models import Environment
from envops_desktop.domain.retention import (
    ALWAYS_KEPT,
    MAX_COUNT,
    SCHEDULED_DAYS_CHOICES,
    RetentionRule,
)
from envops_desktop.ui.label_text import plain_label


class RetentionDialog(QDialog):
    """Sets an environment's retention rule. As the rule is chosen, the backups it would
    remove now are listed ("these 4 backups would be removed"); Apply keeps the rule and
    removes them, each with an activity entry."""

    def __init__(
        self, controller: MainController, environment: Environment, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("retentionDialog")
        self.setWindowTitle(self.tr("Retention of {name}").format(name=environment.name))
        self._controller, self._environment = controller, environment
        tr = self.tr
        rule = controller.schedule_work.retention_of(environment)
        self.scheduled_days = QComboBox(self)
        self.scheduled_days.setObjectName("scheduledDaysCombo")
        self.scheduled_days.setAccessibleName(tr("Keep scheduled backups for"))
        for days in SCHEDULED_DAYS_CHOICES:
            self.scheduled_days.addItem(tr("{n} days").format(n=days), days)
        self.scheduled_days.addItem(tr("no set time"), None)
        self.scheduled_days.setCurrentIndex(self.scheduled_days.findData(rule.scheduled_days))
        self.scheduled_last = self._count(
            "scheduledLastSpinBox", tr("Or the last"), rule.scheduled_last, tr("no count")
        )
        self.before_restore_last = self._count(
            "beforeRestoreLastSpinBox", tr("Before restore or import: the last"),
            rule.before_restore_last, minimum=1,
        )  # fmt: skip
        self.manual_days = self._count(
            "manualDaysSpinBox", tr("Manual and imported: days"), rule.manual_days, tr("always")
        )
        self.dry_run = plain_label(parent=self)
        self.dry_run.setObjectName("retentionDryRunLabel")
        self.dry_run.setWordWrap(True)
        self.removals = QListWidget(self)
        self.removals.setObjectName("retentionRemovalsList")
        self.removals.setAccessibleName(tr("Backups that would be removed"))
        form = QFormLayout()
        form.addRow(tr("Keep &scheduled backups for:"), self.scheduled_days)
        form.addRow(tr("…&or the last:"), self.scheduled_last)
        form.addRow(tr("&Before restore or import, the last:"), self.before_restore_last)
        form.addRow(tr("&Manual and imported, days:"), self.manual_days)
        note = QLabel(
            tr(
                "A backup is kept when any rule keeps it. Pinned backups and the newest {n} "
                "are always kept; retention also runs after each scheduled backup."
            ).format(n=ALWAYS_KEPT),
            self,
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.apply_button = buttons.addButton(tr("&Apply"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setObjectName("applyRetentionButton")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.dry_run)
        layout.addWidget(self.removals, 1)
        layout.addStretch(0)
        layout.addWidget(buttons)
        for signal in (
            self.scheduled_days.currentIndexChanged,
            self.scheduled_last.valueChanged,
            self.before_restore_last.valueChanged,
            self.manual_days.valueChanged,
        ):
            signal.connect(self._update)
        self._update()
        self.resize(540, self.sizeHint().height())

    def _count(
        self,
        name: str,
        accessible: str,
        value: int | None,
        off_text: str | None = None,
        minimum: int = 0,
    ) -> QSpinBox:
        spin = QSpinBox(self)
        spin.setObjectName(name)
        spin.setAccessibleName(accessible)
        spin.setRange(minimum, MAX_COUNT)
        if off_text:
            spin.setSpecialValueText(off_text)  # shown for 0
        spin.setValue(value or 0)
        return spin

    def rule(self) -> RetentionRule:
        return RetentionRule(
            scheduled_days=self.scheduled_days.currentData(),
            scheduled_last=self.scheduled_last.value() or None,
            before_restore_last=self.before_restore_last.value(),
            manual_days=self.manual_days.value() or None,
        )

    def _update(self) -> None:
        removals = self._controller.schedule_work.preview_retention(self._environment, self.rule())
        count = len(removals)
        if count == 0:
            self.dry_run.setText(self.tr("No backup would be removed now."))
        else:
            self.dry_run.setText(
                self.tr("These {n} backups would be removed:").format(n=count)
                if count > 1
                else self.tr("This backup would be removed:")
            )
        self.removals.clear()
        for removal in removals:
            when = removal.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            self.removals.addItem(f"{removal.name} ({when}): {removal.why}")
        self.removals.setVisible(count > 0)

    def accept(self) -> None:
        self._controller.schedule_work.apply_retention(self._environment, self.rule())
        super().accept()
