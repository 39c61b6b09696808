"""Input errors meant for people: one line naming the file, the key, what is wrong
and what is allowed. The CLI prints ``str(error)`` and exits with status 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(ValueError):
    """Bad user input (a file, a key, a value, a command-line option)."""

    def __init__(self, file: str, key: str, problem: str, allowed: str | None = None) -> None:
        # one line, whatever a library put in the message
        problem = " ".join(str(problem).split())
        self.file, self.key, self.problem, self.allowed = file, key, problem, allowed
        where = f"{file}: {key}" if key else file
        message = f"{where}: {problem}"
        if allowed:
            message += f"; allowed: {allowed}"
        super().__init__(message)


def nearest(key: str, candidates: Iterable[str]) -> str | None:
    """The valid key closest in spelling to ``key``, if any is reasonably close."""
    matches = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_key_error(file: str, key: str, candidates: Iterable[str], what: str = "key",
                      section: str = "") -> InputError:
    """An error for an unknown key, suggesting the nearest valid spelling. With a
    ``section``, ``key`` and ``candidates`` are the bare keys of that table: they are
    compared without the shared prefix (which would make every pair look alike) and
    named with it."""
    prefix = f"{section}." if section else ""
    guess = nearest(key, candidates)
    key, guess = prefix + key, guess and prefix + guess
    hint = f"did you mean '{guess}'?" if guess else f"see the list of valid {what}s in the documentation"
    return InputError(file, key, f"unknown {what}", hint)
