"""Numbers as the step-through and the registries' explanations write them."""
from __future__ import annotations


def fmt(value: float) -> str:
    """A number as every event shows it: four significant digits, no "-0"."""
    text = f"{value:.4g}"
    return "0" if text in ("-0", "0") else text


def factor(value: float) -> str:
    """fmt, in parentheses when negative, for use as a factor: 0.5·(-0.3)."""
    text = fmt(value)
    return f"({text})" if text.startswith("-") else text
