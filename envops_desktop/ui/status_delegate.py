"""Paints an environment's status, an overdue schedule and a folder modified since its last
backup as coloured badges."""

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from envops_desktop.controller.environments_model import MODIFIED, OVERDUE
from envops_desktop.domain.enums import EnvironmentStatus

BADGE_COLOURS = {
    EnvironmentStatus.READY.value: (QColor("#e3f4e8"), QColor("#1e6b34")),
    EnvironmentStatus.UPDATING.value: (QColor("#fff3d6"), QColor("#8a5a00")),
    EnvironmentStatus.UPDATE_FAILED.value: (QColor("#fde2e1"), QColor("#a11b14")),
    OVERDUE: (QColor("#fde2e1"), QColor("#a11b14")),
    MODIFIED: (QColor("#fff3d6"), QColor("#8a5a00")),
}


class StatusBadgeDelegate(QStyledItemDelegate):
    """Draws a status (or Overdue) inside a rounded, colour-coded pill; other text as text."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        if text not in BADGE_COLOURS:  # a schedule that is on time: no badge
            super().paint(painter, option, index)
            return
        background, foreground = BADGE_COLOURS[text]
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = option.fontMetrics
        width = metrics.horizontalAdvance(text) + 18
        height = metrics.height() + 4
        rect = QRectF(
            option.rect.x() + 6,
            option.rect.y() + (option.rect.height() - height) / 2,
            min(width, option.rect.width() - 8),
            height,
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(foreground)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
