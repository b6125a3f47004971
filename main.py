"""Backprop Studio: `python main.py` opens the window; `python main.py train|gradcheck|export ...`
runs headless (see `python main.py --help`)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from core.cli import COMMANDS

    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from core import cli

        if argv[0] in ("-h", "--help"):
            cli.build_parser().print_help()
            return 0
        return cli.main(argv)
    if argv and not argv[0].startswith("-"):
        problem = _not_a_project_file(argv[0])
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("error: give at most one project file to open "
              "(or a command: train, gradcheck, export)", file=sys.stderr)
        return 2
    problem = _no_display()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from gui.app import run_gui

    return run_gui(argv[0] if argv else None)


def _no_display() -> str | None:
    """Why no window can open here, before Qt aborts with a message of its own (exit 134)."""
    import os

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("there is no display to open the window on; run it under Xvfb "
            "(xvfb-run python main.py) or use the command line (python main.py --help)")


def _not_a_project_file(path: str) -> str | None:
    """Why `path` cannot be opened as a project before any window is built, or None."""
    import os

    from core.errors import shorten
    from core.files import FileRefused, check_regular_file

    try:
        check_regular_file(path)
    except FileRefused as exc:
        if os.path.lexists(path):  # a FIFO, a device, a folder, a dangling link...
            return str(exc)
        return (f"{shorten(repr(path), 80)} is neither a project file nor a command "
                "(train, gradcheck, export)")
    return None


if __name__ == "__main__":
    sys.exit(main())
