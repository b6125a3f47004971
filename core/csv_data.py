"""Loading data from CSV files: everything or nothing, and every refusal names line and column."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from core.data import DataError

MAX_BYTES = 200 * 2**20
MAX_ROWS = 1_000_000


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, fields) of every non-blank row."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or 'cannot be read'}") from None
    if size > MAX_BYTES:
        raise DataError(f"{name} is {size / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = []
            header = None
            for fields in reader:
                if not fields or all(not s.strip() for s in fields):
                    continue
                if header is None:
                    header = [s.strip() for s in fields]
                    continue
                rows.append((reader.line_num, fields))
                if len(rows) > MAX_ROWS:
                    raise DataError(f"{name} has more than {MAX_ROWS:,} rows")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name} is not UTF-8 text (byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{name} line {reader.line_num}: {exc}") from None
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or 'cannot be read'}") from None
    if header is None:
        raise DataError(f"{name} is empty: it needs a header row and at least two data rows")
    return header, rows


def csv_preview(path: str | Path, rows: int = 10) -> tuple[list[str], list[list[str]]]:
    """The header and the first rows as text, for an import dialog."""
    header, data = _read_rows(Path(path))
    return header, [fields for _, fields in data[:rows]]


def _column_index(name: str, header: list[str], column: str) -> int:
    if header.count(column) > 1:
        raise DataError(f"{name}: the column name {column!r} appears more than once in the header")
    if column not in header:
        raise DataError(f"{name} has no column {column!r}; its columns are: {', '.join(header)}")
    return header.index(column)


def _number(name: str, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{name} line {line}, column {column!r}: {text.strip()!r} is not a "
                        "number") from None
    if not math.isfinite(value):
        raise DataError(f"{name} line {line}, column {column!r}: {text.strip()!r} is not a "
                        "finite number")
    return value


def load_csv(path: str | Path, input_columns: list[str], target_columns: list[str],
             task: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str], list[str] | None]:
    """(x, y, input names, target names, class names) from a CSV file with a header row.

    Classification: one target column of labels; 2 classes give one 0/1 column (the second
    class in sorted order is 1), 3 or more give one-hot columns. Regression: numeric targets.
    """
    path = Path(path)
    name = path.name
    if task not in ("classification", "regression"):
        raise DataError(f"unknown task {task!r}; use classification or regression")
    if not input_columns:
        raise DataError("choose at least one input column")
    if not target_columns:
        raise DataError("choose at least one target column")
    if task == "classification" and len(target_columns) != 1:
        raise DataError("a classification needs exactly one target column (the class label)")
    overlap = set(input_columns) & set(target_columns)
    if overlap:
        raise DataError(f"column {sorted(overlap)[0]!r} is both an input and a target")
    header, rows = _read_rows(path)
    in_idx = [_column_index(name, header, c) for c in input_columns]
    out_idx = [_column_index(name, header, c) for c in target_columns]
    if len(rows) < 2:
        raise DataError(f"{name} has {len(rows)} data row(s); at least 2 are needed")
    x = np.empty((len(rows), len(in_idx)))
    labels: list[str] = []
    y = np.empty((len(rows), len(out_idx)))
    for r, (line, fields) in enumerate(rows):
        if len(fields) != len(header):
            raise DataError(f"{name} line {line} has {len(fields)} fields; the header has "
                            f"{len(header)}")
        for j, (i, col) in enumerate(zip(in_idx, input_columns)):
            x[r, j] = _number(name, line, col, fields[i])
        if task == "classification":
            label = fields[out_idx[0]].strip()
            if not label:
                raise DataError(f"{name} line {line}, column {target_columns[0]!r}: the class "
                                "label is empty")
            labels.append(label)
        else:
            for j, (i, col) in enumerate(zip(out_idx, target_columns)):
                y[r, j] = _number(name, line, col, fields[i])
    if task == "regression":
        return x, y, list(input_columns), list(target_columns), None
    classes = _sorted_labels(set(labels))
    if len(classes) < 2:
        raise DataError(f"{name}: column {target_columns[0]!r} has only one class "
                        f"({classes[0]!r}); a classification needs at least two")
    index = {c: i for i, c in enumerate(classes)}
    codes = np.array([index[label] for label in labels])
    if len(classes) == 2:
        return x, codes[:, None].astype(float), list(input_columns), [target_columns[0]], classes
    return x, np.eye(len(classes))[codes], list(input_columns), list(classes), classes


def _sorted_labels(labels: set[str]) -> list[str]:
    """Numeric labels in numeric order (2 before 10), others alphabetically."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)
