"""The formula panel's text: the current event as equations with the numbers substituted, and
the rule at work in words."""
from __future__ import annotations

from html import escape

from core.stepthrough import Event
from gui.stepthrough.overlay import PHASE_COLOUR

PHASE_NAMES = {"input": "Input", "forward": "Forward pass", "loss": "Loss",
               "output": "Backward pass · output", "backward": "Backward pass",
               "gradient": "Backward pass · weight gradient", "update": "Update"}


def event_html(event: Event, index: int, total: int) -> str:
    colour = PHASE_COLOUR[event.phase].name()
    equations = escape("\n".join(event.lines))
    return (
        f"<div style='color:#5b6272'>{index + 1} of {total} · {PHASE_NAMES[event.phase]}</div>"
        f"<div style='color:{colour}; font-size:12pt; font-weight:600'>{escape(event.title)}</div>"
        f"<pre style='font-family:\"DejaVu Sans Mono\", monospace; font-size:10pt; "
        f"white-space:pre-wrap'>"
        f"{equations}</pre>"
        f"<table width='100%' cellpadding='6' style='background-color:#f1f3f7'><tr>"
        f"<td style='border-left:3px solid {colour}'>{escape(event.rule)}</td></tr></table>")


def refusal_html(message: str) -> str:
    return (f"<div style='color:#b42318; font-weight:600'>Step-through is not available</div>"
            f"<p>{escape(message)}</p>")
