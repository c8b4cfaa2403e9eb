"""The `envops-desktop` entry point (the main window arrives with issue 3)."""

import sys


def main() -> int:
    print("EnvOps Desktop: the main window is not built yet; use the `envops` command line.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
