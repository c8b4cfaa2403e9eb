"""The notification that a backup's version differs from the environment's (rule 2)."""

from PySide6.QtWidgets import QMessageBox, QWidget

from envops_desktop.domain.errors import A_CONFIGURATION_FILE, VersionMismatchError
from envops_desktop.ui.label_text import plain_box

UPDATE = "update"
OPEN_FOLDER = "open folder"


def show_version_mismatch(
    parent: QWidget, mismatch: VersionMismatchError, version_file: str | None = None
) -> str:
    """Tell the user to update the environment first; return what they chose.

    UPDATE for Update environment…, OPEN_FOLDER for Open folder, "" for OK. An environment
    that reads its version from a file cannot be updated here, so it is told to change that
    file instead and offered its folder, never a dialog that could only fail.
    """
    box = plain_box(QMessageBox.Icon.Warning, "", "", parent)
    box.setObjectName("versionMismatchBox")
    box.setWindowTitle(box.tr("Versions do not match"))
    a_file = mismatch.subject == A_CONFIGURATION_FILE
    text = (
        box.tr("This configuration file is version {backup}, but {env} runs version {current}.")
        if a_file
        else box.tr("This backup is version {backup}, but {env} runs version {current}.")
    )
    box.setText(
        text.format(
            backup=mismatch.backup_version,
            env=mismatch.environment,
            current=mismatch.environment_version,
        )
    )
    again = box.tr("import the file again") if a_file else box.tr("restore the backup again")
    if version_file is None:
        box.setInformativeText(
            box.tr(
                "Update the environment to version {backup} first, then {again}. Nothing was "
                "changed."
            ).format(backup=mismatch.backup_version, again=again)
        )
        choice = box.addButton(box.tr("Update environment…"), QMessageBox.ButtonRole.ActionRole)
        choice.setObjectName("updateEnvironmentButton")
        meaning = UPDATE
    else:
        box.setInformativeText(
            box.tr(
                "{env} reads its version from {file}: change {file} in the environment's "
                "folder to {backup} once it runs that version, then {again}. Nothing was "
                "changed."
            ).format(
                env=mismatch.environment,
                file=version_file,
                backup=mismatch.backup_version,
                again=again,
            )
        )
        choice = box.addButton(box.tr("Open folder"), QMessageBox.ButtonRole.ActionRole)
        choice.setObjectName("openFolderButton")
        meaning = OPEN_FOLDER
    ok = box.addButton(QMessageBox.StandardButton.Ok)
    ok.setObjectName("okButton")
    box.setDefaultButton(ok)
    box.exec()
    return meaning if box.clickedButton() is choice else ""
