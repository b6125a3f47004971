"""Exports carry the standardisation and the class names: the ONNX model and the .py take raw
inputs and predict what the app predicts, on data far from centred."""
import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from core.data.dataset import make_dataset
from core.engine import compile_plan, predict
from core.export.formats import Preprocessing, export_weights, import_weights
from core.losses import predictions
from core.settings import DataSettings
from core.templates import layered

LABELS = ["setosa", "=cmd|' /C calc'!A0", 'say "hi"']


@pytest.fixture
def shifted(tmp_path):
    """A 3-class CSV whose inputs sit near +100 with deviations of 30 and 0.5, standardised."""
    rng = np.random.default_rng(1)
    rows = ["a,b,label"]
    for i in range(60):
        a, b = 100 + 30 * rng.normal(), -7 + 0.5 * rng.normal()
        rows.append(f"{a!r},{b!r},\"{LABELS[i % 3].replace(chr(34), 2 * chr(34))}\"")
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")

    def data(standardize):
        return make_dataset(DataSettings(source="csv", csv_path="d.csv", input_columns=["a", "b"],
                                         target_columns=["label"], task="classification",
                                         standardize=standardize, test_fraction=0.25, seed=4),
                            tmp_path)
    net = layered([2, 5, 3], hidden="tanh", output="identity")
    rng = np.random.default_rng(2)
    net.set_values({e: float(rng.normal()) for e in net.edges},
                   {n: float(rng.normal()) for n in net.neurons})
    return net, data(True), data(False)


def app_predictions(net, standardized_x):
    """What the app shows: the engine's forward pass on the standardised rows."""
    plan = compile_plan(net)
    return predictions("softmax_ce", predict(plan, plan.pack(net), standardized_x))


def test_the_dataset_keeps_what_the_export_needs(shifted):
    _, std_data, raw_data = shifted
    prep = Preprocessing.from_dataset(std_data)
    np.testing.assert_allclose(prep.mean, raw_data.x_train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(prep.std, raw_data.x_train.std(axis=0), rtol=1e-12)
    assert sorted(prep.class_names) == sorted(LABELS) and len(prep.class_names) == 3
    np.testing.assert_allclose(prep.apply(raw_data.x_test), std_data.x_test, atol=1e-12)


def test_onnx_takes_raw_inputs_and_predicts_what_the_app_predicts(shifted, tmp_path):
    net, std_data, raw_data = shifted
    prep = Preprocessing.from_dataset(std_data)
    export_weights(net, "softmax_ce", "onnx", tmp_path / "m.onnx", prep, title="shifted")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    for raw, standardized in ((raw_data.x_train, std_data.x_train), (raw_data.x_test, std_data.x_test)):
        got = session.run(None, {"x": raw.astype(np.float32)})[0]
        want = app_predictions(net, standardized)
        np.testing.assert_allclose(got, want, atol=2e-5)
        assert (got.argmax(1) == want.argmax(1)).all()
    # The bug this guards against: without the standardisation the raw rows give other numbers.
    assert np.abs(app_predictions(net, raw_data.x_train) - app_predictions(net, std_data.x_train)).max() > 0.1
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert json.loads(props["class_names"]) == list(prep.class_names)
    assert json.loads(props["mean"]) == list(prep.mean) and props["title"] == "shifted"


def test_python_export_takes_raw_inputs_and_prints_the_class(shifted, tmp_path):
    net, std_data, raw_data = shifted
    prep = Preprocessing.from_dataset(std_data)
    path = tmp_path / "m.py"
    export_weights(net, "softmax_ce", "py", path, prep)
    text = "\n".join(" ".join(repr(float(v)) for v in row) for row in raw_data.x_train)
    proc = subprocess.run([sys.executable, str(path)], input=text, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [line.split(" ", 3) for line in proc.stdout.splitlines()]
    got = np.array([[float(v) for v in parts[:3]] for parts in lines])
    want = app_predictions(net, std_data.x_train)
    np.testing.assert_allclose(got, want, atol=1e-9, rtol=0)
    import ast
    assert [ast.literal_eval(parts[3]) for parts in lines] == [prep.class_names[i] for i in want.argmax(1)]


def test_python_export_without_input_prints_usage_and_exits_2(shifted, tmp_path):
    net, std_data, _ = shifted
    path = tmp_path / "m.py"
    export_weights(net, "softmax_ce", "py", path, Preprocessing.from_dataset(std_data))
    for args, stdin in (([], ""), (["1"], None), (["1", "x"], None), ([], "1 2 3\n"),
                        (["1", "nan"], None), ([], "inf 1\n")):  # nan printed a class
        proc = subprocess.run([sys.executable, str(path), *args], input=stdin or "",
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "usage: python m.py X1 ... X2" in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_npz_and_json_keep_the_preprocessing_and_still_import(shifted, tmp_path, fmt):
    net, std_data, _ = shifted
    prep = Preprocessing.from_dataset(std_data)
    path = tmp_path / f"w.{fmt}"
    export_weights(net, "softmax_ce", fmt, path, prep)
    if fmt == "npz":
        with np.load(path) as npz:
            assert npz["input.mean"].tolist() == list(prep.mean)
            assert npz["input.std"].tolist() == list(prep.std)
            assert npz["class_names"].tolist() == list(prep.class_names)
    else:
        doc = json.loads(path.read_text())
        assert Preprocessing.from_dict(doc["preprocessing"]) == prep
    weights, biases = import_weights(net, path)
    assert weights == {e.id: e.weight for e in net.edges.values()}


def test_csv_export_has_the_standardisation_and_class_tables(shifted, tmp_path):
    import csv
    net, std_data, _ = shifted
    prep = Preprocessing.from_dataset(std_data)
    export_weights(net, "softmax_ce", "csv", tmp_path / "t", prep)
    with open(tmp_path / "t" / "standardization.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["input", "mean", "std"]
    assert [float(r[1]) for r in table[1:]] == list(prep.mean)
    assert [float(r[2]) for r in table[1:]] == list(prep.std)
    with open(tmp_path / "t" / "classes.csv", newline="") as f:
        classes = [r[1] for r in list(csv.reader(f))[1:]]
    # The formula-like label is kept as text: prefixed with a quote.
    assert classes == [("'" + c if c.startswith("=") else c) for c in prep.class_names]


def test_preprocessing_that_does_not_fit_the_network_is_refused(shifted, tmp_path):
    net, std_data, _ = shifted
    from core.export.formats import ExportError
    wrong = Preprocessing((1.0, 2.0, 3.0), (1.0, 1.0, 1.0), None)
    with pytest.raises(ExportError, match="the data has 3 input\\(s\\) but the network has 2"):
        export_weights(net, "softmax_ce", "onnx", tmp_path / "m.onnx", wrong)
    with pytest.raises(ExportError, match="2 classes but the network has 3"):
        export_weights(net, "softmax_ce", "npz", tmp_path / "m.npz", Preprocessing(class_names=("a", "b")))
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m.npz").exists()


def test_weights_files_without_the_new_fields_still_import(tmp_path):
    net = layered([2, 2, 1])
    old = {"format": "backprop-studio-weights", "version": 1,
           "weights": {e: 0.5 for e in net.edges}, "biases": {"n3": 0.1, "n4": 0.2, "n5": 0.3},
           "edges": [[e.id, e.source, e.target] for e in net.edges.values()]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert import_weights(net, tmp_path / "old.json")[1] == {"n3": 0.1, "n4": 0.2, "n5": 0.3}
    np.savez(tmp_path / "old.npz", **{f"weight:{e}": np.array(0.5) for e in net.edges},
             **{"bias:n3": np.array(0.1), "bias:n4": np.array(0.2), "bias:n5": np.array(0.3)})
    assert import_weights(net, tmp_path / "old.npz")[0] == {e: 0.5 for e in net.edges}


@pytest.mark.parametrize("standardize", [False, True])
def test_onnx_takes_every_data_column_when_the_features_read_some(tmp_path, standardize):
    """Inputs x1² and sin x1 on 2-column data: the ONNX model's x is the data's two columns
    whether or not the data is standardised (it was [batch, 1] without), and it predicts what
    the app predicts on the data's rows (found by a reviewer)."""
    from core.features import Feature
    from core.initializers import initialize

    data = make_dataset(DataSettings(generator="circles", samples=60, noise=0.1,
                                     standardize=standardize, seed=1))
    assert data.n_inputs == 2
    net = layered([2, 4, 1], hidden="tanh", output="sigmoid")
    first, second = [n.id for n in net.by_role("input")]
    net.set_feature(first, Feature("square", (0,)))
    net.set_feature(second, Feature("sin", (0,)))
    net.set_values(*initialize(net, "xavier_uniform", 2, 0.0)[:2])
    path = tmp_path / "m.onnx"
    export_weights(net, "bce", "onnx", path, Preprocessing.from_dataset(data))
    session = ort.InferenceSession(str(path))
    assert session.get_inputs()[0].shape == ["batch", 2]
    raw = data.x_train if not standardize else data.x_train * np.array(data.std) + np.array(data.mean)
    got = session.run(None, {"x": raw.astype(np.float32)})[0]
    plan = compile_plan(net)
    want = predict(plan, plan.pack(net), plan.inputs_from(data.x_train))
    np.testing.assert_allclose(got, want, atol=2e-6)
