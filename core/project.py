"""Project files: one JSON document with the network, its data and its training settings.

Loading validates everything and names the bad field ("xor.json: neurons[2].bias must be a
number"); any input either loads or raises ProjectError, quickly (size limits are checked
before anything slow; only regular files are read). Saving is atomic (core.files).
See docs/file-format.md.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from core.activations import ACTIVATIONS
from core.errors import ProjectError, UserError
from core.experiments.run_log import RunLog
from core.features import FEATURE_KINDS, MAX_COLUMN, column_mismatch
from core.files import FileRefused, read_user_file, write_atomically
from core.network import ROLES, Network, NetworkError
from core.data.generators import GENERATORS
from core.data.sequences import SEQUENCE_GENERATORS
from core.settings import DataSettings, SettingsError, TrainingSettings
from core.strict_json import JSONRefused, loads_strict

# Delayed edges (recurrent nets) did not change the format number: every reader of format 1
# refuses a field it does not know inside an edge ("edges[3].delay is not a known field"), so
# an older version cannot misread a recurrent net as a feed-forward one, and a file without
# delayed edges is byte for byte what it was. (docs/file-format.md, "Delayed edges")
FORMAT = 1
MAX_FILE_BYTES = 200 * 2**20
MAX_NEURONS = 20_000
MAX_EDGES = 1_000_000
SCHEMA_ITEMS = 5_000  # above this many neurons + edges, items are checked by a fast loop
SCHEMA_PATH = Path(__file__).with_name("project_schema.json")


@dataclass
class Project:
    network: Network = field(default_factory=Network)
    data: DataSettings = field(default_factory=DataSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    title: str = ""
    description: str = ""
    goal: dict | None = None  # {"loss": float, "epochs": int}: what an example promises
    runs: RunLog = field(default_factory=RunLog)  # the kept training runs (core.experiments)
    # What loading left out (a run the file held wrongly), one line each; not saved.
    notes: list[str] = field(default_factory=list, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {**self._head(), **self.network.to_dict(), **self._tail()}

    def _head(self) -> dict[str, Any]:
        return {"format": FORMAT, "app": "Backprop Studio", "title": self.title,
                "description": self.description, "goal": self.goal}

    def _tail(self) -> dict[str, Any]:
        out = {"data": self.data.to_dict(), "training": self.training.to_dict()}
        if len(self.runs):  # without runs, the file is as before them (older versions read it)
            out["runs"] = self.runs.to_list()
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "<memory>") -> "Project":
        try:
            _validate(data)
            network = Network.from_dict(data)
            settings = DataSettings.from_dict(data.get("data", {}))
            training = TrainingSettings.from_dict(data.get("training", {}))
            _check_features(network, settings)
            runs, notes = RunLog.from_list(data.get("runs", []))
        except (NetworkError, SettingsError, _Invalid) as exc:
            raise ProjectError(f"{source}: {exc}") from None
        except RecursionError:
            raise ProjectError(f"{source}: the JSON is nested too deeply") from None
        return cls(network, settings, training, data.get("title", ""),
                   data.get("description", ""), data.get("goal"), runs,
                   [f"{source}: {note}" for note in notes])

    def snapshot(self) -> "Project":
        """A copy that later edits of this project do not reach (settings and runs are
        immutable; the run list is copied)."""
        return Project(self.network.copy(), self.data, self.training, self.title,
                       self.description, None if self.goal is None else dict(self.goal),
                       self.runs.copy())

    def replace_with(self, other: "Project", copy: bool = True) -> None:
        """Take over another project's whole contents (Open, New, a template, a restore).

        Settings and title first, then the network, whose one `reset` event tells every view
        that a new document is open: each resets from this project as it now is."""
        self.data, self.training = other.data, other.training
        self.title, self.description = other.title, other.description
        self.goal = None if other.goal is None else dict(other.goal)
        self.runs.replace_with(other.runs)
        self.network.replace_with(other.network, copy)

    def same_as(self, other: "Project") -> bool:
        return self.to_dict() == other.to_dict()


class _Invalid(ValueError):
    pass


def _check_features(network: Network, settings: DataSettings) -> None:
    """A feature reading a column the project's data does not have is refused on open, when
    the settings say how many columns there are (a generator, or a CSV's chosen columns)."""
    features = [n.feature for n in network.inputs]
    if not any(features):
        return  # without features a count mismatch is training's to report, as always
    if settings.source == "generator":
        name = settings.generator
        n_columns = (GENERATORS.get(name) or SEQUENCE_GENERATORS[name]).n_inputs
    elif settings.input_columns:
        n_columns = len(settings.input_columns)
    else:
        return
    problem = column_mismatch(features, n_columns)
    if problem:
        raise _Invalid(problem)


# ----- loading ------------------------------------------------------------------------------
def load_project(path: str | Path) -> Project:
    path = Path(path)
    try:
        raw = read_user_file(path, MAX_FILE_BYTES)
    except FileRefused as exc:
        raise ProjectError(str(exc)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    return loads_project(text, path.name)


def loads_project(text: str, source: str = "<text>") -> Project:
    if not text.strip():
        raise ProjectError(f"{source}: the file is empty")
    try:
        data = loads_strict(text)
    except JSONRefused as exc:
        raise ProjectError(f"{source}: {exc}") from None
    return Project.from_dict(data, source)


def _schema_validators() -> tuple[Any, Any, Any]:
    return _validators_for(tuple(ACTIVATIONS), tuple(FEATURE_KINDS))


@lru_cache(maxsize=4)
def _validators_for(activations: tuple[str, ...], features: tuple[str, ...] = ()
                    ) -> tuple[Any, Any, Any]:
    """The schema's validators, its activation and feature enums filled from the registries
    (so a file can name every activation and feature the app has, and no other)."""
    import jsonschema  # only here: valid files load without it (start-up time)

    schema = json.loads(SCHEMA_PATH.read_text())
    schema["$defs"]["neuron"]["properties"]["activation"]["enum"] = list(activations)
    schema["$defs"]["feature"]["properties"]["kind"]["enum"] = list(features or FEATURE_KINDS)
    cls = jsonschema.validators.validator_for(schema)
    item = {"$defs": schema["$defs"]}
    return (cls(schema), cls({**item, "$ref": "#/$defs/neuron"}),
            cls({**item, "$ref": "#/$defs/edge"}))


def _validate(data: Any) -> None:
    """Structure and types, by the JSON Schema in project_schema.json."""
    if not isinstance(data, dict):
        raise _Invalid("a project file must hold a JSON object")
    fmt = data.get("format")
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
        raise _Invalid(f"format {fmt} was made by a newer version of Backprop Studio; "
                       f"this version reads format {FORMAT}")
    if "format" not in data:
        raise _Invalid("this is not a Backprop Studio project (no \"format\" field)")
    neurons, edges = data.get("neurons"), data.get("edges")
    if isinstance(neurons, list) and len(neurons) > MAX_NEURONS:
        raise _Invalid(f"{len(neurons):,} neurons; the limit is {MAX_NEURONS:,}")
    if isinstance(edges, list) and len(edges) > MAX_EDGES:
        raise _Invalid(f"{len(edges):,} edges; the limit is {MAX_EDGES:,}")
    if _plain_document(data):
        return  # certainly valid: jsonschema (0.1-0.26 s to import) is not needed at all
    whole, neuron, edge = _schema_validators()
    big = isinstance(neurons, list) and isinstance(edges, list) and \
        len(neurons) + len(edges) > SCHEMA_ITEMS
    if not big:
        _raise_first(whole, data, ())
        return
    # Large graphs: the schema checks everything but the arrays, and each item against its
    # own sub-schema only when a fast pre-check finds it unusual (jsonschema costs ~50 us an item).
    _raise_first(whole, {**data, "neurons": [], "edges": []}, ())
    for name, items, validator, keys in (("neurons", neurons, neuron, _NEURON_KEYS),
                                         ("edges", edges, edge, _EDGE_KEYS)):
        for i, item in enumerate(items):
            if not _plain_item(item, keys):
                _raise_first(validator, item, (name, i))


_TOP_KEYS = {"format", "app", "title", "description", "goal", "neurons", "edges", "data",
             "training", "runs"}


def _plain_document(data: dict) -> bool:
    """True when the document certainly passes project_schema.json (the common case), checked
    by hand; anything unusual goes to jsonschema, which also words the error."""
    if not data.keys() <= _TOP_KEYS or not {"neurons", "edges"} <= data.keys():
        return False
    fmt, goal = data.get("format"), data.get("goal")
    if type(fmt) is not int or fmt != FORMAT or not isinstance(data.get("app", ""), str):
        return False
    title, description = data.get("title", ""), data.get("description", "")
    if not (isinstance(title, str) and len(title) <= 1000 and isinstance(description, str)
            and len(description) <= 100000):
        return False
    if goal is not None and not (
            isinstance(goal, dict) and goal.keys() == {"loss", "epochs"}
            and type(goal["loss"]) in (int, float) and goal["loss"] >= 0
            and type(goal["epochs"]) is int and goal["epochs"] >= 1):
        return False
    if not all(isinstance(data.get(k, {}), dict) for k in ("data", "training")):
        return False
    if not isinstance(data.get("runs", []), list):
        return False
    neurons, edges = data["neurons"], data["edges"]
    return (isinstance(neurons, list) and isinstance(edges, list)
            and all(_plain_item(n, _NEURON_KEYS) for n in neurons)
            and all(_plain_item(e, _EDGE_KEYS) for e in edges))


_NEURON_KEYS = {"id": str, "role": str, "activation": str, "bias": float, "label": str,
                "x": float, "y": float, "frozen": bool, "feature": dict}
_EDGE_KEYS = {"id": str, "source": str, "target": str, "weight": float, "frozen": bool,
              "delay": int}
_REQUIRED = {"neurons": {"id", "role"}, "edges": {"id", "source", "target"}}


def _plain_item(item: Any, keys: dict[str, type]) -> bool:
    """True when an item certainly passes its sub-schema (the common case), cheaply."""
    required = _REQUIRED["neurons" if "role" in keys else "edges"]
    if not isinstance(item, dict) or not required <= item.keys() <= keys.keys():
        return False
    for k, v in item.items():
        t = keys[k]
        if t is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return False
        elif not isinstance(v, t):
            return False
        elif t is dict and not _plain_feature(v):
            return False
        elif t is str and (len(v) > 200 or (k != "label" and not v)):
            return False
    return item.get("role", "hidden") in ROLES and item.get("activation", "identity") in ACTIVATIONS


def _plain_feature(v: dict) -> bool:
    """True when an input's feature certainly passes the schema's $defs/feature."""
    cols = v.get("columns")
    return (v.keys() == {"kind", "columns"} and isinstance(v["kind"], str)
            and v["kind"] in FEATURE_KINDS
            and isinstance(cols, list) and 1 <= len(cols) <= 2
            and all(type(c) is int and 0 <= c <= MAX_COLUMN for c in cols))


def _raise_first(validator: Any, instance: Any, prefix: tuple) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise _Invalid(_describe(error, prefix))


def _describe(error: Any, prefix: tuple) -> str:
    """A jsonschema error as 'neurons[2].bias must be a number'."""
    where = _path((*prefix, *error.absolute_path))
    v, value = error.validator, error.validator_value
    if v == "required":
        missing = next((k for k in value if k not in error.instance), value[0])
        return f"{where or 'the file'} has no {missing!r}"
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{_path((*prefix, *error.absolute_path, extra[0]))} is not a known field"
    if v == "type":
        kinds = value if isinstance(value, list) else [value]
        names = {"number": "a number", "integer": "a whole number", "string": "a string",
                 "boolean": "true or false", "object": "an object", "array": "a list",
                 "null": "null"}
        return f"{where} must be {' or '.join(names.get(k, k) for k in kinds)}"
    if v == "enum":
        return f"{where} must be one of {', '.join(map(str, value))}, not {error.instance!r}"[:300]
    if v == "const":
        return f"{where} must be {value!r}"
    if v in ("maxLength", "minLength"):
        return f"{where} must have {'at most' if v == 'maxLength' else 'at least'} {value} characters"
    if v in ("minimum", "maximum"):
        return f"{where} must be {'at least' if v == 'minimum' else 'at most'} {value}"
    return f"{where}: {error.message}"[:300]


def _path(parts: tuple) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# ----- saving -------------------------------------------------------------------------------
def dumps_project(project: Project) -> str:
    return json.dumps(project.to_dict(), indent=1, allow_nan=False) + "\n"


def json_slices(project: Project, edges_per_slice: int = 500) -> Iterator[str]:
    """The project's JSON (dumps_project's data, without its indentation) in pieces of
    bounded cost, of the project as it is when this is called: edits and training frames
    after it do not reach the pieces not made yet. Writing a 51k-edge net at once stopped
    the window for 0.8-2 s; each piece here is a few milliseconds. Kept runs (immutable)
    are written one run at a time, a run's weights in slices: seven runs of that net kept
    their 51k weights each, and writing them in one piece stopped the window 0.7 s."""
    head = project._head()
    settings = {"data": project.data.to_dict(), "training": project.training.to_dict()}
    runs = list(project.runs)  # Run objects do not change; the log's list does
    neurons, edge_slices = project.network.to_dict_in_slices(edges_per_slice)
    values_per_slice = 10 * edges_per_slice  # a weight is a tenth of an edge's JSON

    def pieces() -> Iterator[str]:
        yield f"{{{_members(head)}, \"neurons\": {_dumps(neurons)}, \"edges\": ["
        for k, edges in enumerate(edge_slices):
            yield (", " if k else "") + _dumps(edges)[1:-1]
        if not runs:  # without runs, the file is as before them (older versions read it)
            yield f"], {_members(settings)}}}\n"
            return
        yield f"], {_members(settings)}, \"runs\": ["
        for k, run in enumerate(runs):
            yield from _run_pieces(run, ", " if k else "", values_per_slice)
        yield "]}\n"
    return pieces()


def _run_pieces(run, prefix: str, values_per_slice: int) -> Iterator[str]:
    """One kept run's JSON object in pieces: its figures, then its weights in slices."""
    fields = run.to_dict()
    weights = fields.pop("weights")
    if weights is None:
        yield prefix + _dumps({**fields, "weights": None})
        return
    yield f"{prefix}{{{_members(fields)}, \"weights\": {{"
    for k, name in enumerate(("edges", "biases")):
        items = list(weights[name].items())
        yield f"{', ' if k else ''}\"{name}\": {{"
        for start in range(0, len(items), values_per_slice):
            chunk = dict(items[start:start + values_per_slice])
            yield (", " if start else "") + _members(chunk)
        yield "}"
    yield "}}"


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


def _members(d: dict[str, Any]) -> str:
    """A dict's JSON without its braces."""
    return _dumps(d)[1:-1]


def save_project(project: Project, path: str | Path, moved_from: str | Path | None = None
                 ) -> None:
    """Write atomically (see core.files.write_atomically): the old file stays intact until
    the new one is complete on disk; OSError names `path`. `moved_from`: the folder the
    project's relative CSV path is relative to now (its file's, or the working folder for
    one never saved); written into another folder, the path is rewritten to name the same
    CSV file from there (project.data is changed too: the project lives there now)."""
    data = project.data if moved_from is None else \
        rebased_data(project.data, moved_from, Path(path).absolute().parent)
    written = project if data is project.data else replace(project, data=data)
    write_atomically(path, dumps_project(written).encode("utf-8"))
    project.data = data  # only once written: a failed save leaves the project as it was


def rebased_data(data: DataSettings, old_folder: str | Path, new_folder: str | Path
                 ) -> DataSettings:
    """The data settings as a project file in `new_folder` must say them: a csv_path
    relative to `old_folder` becomes one relative to `new_folder` (absolute where there is
    none, as across Windows drives). Saved elsewhere unchanged, a project with its data in
    data.csv beside it looked for the other folder's data.csv, which is not there."""
    csv = data.csv_path
    if not csv or Path(csv).is_absolute():
        return data
    old, new = Path(old_folder).absolute(), Path(new_folder).absolute()
    if os.path.realpath(old) == os.path.realpath(new):
        return data
    target = old / csv
    try:
        moved = Path(os.path.relpath(target, new)).as_posix()
    except ValueError:  # no relative path between them
        moved = str(target)
    return replace(data, csv_path=moved)
