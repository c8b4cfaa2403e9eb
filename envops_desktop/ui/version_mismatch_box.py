"""The notification that a backup's version differs from the environment's (rule 2)."""

from PySide6.QtWidgets import QMessageBox, QWidget

from envops_desktop.domain.errors import VersionMismatchError


def show_version_mismatch(parent: QWidget, mismatch: VersionMismatchError) -> bool:
    """Tell the user to update the environment first; True if they chose Update environment…"""
    box = QMessageBox(parent)
    box.setObjectName("versionMismatchBox")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(box.tr("Versions do not match"))
    box.setText(
        box.tr("This backup is version {backup}, but {env} runs version {current}.").format(
            backup=mismatch.backup_version,
            env=mismatch.environment,
            current=mismatch.environment_version,
        )
    )
    box.setInformativeText(
        box.tr(
            "Update the environment to version {backup} first, then restore the backup again. "
            "Nothing was changed."
        ).format(backup=mismatch.backup_version)
    )
    update = box.addButton(box.tr("Update environment…"), QMessageBox.ButtonRole.ActionRole)
    update.setObjectName("updateEnvironmentButton")
    ok = box.addButton(QMessageBox.StandardButton.Ok)
    ok.setObjectName("okButton")
    box.setDefaultButton(ok)
    box.exec()
    return box.clickedButton() is update
