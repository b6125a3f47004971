"""The colours of maps over the input plane, in one place: the data panel's background and the
neurons' own maps on the canvas use these."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

# One palette for the data panel's background and points and the output maps: class k is
# PALETTE[k] everywhere.
PALETTE = np.array([[224, 88, 43], [47, 111, 222], [60, 154, 95], [155, 89, 182],
                    [212, 160, 23], [22, 160, 133], [192, 57, 43], [90, 90, 90]], float)
LEVELS = 256  # entries of a lookup table


def class_colours(out: np.ndarray) -> np.ndarray:
    """Each point's predicted class colour, faded towards white as the net is less sure."""
    if out.shape[1] == 1:  # one output: the probability of class 1
        p = np.clip(out[:, 0], 0.0, 1.0)[:, None]
        colour = (1 - p) * PALETTE[0] + p * PALETTE[1]
        sure = np.abs(2 * p - 1)
    else:
        k = np.argmax(out, 1)
        colour = PALETTE[k % len(PALETTE)]
        sure = ((out.max(1) - 1 / out.shape[1]) / (1 - 1 / out.shape[1]))[:, None]
    strength = 0.25 + 0.45 * np.clip(sure, 0, 1)  # light tints: the points stay readable
    return (255 * (1 - strength) + colour * strength).astype(np.uint8)


def signed_colours(t: np.ndarray) -> np.ndarray:
    """White at 0, blue towards +1, orange towards -1 (the canvas's weight colours)."""
    t = np.clip(t, -1.0, 1.0)[:, None]
    end = np.where(t >= 0, PALETTE[1], PALETTE[0])
    k = 0.8 * np.abs(t)
    return (255 * (1 - k) + end * k).astype(np.uint8)


# Lookup tables: a map of thousands of values is coloured by indexing, not by blending each.
SIGNED_LUT = signed_colours(np.linspace(-1.0, 1.0, LEVELS))  # index 0: -1, LEVELS - 1: +1
BINARY_LUT = class_colours(np.linspace(0.0, 1.0, LEVELS)[:, None])  # p of class 1


def probability_lut(k: int) -> np.ndarray:
    """White at p = 0 towards class k's colour at p = 1 (one of several outputs)."""
    p = np.linspace(0.0, 1.0, LEVELS)[:, None]
    strength = 0.7 * p
    return (255 * (1 - strength) + PALETTE[k % len(PALETTE)] * strength).astype(np.uint8)


def lut_index(t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values in [lo, hi] as indices into a lookup table (outside: clipped; NaN: the middle)."""
    u = (np.nan_to_num(t, nan=(lo + hi) / 2) - lo) * ((LEVELS - 1) / (hi - lo))
    return np.clip(np.rint(u), 0, LEVELS - 1).astype(np.intp)


def map_image(values: np.ndarray, lut: np.ndarray, lo: float, hi: float) -> QImage:
    """A (rows x columns) map as an image, row 0 of the map at the bottom (y up, as plotted)."""
    rgb = np.ascontiguousarray(lut[lut_index(values[::-1], lo, hi)])
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()  # owns its pixels
