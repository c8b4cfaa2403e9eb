"""The kinds of message the window's banner and the desktop's notifications show."""


class Notification:
    """Kinds of banner message."""

    SUCCESS = "success"
    INFO = "info"
    ERROR = "error"
