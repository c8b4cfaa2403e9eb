"""Where a shared store's passphrase comes from, as restic reads RESTIC_PASSWORD.

In order: a file named on the command line, the ENVOPS_PASSPHRASE environment variable (for
unattended commands), then the operating system's keyring when the user allowed EnvOps to
keep it there. The passphrase is never written to the data folder.
"""

import logging
import os
from pathlib import Path

from envops_desktop.domain.errors import InvalidInputError

ENV_VARIABLE = "ENVOPS_PASSPHRASE"
KEYRING_SERVICE = "EnvOps Desktop"

log = logging.getLogger(__name__)


def passphrase_for(store_url: str, passphrase_file: Path | None = None) -> str | None:
    """The passphrase of the store at `store_url`, if one is given anywhere."""
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as error:
            raise InvalidInputError(
                f"Cannot read the passphrase file {passphrase_file}: {error.strerror or error}."
            ) from error
        return text.splitlines()[0] if text else ""
    if os.environ.get(ENV_VARIABLE):
        return os.environ[ENV_VARIABLE]
    try:
        import keyring
        from keyring.errors import KeyringError

        try:
            return keyring.get_password(KEYRING_SERVICE, store_url)
        except KeyringError as error:  # no keyring on this machine, or it is locked
            log.info("no passphrase from the keyring: %s", error)
    except ImportError:
        pass
    return None


def remember_passphrase(store_url: str, passphrase: str) -> bool:
    """Keep the passphrase in the keyring; False when this machine has none to keep it in."""
    try:
        import keyring
        from keyring.errors import KeyringError

        keyring.set_password(KEYRING_SERVICE, store_url, passphrase)
    except (ImportError, KeyringError) as error:
        log.info("passphrase not kept in the keyring: %s", error)
        return False
    return True
