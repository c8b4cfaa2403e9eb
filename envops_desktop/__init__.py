"""EnvOps Desktop: deduplicated backups and all-or-nothing restores of configuration directories."""

__version__ = "0.1.0"
APP_NAME = "EnvOps Desktop"
ORGANIZATION = "EnvOps"
