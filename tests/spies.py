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


def outcomes_of(monkeypatch, owner: object, name: str) -> list[str]:
    """How each call of `owner.name` from now on ended (the call still does what it did): the
    name of the exception it raised, or "returned"."""
    outcomes: list[str] = []
    original = getattr(owner, name)

    def noting_the_outcome(*args, **kwargs):
        try:
            result = original(*args, **kwargs)
        except Exception as error:
            outcomes.append(type(error).__name__)
            raise
        outcomes.append("returned")
        return result

    monkeypatch.setattr(owner, name, noting_the_outcome)
    return outcomes
