"""The paths a selective restore is asked to bring back, checked before anything changes.

An operator types them, or a shell completes them: relative to the environment's folder,
or absolute inside it (the command line takes a relative path typed in a folder inside it
from there). A typo must not pass for a restore of nothing, nor a path the
restore leaves alone anyway (an excluded one) for a restore of it.
"""

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from envops_desktop.domain.errors import InvalidInputError, NotFoundError
from envops_desktop.domain.excludes import Excludes, checked_selection
from envops_desktop.domain.models import Backup, Environment, TreeEntry
from envops_desktop.domain.paths import shown, within


def chosen_paths(
    env: Environment,
    backup: Backup,
    entries: Callable[[], Iterable[TreeEntry]],
    only: list[str],
    from_preview: bool = False,
) -> list[str]:
    """`only`, as paths relative to `env`'s folder, for a restore of `backup` (whose entries
    `entries` reads); refused where one is outside the folder or neither in the backup nor
    in the folder, or all are excluded. Paths ticked in a preview of the restore
    (`from_preview`) are not looked for: one gone since makes the preview out of date,
    which the restore finds and shows again."""
    root = Path(env.path)
    roots = list(dict.fromkeys((env.path, os.path.realpath(env.path))))
    given = [within(roots, path) for path in only]
    for path, asked in zip(given, only, strict=True):
        if path.startswith("/"):
            raise InvalidInputError(
                f"{shown(path)!r} is not inside the folder of {env.name} ({env.path})."
            )
        if not path and asked.strip():
            raise InvalidInputError(
                f"{shown(asked)!r} is the whole folder of {env.name}: leave out --only to "
                "restore all of it."
            )
    chosen = checked_selection(given)
    # Only when all are: the changes a restore is shown name the excluded paths it removes
    # with their folder, and those may stay ticked beside the folder's other paths.
    excludes = Excludes(env.excludes)
    if all(excludes.covers(path, _is_folder(root / path)) for path in chosen):
        named = ", ".join(repr(shown(path)) for path in chosen)
        raise InvalidInputError(
            f"Only excluded paths were chosen ({named}): a restore leaves what {env.name} "
            "excludes as it is; nothing was changed."
        )
    missing = [] if from_preview else _in_neither(root, entries, chosen)
    for path in missing:
        _refuse_through_a_link(env, path)
    if missing:
        named = ", ".join(repr(shown(path)) for path in missing)
        raise NotFoundError(
            f"There is no {named} in {backup.name} or in the folder of {env.name}; "
            "nothing was changed."
        )
    return chosen


def _refuse_through_a_link(env: Environment, path: str) -> None:
    """A path the live folder holds only through a link (`cfg/db.ini`, `cfg` a link to
    `conf.d`) and the backup not at all: a restore never follows links, so it would change
    nothing while seeming to. Refused, with the path it leads to."""
    link = _link_on_the_way(Path(env.path), path)
    if link is None:
        return
    real_root = os.path.realpath(env.path)
    leads_to = os.path.relpath(os.path.realpath(os.path.join(env.path, path)), real_root)
    inside = leads_to not in (".", "..") and not leads_to.startswith("../")
    instead = f"name the path it leads to ({shown(leads_to)!r})" if inside else "name a path"
    raise NotFoundError(
        f"{shown(path)!r} goes through {shown(link)!r}, a link to "
        f"{shown(os.readlink(os.path.join(env.path, link)))!r} in the folder of {env.name}; a "
        f"restore brings paths back as they are, never through links: {instead} in the "
        f"folder, or {shown(link)!r} for the link itself. Nothing was changed."
    )


def _link_on_the_way(live: Path, path: str) -> str | None:
    """The first folder on the way to `path` in the live folder that is a link, if any."""
    parts = path.split("/")
    return next(
        (
            "/".join(parts[:depth])
            for depth in range(1, len(parts))
            if os.path.islink(live.joinpath(*parts[:depth]))
        ),
        None,
    )


def _in_neither(
    live: Path, entries: Callable[[], Iterable[TreeEntry]], chosen: list[str]
) -> list[str]:
    """Those of `chosen` neither in the live folder nor among the backup's entries (read
    only if some are not in the folder, and only as far as it takes to find them)."""
    missing = {
        path
        for path in chosen
        if not os.path.lexists(live / path) or _link_on_the_way(live, path) is not None
    }
    if missing:
        for entry in entries():
            missing.discard(entry.path)
            if not missing:
                break
    return [path for path in chosen if path in missing]


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()
