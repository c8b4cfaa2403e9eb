"""Noting, without changing it, what a call does: which threads make it."""

import threading


def threads_calling(monkeypatch, owner: object, name: str) -> list[threading.Thread]:
    """The threads that call `owner.name` from now on (the call still does what it did):
    to show that work a window must not wait for runs off its thread."""
    threads: list[threading.Thread] = []
    original = getattr(owner, name)

    def noting_the_thread(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, noting_the_thread)
    return threads
