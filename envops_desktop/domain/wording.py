"""How counts read in the command line's and the activity log's sentences."""


def counted(count: int, noun: str) -> str:
    """`count` with its noun, singular for one alone: "1 file", "0 files", "2 files"."""
    return f"{count} {noun if count == 1 else noun + 's'}"
