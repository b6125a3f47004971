"""Where the surface's arrows go and what the figures say (gui/live/arrow_layout.py), for
gradients and Hessians made up here: each length and direction worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from core.curvature import curvature_of
from core.surface import PlaneArrows
from core.training.minibatch_probe import MinibatchReport
from gui.live.arrow_layout import figures, layout

VIEW = (-2.0, 2.0, -1.0, 1.0)  # shorter side 2: a fifth of it is 0.4


def arrows(g, h, here=(0.0, 0.0), minibatch=None, batch=0) -> PlaneArrows:
    return PlaneArrows(np.array(here, float), curvature_of(np.array(g, float),
                                                           np.array(h, float)),
                       None if minibatch is None else np.array(minibatch, float),
                       None if minibatch is None else 30.0, batch)


def test_a_visible_newton_step_is_drawn_as_it_is_and_the_green_arrow_as_long():
    a = arrows([-1.0, -1.0], [[4.0, 0.0], [0.0, 2.0]])  # Newton: (1/4, 1/2), length 0.559
    lay = layout(a, VIEW, newton=True, minibatch=False)
    red, green = lay.get("newton"), lay.get("descent")
    np.testing.assert_allclose(red.end, [0.25, 0.5])
    assert lay.stretch == 1.0 and lay.matched and not red.clipped
    np.testing.assert_allclose(green.end, np.array([1.0, 1.0]) / np.sqrt(2) * np.hypot(0.25, 0.5))
    text = " ".join(t for _, t in figures(a, lay, True, False, None, 10, 10))
    assert "length 0.559" in text and "drawn as long as the red arrow" in text
    assert "curvatures 4 and 2, condition number 2" in text
    assert "the two arrows are 18° apart" in text  # acos((1/4+1/2)/(sqrt2*0.559)) = 18.4°


def test_a_step_too_short_to_see_is_stretched_and_says_so():
    a = arrows([-0.01, 0.0], [[1.0, 0.0], [0.0, 5.0]])  # Newton: (0.01, 0): a 40th of 0.4
    lay = layout(a, VIEW, newton=True, minibatch=False)
    assert lay.stretch == pytest.approx(40.0)
    np.testing.assert_allclose(lay.get("newton").end, [0.4, 0.0])
    text = " ".join(t for _, t in figures(a, lay, True, False, None, 10, 10))
    assert "length 0.01, drawn 40 times as long to be seen" in text


def test_a_step_out_of_the_view_is_cut_at_its_edge():
    a = arrows([-1.0, 0.0], [[0.25, 0.0], [0.0, 1.0]], here=(1.0, 0.0))  # Newton (4, 0)
    lay = layout(a, VIEW, newton=True, minibatch=False)
    red = lay.get("newton")
    np.testing.assert_allclose(red.end, [2.0, 0.0])
    assert red.clipped
    assert "cut at the edge of the view" in " ".join(
        t for _, t in figures(a, lay, True, False, None, 10, 10))


def test_a_saddle_draws_its_principal_directions_and_no_newton_arrow():
    a = arrows([0.3, -0.2], [[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    lay = layout(a, VIEW, newton=True, minibatch=False)
    assert lay.get("newton") is None
    up, down = lay.get("up"), lay.get("down")
    assert (up.curvature, down.curvature) == pytest.approx((3.0, -1.0))
    for line, direction in ((up, [1, 1]), (down, [1, -1])):
        v = line.end - line.start
        assert abs(v @ direction) / np.linalg.norm(v) / np.linalg.norm(direction) == \
            pytest.approx(1.0)
        assert np.linalg.norm(v) == pytest.approx(2 * 0.8 * 0.4)  # through the point
    assert not lay.matched and np.linalg.norm(lay.get("descent").end) == pytest.approx(0.4)
    text = " ".join(t for _, t in figures(a, lay, True, False, None, 10, 10))
    assert "A saddle" in text and "curvatures 3 and -1, condition number 3" in text


def test_the_minibatch_arrow_is_at_the_green_arrows_scale():
    a = arrows([-0.1, 0.0], [[1.0, 0.0], [0.0, -1.0]], minibatch=[0.0, 0.2], batch=8)
    lay = layout(a, VIEW, newton=False, minibatch=True)
    assert lay.get("newton") is None and lay.get("up") is None  # only the two gradients
    np.testing.assert_allclose(lay.get("descent").end, [0.4, 0.0])  # a fifth of the view
    np.testing.assert_allclose(lay.get("minibatch").end, [0.0, -0.8])  # twice as long
    report = MinibatchReport(12, np.arange(8), np.array([3, 7, 12]),
                             np.array([True, False, True]), 100)
    text = " ".join(t for _, t in figures(a, lay, False, True, report, 100, 400))
    assert "(8 samples, step 12; |gradient| 0.2), 90° from the full one here, 30° over" in text
    assert "2 of the last 3 checked steps (67%, one a frame)" in text
    assert "On a fixed sample of 100 of the 400 training samples." in text
    assert "Full-batch" not in text
