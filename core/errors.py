"""The one base class of errors whose message is meant for the user, and helpers that keep
those messages to one readable line.

A leaf module (it imports nothing from core) so every layer can raise a UserError and the
command line and the window can catch them all with one clause.
"""
from __future__ import annotations

from typing import Iterable

MAX_LINE = 400  # characters; a message longer than this is cut (a person reads one line)


class UserError(Exception):
    """Bad input or a refused action; str(error) is one line for the user.

    Messages are written short; the cap here is the safety net for a value quoted whole
    (a 100,000-character id), so no dialog or terminal ever gets a wall of text.
    """

    def __str__(self) -> str:
        return one_line(super().__str__())


# The errors of each layer, here so that importing one never drags in the module that raises it.
class NetworkError(UserError, ValueError):
    """An edit the document refuses; the message is meant for the user."""


class DataError(UserError, ValueError):
    """Data that cannot be used; the message is for the user (file, line, column)."""


class SettingsError(UserError, ValueError):
    """A bad setting; the message names the field."""


class TrainingError(UserError, RuntimeError):
    """Training cannot go on; the message is for the user."""


class Diverged(TrainingError):
    """A non-finite loss or weight: the parameters were rolled back to the last finite state."""

    def __init__(self, message: str, step: int, edge: str | None) -> None:
        super().__init__(message)
        self.step = step
        self.edge = edge


class ProjectError(UserError, ValueError):
    """A file that cannot be loaded or saved; one line for the user."""


class FileRefused(UserError, OSError):
    """A path that is not a readable regular file, or one over its size limit."""


class ExportError(UserError, ValueError):
    """Weights that cannot be written or read back; the message is for the user."""


class StepThroughError(UserError, ValueError):
    """Why this network or sample cannot be stepped through; the message is for the user."""


class RaceError(UserError, ValueError):
    """A race that cannot be run; the message is for the user."""


class GradCheckError(UserError, ValueError):
    """Inputs the gradient check cannot use; the message is meant for the user."""


class CurvatureError(UserError, ValueError):
    """A Hessian or eigenvalue that cannot be computed; the message is meant for the user."""


class GradCheckCancelled(GradCheckError):
    """The progress callback asked to stop."""


class RunError(UserError, ValueError):
    """A kept run (core.experiments) that cannot be read or used; the message names the field."""


class SweepError(UserError, ValueError):
    """A sweep that cannot be set up or run; the message is for the user."""


class UsageError(UserError):
    """A bad argument or file; printed as one line, exit code 2."""


def cut_list(items: Iterable[object], keep: int = 10, sep: str = ", ") -> str:
    """'a, b, c ... and 19,990 more': a long list named without flooding the message."""
    shown: list[str] = []
    rest = 0
    for item in items:
        if len(shown) < keep:
            shown.append(shorten(str(item), 60))
        else:
            rest += 1
    text = sep.join(shown)
    return f"{text} ... and {rest:,} more" if rest else text


def shorten(text: str, limit: int = 60) -> str:
    """One line of at most `limit` characters (plus an ellipsis when cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def one_line(message: object, limit: int = MAX_LINE) -> str:
    """A message as a single line a terminal or a dialog can show whole."""
    return shorten(str(message), limit)
