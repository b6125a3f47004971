"""JSON as the program's files need it: finite numbers only, whole numbers within float range,
nesting that cannot exhaust the stack. One reader for projects and weight files."""
from __future__ import annotations

import json
import math
from typing import Any

from core.errors import shorten


class JSONRefused(ValueError):
    """Text that is not JSON this program accepts; the message has no file name."""


def loads_strict(text: str) -> Any:
    """json.loads, refusing NaN/Infinity, numbers beyond float range and deep nesting."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_float_range_int)
    except json.JSONDecodeError as exc:
        raise JSONRefused(f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise JSONRefused("the JSON is nested too deeply") from None
    except JSONRefused:
        raise
    except ValueError as exc:  # int() beyond Python's digit limit, and the like
        raise JSONRefused(shorten(str(exc), 120)) from None


def _refuse_constant(name: str) -> float:
    raise JSONRefused(f"{name} is not allowed: every number must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRefused(f"the number {shorten(text, 24)} is too large")
    return value


def _float_range_int(text: str) -> int:
    """Whole numbers within float range: every number in these files may end up as a float."""
    digits = len(text.lstrip("-"))
    if digits > 308:  # 1e308 is the largest power of ten a float holds
        raise JSONRefused(f"the number {shorten(text, 24)} ({digits:,} digits) is too large")
    return int(text)
