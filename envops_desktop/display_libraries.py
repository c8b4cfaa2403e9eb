"""Before Qt opens a window on Linux: are the system libraries of its X11 plugin installed?

Qt's own message when the xcb plugin cannot load names one missing library (if any) and then
aborts the process. This check loads the plugin first and, when it cannot, says what to
install in one command. The package list is the README's; a minimal Debian 12 needs all of
it, `.ci/run` installs exactly it before running the bundle on a real X server.
"""

import _ctypes
import os
import sys
from pathlib import Path

# Debian 12 / Ubuntu 22.04+ packages for Qt's xcb platform plugin, found with ldd and
# QT_DEBUG_PLUGINS=1 in a debootstrap --variant=minbase bookworm (docs/ARCHITECTURE.md).
DEBIAN_PACKAGES = [
    "libegl1",
    "libgl1",
    "libglib2.0-0",
    "libdbus-1-3",
    "libfontconfig1",
    "libfreetype6",
    "libx11-6",
    "libx11-xcb1",
    "libxcb1",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-shm0",
    "libxcb-sync1",
    "libxcb-util1",
    "libxcb-xfixes0",
    "libxcb-xkb1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "fonts-dejavu-core",
]

INSTALL_COMMAND = "sudo apt-get install " + " ".join(DEBIAN_PACKAGES)


def xcb_plugin() -> Path | None:
    """Where Qt will look for its X11 platform plugin, from source, a wheel or the bundle.

    Only QtCore is imported: QtGui itself needs libGL and more, which may be what is missing.
    """
    from PySide6.QtCore import QLibraryInfo

    folders = [Path(p) for p in os.environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    folders.append(Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)))
    for folder in folders:
        candidate = folder / "platforms" / "libqxcb.so"
        if candidate.is_file():
            return candidate
    return None


def will_use_xcb() -> bool:
    """Whether Qt is about to open its windows through X11 on this system."""
    if not sys.platform.startswith("linux"):
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0].split(";")[0] == "xcb"
    return not os.environ.get("WAYLAND_DISPLAY")


def why_xcb_cannot_load(plugin: Path) -> str | None:
    """None when the plugin and every library it needs load; else the loader's reason."""
    try:
        # _ctypes.dlopen, not ctypes.CDLL: in the bundle PyInstaller wraps CDLL and replaces
        # the loader's message (which names the missing library) with a guess of its own.
        _ctypes.dlopen(str(plugin), os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as error:
        return str(error)
    return None


def missing_libraries_message(reason: str) -> str:
    return (
        "EnvOps Desktop cannot open its window: Qt's X11 platform plugin needs system "
        f"libraries that are not installed ({reason}).\n"
        f"Install them with:\n\n    {INSTALL_COMMAND}\n"
    )
