"""Loading data from CSV files: everything or nothing, and every refusal names line and column."""
from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.padding import pad
from core.errors import DataError
from core.errors import cut_list, shorten
from core.files import FileRefused, read_user_file, read_user_prefix

MAX_BYTES = 200 * 2**20
MAX_ROWS = 1_000_000
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PREVIEW_BYTES = 16 * 2**20  # enough for a header of a million columns


def _read_rows(path: Path, max_rows: int | None = None
               ) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, fields) of every non-blank row, or of the first `max_rows`
    (then only the start of the file is read: a preview of a 200 MB file stays quick)."""
    try:
        if max_rows is None:
            raw = read_user_file(path, MAX_BYTES)
        else:
            raw = read_user_prefix(path, PREVIEW_BYTES)
            if len(raw) == PREVIEW_BYTES:  # cut: keep whole lines only
                raw = raw[: raw.rfind(b"\n") + 1]
    except FileRefused as exc:
        raise DataError(str(exc)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name} is not UTF-8 text (byte {exc.start})") from None
    del raw
    return _parse_rows(path.name, text, max_rows)


def _parse_rows(name: str, text: str, max_rows: int | None
                ) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """max_rows None: every row, refused above MAX_ROWS; else the first max_rows."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    header = None
    try:
        for fields in reader:
            if not fields or all(not s.strip() for s in fields):
                continue
            if header is None:
                header = [s.strip() for s in fields]
                continue
            if max_rows is not None and len(rows) == max_rows:
                break
            if len(rows) == MAX_ROWS:
                raise DataError(f"{name} has more than {MAX_ROWS:,} rows")
            rows.append((reader.line_num, fields))
    except csv.Error as exc:
        raise DataError(f"{name} line {reader.line_num}: {exc}") from None
    if header is None:
        raise DataError(f"{name} is empty: it needs a header row and at least two data rows")
    return header, rows


def csv_preview(path: str | Path, rows: int = 10) -> tuple[list[str], list[list[str]]]:
    """The header and the first rows as text, for an import dialog (reads the file's start)."""
    header, data = _read_rows(Path(path), max(rows, 0))
    return header, [fields for _, fields in data]


def _column_indices(path: Path, header: list[str], columns: list[str]) -> list[int]:
    """Positions of `columns` in the header, by one dict (linear in the header's length)."""
    position: dict[str, int] = {}
    repeated: set[str] = set()
    for i, column in enumerate(header):
        if column in position:
            repeated.add(column)
        position.setdefault(column, i)
    out = []
    for column in columns:
        if column in repeated:
            raise DataError(f"{path.name}: the column name {shorten(repr(column), 40)} appears "
                            "more than once in the header")
        if column not in position:
            if not _meant_as_csv(path):
                raise DataError(f"{path.name} has no column {shorten(repr(column), 40)}; its "
                                "name does not say it is a table (.csv, .tsv or .txt)")
            raise DataError(f"{path.name} has no column {shorten(repr(column), 40)}; its columns "
                            f"are: {cut_list(header)}")
        out.append(position[column])
    return out


# A number as a person writes it in a table: ASCII digits, an optional sign, point and
# exponent. float() alone would also take '1_000', Arabic-Indic digits and surrounding spaces
# of any kind; nan and inf are matched so that they are refused as "not finite" below.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                     r"|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def _number(path: Path, line: int, column: str, text: str) -> float:
    where = f"{path.name} line {line}, column {shorten(repr(column), 40)}"
    stripped = text.strip(" \t")
    if not _NUMBER.fullmatch(stripped):
        raise DataError(f"{where}: {_quote(path, stripped)} is not a number")
    value = float(stripped)
    if not math.isfinite(value):
        raise DataError(f"{where}: {_quote(path, stripped)} is not a finite number")
    return value


def _meant_as_csv(path: Path) -> bool:
    """Whether the file's name says it holds a table; only then do messages quote its text.

    A project may name any file (~/.ssh/id_rsa, /proc/self/environ); its contents must not
    end up in an error line, a log or a screenshot.
    """
    try:
        real = Path(os.path.realpath(path))
    except (OSError, ValueError):
        return False
    # Both names: a link called data.csv that points at a key is still a key.
    return path.suffix.lower() in CSV_SUFFIXES and real.suffix.lower() in CSV_SUFFIXES


def _quote(path: Path, text: str) -> str:
    return shorten(repr(text), 40) if _meant_as_csv(path) else "the value"


def load_csv(path: str | Path, input_columns: list[str], target_columns: list[str],
             task: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str], list[str] | None]:
    """(x, y, input names, target names, class names) from a CSV file with a header row.

    Classification: one target column of labels; 2 classes give one 0/1 column (the second
    class in sorted order is 1), 3 or more give one-hot columns. Regression: numeric targets.
    """
    table = read_table(path, input_columns, target_columns, task)
    return table.x, table.y, table.inputs, table.targets, table.classes


@dataclass
class Table:
    """A CSV file's rows as numbers: x, y and the names load_csv returns, plus each row's line
    number and, when read_table was given a sequence column, each row's text in it."""
    x: np.ndarray
    y: np.ndarray
    inputs: list[str]
    targets: list[str]
    classes: list[str] | None
    lines: list[int]
    sequence_names: list[str] | None


def _check_columns(input_columns: list[str], target_columns: list[str], task: str,
                   sequence_column: str | None) -> None:
    """Refuse a choice of columns that cannot make data, before the file is read."""
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
        column = shorten(repr(sorted(overlap)[0]), 40)
        raise DataError(f"column {column} is both an input and a target")
    if sequence_column in input_columns or sequence_column in target_columns:
        role = "an input" if sequence_column in input_columns else "a target"
        raise DataError(f"column {shorten(repr(sequence_column), 40)} is the sequence column "
                        f"and {role}")


def read_table(path: str | Path, input_columns: list[str], target_columns: list[str],
               task: str, sequence_column: str | None = None) -> Table:
    """load_csv's reading, keeping each row's line and its text in `sequence_column`."""
    path = Path(path)
    name = path.name
    _check_columns(input_columns, target_columns, task, sequence_column)
    header, rows = _read_rows(path)
    in_idx = _column_indices(path, header, input_columns)
    out_idx = _column_indices(path, header, target_columns)
    seq_idx = None if sequence_column is None else \
        _column_indices(path, header, [sequence_column])[0]
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
            x[r, j] = _number(path, line, col, fields[i])
        if task == "classification":
            label = fields[out_idx[0]].strip()
            if not label:
                raise DataError(f"{name} line {line}, column {shorten(repr(target_columns[0]), 40)}"
                                ": the class label is empty")
            labels.append(label)
        else:
            for j, (i, col) in enumerate(zip(out_idx, target_columns)):
                y[r, j] = _number(path, line, col, fields[i])
    lines = [line for line, _ in rows]
    texts = None if seq_idx is None else [fields[seq_idx].strip() for _, fields in rows]
    if task == "regression":
        return Table(x, y, list(input_columns), list(target_columns), None, lines, texts)
    classes = _sorted_labels(set(labels))
    if len(classes) < 2:
        raise DataError(f"{name}: column {shorten(repr(target_columns[0]), 40)} has only one "
                        f"class ({_quote(path, classes[0])}); a classification needs at least two")
    index = {c: i for i, c in enumerate(classes)}
    codes = np.array([index[label] for label in labels])
    if len(classes) == 2:
        return Table(x, codes[:, None].astype(float), list(input_columns), [target_columns[0]],
                     classes, lines, texts)
    return Table(x, np.eye(len(classes))[codes], list(input_columns), list(classes), classes,
                 lines, texts)


def load_csv_sequences(path: str | Path, input_columns: list[str], target_columns: list[str],
                       task: str, sequence_column: str
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str],
                                  list[str] | None]:
    """(x, y, mask, input names, target names, class names): rows grouped into sequences by
    the text in `sequence_column`, each row one time step (load_csv's columns), rows in file
    order within a sequence and sequences in order of first appearance; shorter sequences are
    padded with zeros at the end and masked False.

    A sequence's rows must be adjacent: a name that comes back after other rows is refused
    (usually a sort gone wrong, or two sequences given one name), not joined. A sequence of
    one row is kept (one step), but a column that makes every sequence one row long groups
    nothing (a row id chosen by mistake) and is refused.
    """
    path = Path(path)
    if not sequence_column:
        raise DataError("name the column that groups the rows into sequences")
    table = read_table(path, input_columns, target_columns, task, sequence_column)
    starts = _sequence_starts(path, sequence_column, table.sequence_names, table.lines)
    if len(starts) == len(table.lines):
        column = shorten(repr(sequence_column), 40)
        raise DataError(f"{path.name}: every sequence in column {column} has one row; the "
                        "sequence column names the sequence each row (time step) belongs to, "
                        "shared by its rows")
    x, mask = pad(np.split(table.x, starts[1:]), path.name)
    y, _ = pad(np.split(table.y, starts[1:]), path.name)
    return x, y, mask, table.inputs, table.targets, table.classes


def _sequence_starts(path: Path, column: str, names: list[str], lines: list[int]) -> list[int]:
    """The row where each sequence begins; refuses an empty name and a name that comes back."""
    first_line: dict[str, int] = {}
    starts: list[int] = []
    where = f"column {shorten(repr(column), 40)}"
    for row, (name, line) in enumerate(zip(names, lines)):
        if not name:
            raise DataError(f"{path.name} line {line}, {where}: the sequence name is empty")
        if row and name == names[row - 1]:
            continue
        if name in first_line:
            raise DataError(f"{path.name} line {line}, {where}: sequence {_quote(path, name)} "
                            f"began on line {first_line[name]} and comes back after other rows;"
                            " a sequence's rows must be together")
        first_line[name] = line
        starts.append(row)
    return starts


def _sorted_labels(labels: set[str]) -> list[str]:
    """Numeric labels in numeric order (2 before 10), others alphabetically."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)
