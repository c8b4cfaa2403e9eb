"""Whether each environment's folder has changed since its last backup, checked on a worker:
when the environment is selected, after an operation on it, and when a watcher on its
folder reports a change, at most once a minute per environment."""

import os
import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from envops_desktop.controller.operation_runner import OperationRunner, once_drawn
from envops_desktop.domain.enums import EnvironmentStatus
from envops_desktop.domain.errors import NotFoundError
from envops_desktop.domain.models import Environment
from envops_desktop.domain.progress import CancelToken, ProgressCallback
from envops_desktop.service import EnvOpsService

# After a watcher's report, the least time between two checks of one environment.
WATCHED_EVERY_SECONDS = 60.0
# Files watched per environment, besides its folders: an edit in place changes a file, not
# the folder that names it. Enough for a configuration; a tree of thousands is seen by its
# folders (most tools write a new file and rename it), and checked when selected.
_FILES_WATCHED = 500


class DriftWatch(QObject):
    """Knows, per environment id, whether its folder differs from its last backup."""

    changed = Signal(str)  # an environment id whose answer is new

    def __init__(self, service: EnvOpsService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._service = service
        # Its own: a check is no operation the user waits for or is asked about at quit.
        self._runner = OperationRunner(self)
        self._states: dict[str, bool | None] = {}
        self._checking: set[str] = set()
        self._again: set[str] = set()  # asked again while a check ran
        self._last: dict[str, float] = {}
        self._waiting: set[str] = set()  # a watcher's check postponed to the minute's end
        self._folders: dict[str, str] = {}  # watched folder -> environment id
        self._watched: dict[str, str] = {}  # environment id -> its folder, as last watched
        self._to_list: deque[tuple[str, str]] = deque()  # (environment id, folder) to watch
        self._lister = QTimer(self)
        self._lister.setInterval(0)
        self._lister.timeout.connect(self._list_next)
        self._stopped = False
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._folder_changed)
        self._watcher.fileChanged.connect(self._folder_changed)

    def stop(self, reads_by: float | None = None) -> None:
        """Stop watching; cancel the checks running, and let go of those a network disk
        that stopped answering holds (`OperationRunner.shut_down`)."""
        self._stopped = True
        if self._folders:
            self._watcher.removePaths(list(self._folders))
        self._folders, self._watched = {}, {}
        self._runner.shut_down(reads_by)

    def state(self, environment_id: str) -> bool | None:
        return self._states.get(environment_id)

    def watch(self, environments: list[Environment]) -> None:
        """Watch these environments' folders (each folder and the folders right inside it:
        where configuration changes), and the files in those, up to a few hundred. Looked
        at again only when the environments or their folders change: the window refreshes
        at every change in the database."""
        watched = {env.id: env.path for env in environments}
        if watched == self._watched:
            return
        for env_id, path in self._watched.items():
            if watched.get(env_id) != path:
                self._unwatch(env_id)
        started = [(e, path) for e, path in watched.items() if self._watched.get(e) != path]
        self._watched = watched
        # Each listed on a worker of its own: one on a network disk that hangs holds only
        # itself (all in one held every other environment's watch). The workers start one
        # at each turn of the event loop: fifty at once held the window 16-29 ms.
        self._to_list.extend(started)
        self._lister.start()

    def _list_next(self) -> None:
        """Start listing the folders of the next environment waiting to be watched: one at
        each turn of the event loop, each on a worker of its own."""
        if not self._to_list or self._stopped:
            self._lister.stop()
            return
        env_id, folder = self._to_list.popleft()
        if self._watched.get(env_id) == folder:  # still to be watched there
            self._watch_now(env_id, folder, lambda: None)

    def _watch_now(self, env_id: str, folder: str, then: Callable[[], None]) -> None:
        """Watch what is at an environment's `folder` now, then call `then`. A watch
        follows a folder, not its name: once a restore has swapped in a new tree, the old
        one's watches report nothing, and they go with it when it is removed. So each check
        watches anew, first. The folders are listed on a worker: a tree of thousands of
        folders, or a slow network disk, would otherwise freeze the window."""
        listing = self._runner.prepare(
            self.tr("Looking at folders to watch"),
            None,
            lambda _progress, _cancel: _paths_to_watch(folder),
            let_go_at_quit=True,
        )

        def listed(paths: list[str]) -> None:
            if self._stopped:
                return
            if self._watched.get(env_id) == folder:  # still watched there
                self._unwatch(env_id)
                for path in paths:
                    self._folders.setdefault(path, env_id)
                self._watcher.addPaths([p for p in paths if self._folders[p] == env_id])
            then()

        listing.succeeded.connect(listed)
        listing.failed.connect(lambda _message, _error: self._stopped or then())
        # Looked at once the window has drawn what asked for it (a selection, an operation's
        # end): the listing's Python, and the check's, would take the GIL from that drawing.
        self._runner.launch(listing, once_drawn())

    def _unwatch(self, env_id: str) -> None:
        mine = [path for path, watcher in self._folders.items() if watcher == env_id]
        if mine:
            self._watcher.removePaths(mine)
        for path in mine:
            del self._folders[path]

    def check(self, environment: Environment) -> None:
        """Work out on a worker whether `environment`'s folder differs from its last backup."""
        env_id = environment.id
        if self._stopped:  # a change seen before the window closed: its runner is done
            return
        if environment.status is EnvironmentStatus.UPDATING:
            return  # checked after the operation instead
        if env_id in self._checking:
            self._again.add(env_id)
            return
        self._checking.add(env_id)
        self._last[env_id] = time.monotonic()

        def operation(_progress: ProgressCallback, cancel: CancelToken) -> bool | None:
            return self._service.modified_since_backup(env_id, cancel)

        running = self._runner.prepare(
            self.tr("Checking {name} for changes").format(name=environment.name),
            None,
            operation,
            let_go_at_quit=True,
        )
        running.succeeded.connect(lambda modified: self._answered(environment, modified))
        # A folder being replaced or gone: unknown until the next check.
        running.failed.connect(lambda _message, _error: self._answered(environment, None))
        running.cancelled.connect(lambda _message: self._checking.discard(env_id))
        # Watched first, so that a change made while the check reads is still seen.
        if env_id in self._watched:
            self._watch_now(env_id, self._watched[env_id], lambda: self._runner.launch(running))
        else:
            self._runner.launch(running, once_drawn())

    def check_anew(self, environment: Environment) -> None:
        """Check after a backup, restore or import, which changed the folder or what it is
        compared with: the answer before it says nothing now, so none is shown until the
        check's (a badge of Modified stayed on a folder just restored from its last backup
        until the check came, seconds on a big tree)."""
        if self._states.get(environment.id) is not None:
            self._states[environment.id] = None
            self.changed.emit(environment.id)
        self.check(environment)

    def _answered(self, environment: Environment, modified: bool | None) -> None:
        if self._stopped:  # on its way as the window closed: nobody is to be told
            return
        env_id = environment.id
        self._checking.discard(env_id)
        if self._states.get(env_id, "unknown") != modified:
            self._states[env_id] = modified
            self.changed.emit(env_id)
        if env_id in self._again:
            self._again.discard(env_id)
            self.check(environment)

    def _folder_changed(self, path: str) -> None:
        env_id = self._folders.get(path)
        if env_id is None or env_id in self._waiting:
            return
        wait = self._last.get(env_id, 0.0) + WATCHED_EVERY_SECONDS - time.monotonic()
        self._waiting.add(env_id)
        QTimer.singleShot(max(0, int(wait * 1000)), self, lambda: self._check_by_id(env_id))

    def _check_by_id(self, env_id: str) -> None:
        self._waiting.discard(env_id)
        if self._stopped:  # and its service may be closed
            return
        try:
            environment = self._service.get_environment(env_id)
        except NotFoundError:  # removed meanwhile: nothing to check
            return
        self.check(environment)


def _paths_to_watch(folder: str) -> list[str]:
    """`folder`, the folders right inside it, and the files in those, up to a few hundred."""
    inside, files = _entries_in(folder)
    for child in inside:
        files += _entries_in(child)[1]
    return [folder, *inside, *files[:_FILES_WATCHED]]


def _entries_in(folder: str) -> tuple[list[str], list[str]]:
    """The folders and the files right inside `folder` (none if it cannot be read)."""
    folders, files = [], []
    try:
        for entry in os.scandir(folder):
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                files.append(entry.path)
    except OSError:
        pass
    return folders, files
