"""Errors the service raises; each carries one sentence for the user and a CLI exit code."""


class EnvOpsError(Exception):
    """Base of every error meant for the user: its message is one clear sentence."""

    exit_code = 1


class NotFoundError(EnvOpsError):
    """An environment, backup or file that was asked for does not exist."""

    exit_code = 6


# What a restore at another version was refused for, as its messages name it.
A_BACKUP = "backup"
A_CONFIGURATION_FILE = "configuration file"


class VersionMismatchError(EnvOpsError):
    """A backup or configuration file was made at another version than the environment runs."""

    exit_code = 3

    def __init__(
        self,
        environment: str,
        environment_version: str,
        backup_version: str,
        subject: str = A_BACKUP,
    ) -> None:
        """`subject`: what was refused, `A_BACKUP` or `A_CONFIGURATION_FILE`."""
        self.environment = environment
        self.environment_version = environment_version
        self.backup_version = backup_version
        self.subject = subject
        super().__init__(
            f"The {subject} is version {backup_version} but {environment} runs version "
            f"{environment_version}; update the environment to {backup_version} first."
        )


class EnvironmentBusyError(EnvOpsError):
    """Another operation holds the environment's lock."""

    exit_code = 4


class InvalidConfigurationFileError(EnvOpsError):
    """A configuration file was refused; the message names the entry and what is wrong."""

    exit_code = 5


class InvalidInputError(EnvOpsError):
    """A request the service refuses before doing anything (bad name, path, argument)."""

    exit_code = 1


class PassphraseNeededError(InvalidInputError):
    """A passphrase-protected configuration file was given without its passphrase."""


class WrongPassphraseError(EnvOpsError):
    """The passphrase given does not unlock the shared store or the protected file."""


class OperationFailedError(EnvOpsError):
    """An operation started but failed; everything it touched was put back."""

    exit_code = 1


class OperationCancelledError(EnvOpsError):
    """The user cancelled; everything the operation touched was put back."""

    exit_code = 1

    def __init__(self, message: str = "The operation was cancelled; nothing was changed.") -> None:
        super().__init__(message)


class PreviewOutOfDateError(EnvOpsError):
    """The folder changed after the user saw what a restore would change; nothing was
    changed. `changes` is what it would change now."""

    exit_code = 1

    def __init__(self, environment_name: str, changes: object, importing: bool = False) -> None:
        done, verb = ("imported", "import") if importing else ("restored", "restore")
        super().__init__(
            f"{environment_name} changed since its preview was worked out; nothing was "
            f"{done}. Look at what the {verb} would change now, then {verb} again."
        )
        self.changes = changes
