"""How a user names a backup of an environment: `latest`, its exact name, or its id's start."""

from envops_desktop.domain.errors import InvalidInputError, NotFoundError
from envops_desktop.domain.models import Backup, Environment

LATEST = "latest"
LIVE = "live"  # in a comparison, an environment's folder as it is now
# What these words stand for where a backup is named, so none can be a backup's name.
RESERVED_NAMES = {
    LATEST: "the newest backup of an environment wherever a backup is named",
    LIVE: "an environment's folder as it is now wherever backups are compared",
}


def pick_backup(environment: Environment, backups: list[Backup], reference: str) -> Backup:
    """The one backup of `environment` (`backups`, newest first) that `reference` names.

    A prefix is looked for among this environment's backups only: ids start with their
    creation time, so backups made close together share long prefixes across a busy store.
    A reference that fits more than one backup is refused, naming them, never guessed.
    """
    wanted = reference.strip()
    if wanted == LATEST:
        if not backups:
            raise NotFoundError(f"{environment.name} has no backups yet.")
        return backups[0]
    exact = [b for b in backups if b.id == wanted]
    if exact:
        return exact[0]
    matches = [b for b in backups if b.name == wanted or (wanted and b.id.startswith(wanted))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(
            f"{environment.name} has no backup named or numbered {wanted!r}; give latest, a "
            f"backup's name or the start of its id (envops backup list {environment.name})."
        )
    listed = ", ".join(f"{b.id} ({b.name})" for b in matches[:5])
    more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
    raise InvalidInputError(
        f"{wanted!r} fits {len(matches)} backups of {environment.name}: {listed}{more}. "
        "Give more of the id."
    )
