"""Schedule backups…: how often an environment is backed up on its own."""

from datetime import time

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from envops_desktop.controller.main_controller import MainController
from envops_desktop.domain.errors import EnvOpsError
from envops_desktop.domain.models import Environment
from envops_desktop.domain.schedules import (
    EVERY_HOURS_CHOICES,
    WEEKDAYS,
    Frequency,
    ScheduleRule,
    ScheduleStatus,
)
from envops_desktop.ui.label_text import rich, rich_label
from envops_desktop.ui.tones import error_label


class ScheduleDialog(QDialog):
    """Sets an environment's schedule: off, every few hours, or daily, weekly or monthly at a
    local time. A line under the choices says the rule in words and when it would first
    run, as it is chosen."""

    def __init__(
        self, controller: MainController, environment: Environment, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("scheduleDialog")
        self.setWindowTitle(self.tr("Schedule backups of {name}").format(name=environment.name))
        self._controller, self._environment = controller, environment
        self._zone: str | None = None  # the time zone of the rule shown, kept when saved
        tr = self.tr
        self.frequency = self._combo(
            "frequencyCombo",
            tr("How often"),
            [
                (tr("Off"), None),
                (tr("Every few hours"), Frequency.EVERY_HOURS),
                (tr("Every day"), Frequency.DAILY),
                (tr("Every week"), Frequency.WEEKLY),
                (tr("Every month"), Frequency.MONTHLY),
            ],
        )
        self.hours = self._combo(
            "hoursCombo",
            tr("Hours between backups"),
            [(tr("{n} hours").format(n=n), n) for n in EVERY_HOURS_CHOICES],
        )
        self.weekday = self._combo(
            "weekdayCombo", tr("Day of the week"), [(tr(day), i) for i, day in enumerate(WEEKDAYS)]
        )
        self.day = QSpinBox(self)
        self.day.setObjectName("daySpinBox")
        self.day.setAccessibleName(tr("Day of the month"))
        self.day.setRange(1, 31)
        self.day.setToolTip(tr("A day a month does not have is its last day."))
        self.at = QTimeEdit(self)
        self.at.setObjectName("timeEdit")
        self.at.setAccessibleName(tr("Time of day"))
        self.at.setDisplayFormat("HH:mm")
        self.summary = QLabel(self)
        self.summary.setObjectName("scheduleSummaryLabel")
        self.summary.setWordWrap(True)
        self.error_label = error_label("errorLabel", self)
        self.error_label.hide()
        self._form = QFormLayout()
        self._form.addRow(tr("&How often:"), self.frequency)
        self._form.addRow(tr("&Every:"), self.hours)
        self._form.addRow(tr("&On:"), self.weekday)
        self._form.addRow(tr("On &day:"), self.day)
        self._form.addRow(tr("&At:"), self.at)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setObjectName("saveScheduleButton")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        intro = rich_label(
            rich(
                tr(
                    "While EnvOps Desktop runs, {name} is backed up at these times (local time, "
                    "unless the summary names another time zone); "
                    "times missed while it was closed are made up once when it starts. "
                    "<i>envops schedule run</i> does the same under cron or a timer."
                ),
                name=environment.name,
            ),
            self,
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(self._form)
        layout.addWidget(self.summary)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self._show(controller.schedule_work.schedule_of(environment))
        for signal in (
            self.frequency.currentIndexChanged,
            self.hours.currentIndexChanged,
            self.weekday.currentIndexChanged,
            self.day.valueChanged,
            self.at.timeChanged,
        ):
            signal.connect(self._update)
        self._update()
        self.resize(460, self.sizeHint().height())

    def _combo(self, name: str, accessible: str, items: list[tuple[str, object]]) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        combo.setAccessibleName(accessible)
        for text, data in items:
            combo.addItem(text, data)
        return combo

    def _show(self, status: ScheduleStatus) -> None:
        """The dialog's choices as the environment's schedule has them (a rule turned off
        shows its rule, ready to turn on again)."""
        rule = status.rule
        # Kept when the rule is saved again: a teammate's "02:00 in Berlin" stays Berlin's.
        self._zone = rule.zone if rule is not None else None
        self.at.setTime(QTime(2, 0))
        self.hours.setCurrentIndex(self.hours.findData(4))
        if rule is None:
            return
        if rule.hours:
            self.hours.setCurrentIndex(self.hours.findData(rule.hours))
        if rule.at:
            self.at.setTime(QTime(rule.at.hour, rule.at.minute))
        if rule.weekday is not None:
            self.weekday.setCurrentIndex(rule.weekday)
        if rule.day:
            self.day.setValue(rule.day)
        if status.enabled:
            self.frequency.setCurrentIndex(self.frequency.findData(rule.frequency))

    def _chosen(self) -> Frequency | None:
        data = self.frequency.currentData()  # Qt hands an enum back as its plain value
        return None if data is None else Frequency(data)

    def rule(self) -> ScheduleRule | None:
        """The schedule as chosen; None for Off."""
        frequency = self._chosen()
        if frequency is None:
            return None
        chosen = self.at.time()
        at = time(chosen.hour(), chosen.minute())
        return ScheduleRule(
            frequency=frequency,
            hours=self.hours.currentData() if frequency is Frequency.EVERY_HOURS else None,
            at=None if frequency is Frequency.EVERY_HOURS else at,
            weekday=self.weekday.currentData() if frequency is Frequency.WEEKLY else None,
            day=self.day.value() if frequency is Frequency.MONTHLY else None,
            zone=None if frequency is Frequency.EVERY_HOURS else self._zone,
        )

    def _update(self) -> None:
        frequency = self._chosen()
        for widget, shown in (
            (self.hours, frequency is Frequency.EVERY_HOURS),
            (self.weekday, frequency is Frequency.WEEKLY),
            (self.day, frequency is Frequency.MONTHLY),
            (self.at, frequency not in (None, Frequency.EVERY_HOURS)),
        ):
            self._form.setRowVisible(widget, shown)
        self.summary.setText(self._controller.schedule_work.preview_schedule(self.rule()))

    def accept(self) -> None:
        try:
            self._controller.schedule_work.set_schedule(self._environment, self.rule())
        except EnvOpsError as error:
            self.error_label.setText(str(error))
            self.error_label.show()
            return
        super().accept()
