"""A corpus of hostile names and texts through every export format: as output file names,
neuron labels, ids, class names and project titles. Nothing may run, every artifact must
still parse, and the numbers must come back."""
import ast
import csv
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from core.engine import compile_plan, predict
from core.export.formats import ExportError, FORMATS, Preprocessing, export_weights, import_weights
from core.losses import predictions
from core.network import Network
from core.safe_text import FORMULA_START

PWN = '__import__("os").system("touch PWNED")'
HOSTILE = [
    f'a""";{PWN};"""b', f"a''';{PWN};'''b", f'"+{PWN}+"', f"'+{PWN}+'", '"', "'", "\\",
    "\\x", "\\x4", "\\N", "\\N{", "\\N{SNOWMAN}", "\\u12", "{}{0}{name}%s%%", "a\x00b", "\x00",
    "line\nbreak", "cr\rret", "\ttab", "é☃😀", "\u202eevil", "=1+1", "+cmd|' /C calc'!A0",
    "-2", "@SUM(A1)", "=HYPERLINK(\"x\")", "<&>]]>", "x" * 190, "#", "\x7f\x1b[31m", "y" * 300,
]


def hostile_network() -> Network:
    """2 inputs, 3 hidden, 3 outputs; every id and label from the corpus (ids made unique)."""
    roles = ["input"] * 2 + ["hidden"] * 3 + ["output"] * 3
    ids = [(HOSTILE[i] + f"~{i}")[-200:] for i in (14, 21, 0, 1, 11, 15, 23, 24)]
    labels = [HOSTILE[i] for i in (22, 25, 2, 3, 12, 13, 26, 27)]
    neurons = [{"id": nid, "role": r, "label": label, "bias": 0.1 * i,
                "activation": "tanh" if r == "hidden" else "identity"}
               for i, (nid, r, label) in enumerate(zip(ids, roles, labels))]
    pairs = [(s, t) for s in range(2) for t in range(2, 5)] + [(s, t) for s in range(2, 5)
                                                              for t in range(5, 8)]
    edges = [{"id": (HOSTILE[(2 * k + 4) % len(HOSTILE)] + f"~e{k}")[-200:], "source": ids[s],
              "target": ids[t], "weight": 0.3 * k - 1} for k, (s, t) in enumerate(pairs)]
    return Network.from_dict({"neurons": neurons, "edges": edges})


PREP = Preprocessing((100.0, -3.0), (20.0, 0.5), tuple(t[:50] for t in HOSTILE[:3]))
TITLE = HOSTILE[0] + HOSTILE[11] + HOSTILE[14]


def reference(net, x):
    plan = compile_plan(net)
    return predictions("softmax_ce", predict(plan, plan.pack(net), PREP.apply(x)))


@pytest.fixture(scope="module")
def net():
    return hostile_network()


def test_the_corpus_reaches_ids_and_labels(net):
    assert any("\x00" in nid for nid in net.neurons) and any('"""' in nid for nid in net.neurons)
    assert any("\\N{" in eid for eid in net.edges)
    assert any(n.label.startswith("=") for n in net.neurons.values())


def test_python_export_parses_runs_and_executes_nothing(net, tmp_path):
    path = tmp_path / "model.py"
    export_weights(net, "softmax_ce", "py", path, PREP, TITLE)
    source = path.read_text(encoding="ascii")  # pure ASCII: every text is an escaped literal
    tree = ast.parse(source)
    consts = {t.targets[0].id: ast.literal_eval(t.value) for t in tree.body
              if isinstance(t, ast.Assign) and isinstance(t.targets[0], ast.Name)}
    assert consts["TITLE"] == TITLE and consts["CLASS_NAMES"] == list(PREP.class_names)
    assert consts["INPUTS"] == [n.name for n in net.inputs]
    x = np.array([[95.0, -3.2], [130.0, -2.0]])
    proc = subprocess.run([sys.executable, str(path), *(repr(float(v)) for v in x[0])], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = [float(v) for v in proc.stdout.split()[:3]]
    np.testing.assert_allclose(got, reference(net, x[:1])[0], atol=1e-9)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_output_file_names(net, tmp_path, text):
    """As the CLI gets them (no NUL can reach argv, "/" makes folders): written under exactly
    that name, or one clear refusal; never code run, never a traceback."""
    name = text.replace("/", "_")
    for fmt, suffix in (("py", ".py"), ("onnx", ".onnx"), ("npz", ".npz"), ("json", ".json"),
                        ("csv", "")):
        path = tmp_path / (name + suffix)
        try:
            export_weights(net, "softmax_ce", fmt, path, PREP, TITLE)
        except ExportError as exc:
            assert "\x00" in name or len(name.encode()) + len(suffix) > 255, exc
            continue
        assert path.exists()
        if fmt == "py":
            ast.parse(path.read_text(encoding="ascii"))
            proc = subprocess.run([sys.executable, str(path), "1", "2"], capture_output=True,
                                  text=True, cwd=tmp_path, timeout=60)
            assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "PWNED").exists() and not os.path.exists("PWNED")


def test_csv_cells_never_start_a_formula(net, tmp_path):
    export_weights(net, "softmax_ce", "csv", tmp_path / "t", PREP)
    cells = []
    for table in (tmp_path / "t").iterdir():
        with open(table, newline="", encoding="utf-8") as f:
            cells += [c for row in csv.reader(f) for c in row]
    assert any(c.startswith("'=") for c in cells)  # the corpus did reach the tables
    for cell in cells:
        if cell.startswith(FORMULA_START):
            float(cell)  # only numbers we wrote may start with "-"


def test_onnx_loads_runs_and_keeps_the_names_as_plain_strings(net, tmp_path):
    path = tmp_path / "m.onnx"
    export_weights(net, "softmax_ce", "onnx", path, PREP, TITLE)
    x = np.array([[95.0, -3.2], [130.0, -2.0]])
    got = ort.InferenceSession(str(path)).run(None, {"x": x.astype(np.float32)})[0]
    np.testing.assert_allclose(got, reference(net, x), atol=1e-5)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["title"] == TITLE
    assert json.loads(props["inputs"]) == [n.name for n in net.inputs]
    assert json.loads(props["class_names"]) == list(PREP.class_names)


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_hostile_ids_import_back(net, tmp_path, fmt):
    path = tmp_path / f"w.{fmt}"
    export_weights(net, "softmax_ce", fmt, path, PREP, TITLE)
    zeroed = net.copy()
    zeroed.set_values({e: 0.0 for e in zeroed.edges},
                      {n.id: 0.0 for n in zeroed.neurons.values() if n.role != "input"})
    assert not zeroed.same_as(net)
    weights, biases = import_weights(zeroed, path)
    zeroed.set_values(weights, biases)
    assert zeroed.same_as(net)


def test_every_format_is_in_the_corpus_tests():
    assert set(FORMATS) == {"npz", "json", "csv", "onnx", "py"}
