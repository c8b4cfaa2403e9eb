"""Icons from the package's resources, found the same way from source, a wheel or a bundle."""

from functools import cache
from importlib import resources

from PySide6.QtGui import QIcon


@cache
def icon(name: str) -> QIcon:
    """The SVG icon `resources/icons/<name>.svg`."""
    path = resources.files("envops_desktop.resources") / "icons" / f"{name}.svg"
    return QIcon(str(path))
