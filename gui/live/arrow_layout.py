"""Where the loss-surface panel's arrows go and what the figures under the plot say: plain
functions of core.surface.PlaneArrows and the view, no Qt (gui/live/surface_arrows.py draws
them).

Newton's arrow is the step itself: it ends at the quadratic model's minimum, cut at the view's
edge. The green arrow (steepest descent) is drawn as long as the red one, or a fifth of the
view when there is no red one to match; the orange one (the last minibatch's gradient) at the
green one's scale, so the two gradients' lengths compare.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core import surface
from core.surface import PlaneArrows
from core.training.minibatch_probe import MinibatchReport

REFERENCE = 0.2  # an arrow with nothing to match is a fifth of the view's shorter side long
# Newton's step shorter than this share of REFERENCE is too short to see: it is drawn
# REFERENCE long, and the figures say how much longer than it is.
MATCH = 0.25


@dataclass(frozen=True)
class Drawn:
    name: str  # "descent", "newton", "minibatch", or a principal direction: "up"/"down"/"flat"
    start: np.ndarray
    end: np.ndarray
    clipped: bool = False  # cut short at the view's edge
    curvature: float | None = None  # a principal direction's


@dataclass(frozen=True)
class Layout:
    drawn: tuple[Drawn, ...]
    scale: float | None  # plane units the green and orange arrows are drawn per unit of gradient
    matched: bool  # the green arrow is as long as the red one (else REFERENCE of the view)
    stretch: float = 1.0  # the red arrow is drawn this many times Newton's step

    def get(self, name: str) -> Drawn | None:
        return next((d for d in self.drawn if d.name == name), None)


def layout(arrows: PlaneArrows, view: tuple[float, float, float, float], newton: bool,
           minibatch: bool) -> Layout:
    """Where each arrow goes in the view (a0, a1, b0, b1), in plane coordinates. Newton's
    arrow is the step itself (it ends at the quadratic model's minimum; stretched when too
    short to see), clipped to the view; the green one is as long as the red one as drawn,
    the orange one at the same scale as the green, so the two gradients' lengths compare."""
    ref = REFERENCE * min(view[1] - view[0], view[3] - view[2])
    here, c = arrows.here, arrows.curvature
    drawn, green, matched, stretch = [], ref, False, 1.0
    if newton and c.newton is not None:
        size = _norm(c.newton)
        if 0.0 < size < MATCH * ref:
            stretch = ref / size
        red = _clipped("newton", here, stretch * c.newton, view)
        if red is not None:
            drawn.append(red)
            length = _norm(red.end - red.start)
            if length >= MATCH * ref:
                green, matched = length, True
    elif newton and c.shape != "flat":
        tiny = 1e-10 * float(np.max(np.abs(c.curvatures)))
        for k in range(2):
            value, d = float(c.curvatures[k]), c.directions[:, k]
            name = "up" if value > tiny else "down" if value < -tiny else "flat"
            line = _clipped(name, here - 0.8 * ref * d, 1.6 * ref * d, view, value)
            if line is not None:
                drawn.append(line)
    norm = _norm(arrows.descent)
    scale = green / norm if norm > 0 and math.isfinite(norm) else None
    if scale is not None:
        for name, g in (("descent", arrows.descent),
                        ("minibatch", None if arrows.minibatch is None or not minibatch
                         else -arrows.minibatch)):
            arrow = None if g is None else _clipped(name, here, scale * g, view)
            if arrow is not None:
                drawn.append(arrow)
    return Layout(tuple(drawn), scale, matched, stretch)


def _norm(v: np.ndarray) -> float:
    """|v|, inf where it overflows (a diverging run's gradient: no arrow, and no warning)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.linalg.norm(v))


def _clipped(name: str, start: np.ndarray, vector: np.ndarray, view, curvature=None
             ) -> Drawn | None:
    if not np.all(np.isfinite(vector)):
        return None
    part = surface.clip_segment(start, vector, view)
    if part is None:
        return None
    clipped = not np.allclose(part[1], start + vector, rtol=0, atol=1e-12 * (1 + np.abs(vector)).max())
    return Drawn(name, part[0], part[1], clipped, curvature)


SHAPES = {"saddle": "A saddle, curving up one way and down the other: no bottom for "
                     "Newton's step",
          "ridge": "A hilltop, curving down every way: Newton's step would climb",
          "trough": "A trough, flat one way: no single bottom for Newton's step"}


def figures(arrows: PlaneArrows, lay: Layout, newton: bool, minibatch: bool,
            report: MinibatchReport | None, sample_rows: int, train_rows: int,
            unit: str = "sample"
            ) -> list[tuple[str | None, str]]:
    """The lines under the plot, short and in plain words: what each arrow is, at what scale,
    and the numbers (core.curvature's explain() says it at length, in the tooltip). Each
    line is (the arrow it is about, or None; its text)."""
    c, lines = arrows.curvature, []
    if lay.scale is None:
        lines.append((None, "The gradient is zero here: no way down to draw."))
    else:
        size = "as long as the red arrow in plane units" if lay.matched else \
            "a fifth of the view long"
        lines.append(("descent", f"Green: steepest descent, |gradient| "
                                 f"{_norm(arrows.descent):.3g}, drawn {size}."))
    if newton:
        lines += _curvature_lines(c, lay)
    if minibatch:
        lines += _minibatch_lines(arrows, report, lay, train_rows, unit)
    if sample_rows < train_rows:
        lines.append((None, f"On a fixed sample of {sample_rows:,} of the {train_rows:,} "
                            f"training {unit}s."))
    return lines


def _curvature_lines(c, lay: Layout) -> list[tuple[str | None, str]]:
    one, two = (f"{v:.3g}" for v in c.curvatures)
    if c.shape == "flat":
        return [(None, "Flat to second order here: no curvature to take into account.")]
    numbers = f"curvatures {one} and {two}, condition number {c.condition_number:.3g}"
    if c.newton is None:
        return [("up", f"{SHAPES[c.shape]} ({numbers}). Dashed: the principal directions, "
                       f"red curving up, blue down.")]
    red = lay.get("newton")
    edge = ", cut at the edge of the view" if red is not None and red.clipped else ""
    if lay.stretch > 1:
        edge = f", drawn {lay.stretch:.3g} times as long to be seen" + edge
    angle = c.angle_degrees
    apart = "" if angle is None else f"; the two arrows are {angle:.0f}° apart"
    return [("newton", f"Red: Newton's step, to the bottom of the local bowl, length "
                       f"{_norm(c.newton):.3g}{edge}."),
            (None, f"A bowl: {numbers}{apart}.")]


def _minibatch_lines(arrows: PlaneArrows, report: MinibatchReport | None, lay: Layout,
                     train_rows: int, unit: str = "sample") -> list[tuple[str | None, str]]:
    if report is None or report.rows is None:
        return [("minibatch", "Orange: the last minibatch's gradient, after the next "
                              "training step.")]
    if arrows.minibatch is None:
        return [("minibatch", "Orange: the last minibatch's gradient, once computed.")]
    text = (f"Orange: the last minibatch's gradient ({_count(arrows.batch_size, unit)}, "
            f"step {report.step:,}; |gradient| {_norm(arrows.minibatch):.3g})")
    plane, full = arrows.plane_angle, arrows.minibatch_angle
    if plane is not None and full is not None:
        text += f", {plane:.0f}° from the full one here, {full:.0f}° over all trained parameters"
    orange = lay.get("minibatch")
    if orange is not None and orange.clipped:
        text += "; cut at the edge of the view"
    lines = [("minibatch", text + ".")]
    if arrows.batch_size >= train_rows:
        lines.append((None, "Full-batch training: each step's batch is the whole training "
                            "set, so there is no minibatch noise."))
    if report.share is not None:
        k = len(report.downhill)
        lines.append((None, f"{report.lowered} of the last {_count(k, 'checked step')} "
                            f"({100 * report.share:.0f}%, one a frame) lowered the training "
                            f"loss."))
    return lines


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
