"""The experiments' own windows (a batch's, an evaluation, the popped-out Runs panel) at a
readable size that still fits a laptop's screen."""
from __future__ import annotations


def within_screen(widget, width: int, height: int) -> tuple[int, int]:
    """(width, height), made to fit the screen the widget is on (the window's own frame and
    the desktop's panels aside): a sweep's 1100 x 700 went off a 1024 x 700 screen."""
    screen = widget.screen()
    if screen is None:
        return width, height
    room = screen.availableGeometry()
    return min(width, room.width() - 40), min(height, room.height() - 60)
