"""Weights out: every format's round trip or runtime check, and bad imports."""
import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings

from core.engine import compile_plan, predict
from core.export.formats import FORMATS, ExportError, export_weights, import_weights
from core.losses import predictions
from core.templates import layered
from core.export.weights_io import layers
from tests.core.strategies import build_dag, random_dag


def reference(net, loss, x):
    plan = compile_plan(net)
    return predictions(loss, predict(plan, plan.pack(net), x))


@settings(max_examples=25, deadline=None)
@given(random_dag(min_outputs=1))
def test_onnx_runs_in_onnxruntime_like_the_engine(tmp_path_factory, net):
    loss = "softmax_ce" if len(net.outputs) > 1 else "mse"
    path = tmp_path_factory.mktemp("onnx") / "net.onnx"
    export_weights(net, loss, "onnx", path)
    x = np.random.default_rng(0).normal(size=(7, len(net.inputs)))
    got = ort.InferenceSession(str(path)).run(None, {"x": x.astype(np.float32)})[0]
    np.testing.assert_allclose(got, reference(net, loss, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_python_file_predicts_like_the_engine_in_a_subprocess(tmp_path, seed):
    net = build_dag(seed, 3, 6, 2)
    path = tmp_path / "predict.py"
    export_weights(net, "softmax_ce", "py", path)
    x = np.random.default_rng(seed).normal(size=(5, 3))
    text = "\n".join(" ".join(repr(float(v)) for v in row) for row in x)
    proc = subprocess.run([sys.executable, str(path)], input=text, capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = np.array([[float(v) for v in line.split()] for line in proc.stdout.splitlines()])
    np.testing.assert_allclose(got, reference(net, "softmax_ce", x), atol=1e-9)
    assert "import core" not in path.read_text() and "from core" not in path.read_text()


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_npz_and_json_round_trip(tmp_path, fmt):
    net = build_dag(3, 2, 5, 2)
    path = tmp_path / f"w.{fmt}"
    export_weights(net, "mse", fmt, path)
    other = net.copy()
    other.set_values({e: 0.0 for e in other.edges}, {n: 0.0 for n in other.neurons})
    weights, biases = import_weights(other, path)
    other.set_values(weights, biases)
    assert other.same_as(net)


def test_layered_npz_has_one_matrix_per_layer(tmp_path):
    net = layered([3, 4, 2])
    rng = np.random.default_rng(0)
    net.set_values({e: float(rng.normal()) for e in net.edges}, {})
    path = tmp_path / "w.npz"
    export_weights(net, "mse", "npz", path)
    x = rng.normal(size=(6, 3))
    with np.load(path) as npz:
        h = 1 / (1 + np.exp(-(x @ npz["layer1.W"] + npz["layer1.b"])))
        y = 1 / (1 + np.exp(-(h @ npz["layer2.W"] + npz["layer2.b"])))
        assert npz["layer1.W"].shape == (3, 4) and list(npz["layer2.units"]) == [n.id for n in net.outputs]
    np.testing.assert_allclose(y, reference(net, "mse", x))


def test_csv_tables_hold_every_weight(tmp_path):
    net = layered([2, 3, 1])
    net.set_values({e: i + 0.5 for i, e in enumerate(net.edges)}, {})
    export_weights(net, "mse", "csv", tmp_path / "out")
    rows = (tmp_path / "out" / "layer1.csv").read_text().splitlines()
    assert rows[0].split(",")[1:] == [n.id for n in net.neurons.values() if n.role == "hidden"]
    (rows1, cols1, w, b) = layers(net)[0]
    assert [float(v) for v in rows[1].split(",")[1:]] == list(w[0])
    skip = build_dag(1, 2, 3, 1)
    assert layers(skip) is None  # has skip connections
    export_weights(skip, "mse", "csv", tmp_path / "skip")
    lines = (tmp_path / "skip" / "edges.csv").read_text().splitlines()
    assert len(lines) == len(skip.edges) + 1
    assert {line.split(",")[0] for line in lines[1:]} == set(skip.edges)


def test_import_refuses_mismatches_and_corrupt_files(tmp_path):
    net = layered([2, 2, 1])
    path = tmp_path / "w.json"
    export_weights(net, "mse", "json", path)
    bigger = net.copy()
    extra = bigger.add_neuron("hidden").id
    bigger.connect("n1", extra)
    with pytest.raises(ExportError, match="has no weight for edge e7 \\(n1 -> n6\\)"):
        import_weights(bigger, path)
    doc = json.loads(path.read_text())
    first = doc["edges"][0]
    doc["edges"][0] = [first[0], first[1], "n9"]
    path.write_text(json.dumps(doc))
    with pytest.raises(ExportError, match=f"edge {first[0]} goes"):
        import_weights(net, path)
    doc = json.loads(path.read_text().replace('"n9"', f'"{first[2]}"'))
    doc["weights"][first[0]] = "heavy"
    path.write_text(json.dumps(doc))
    with pytest.raises(ExportError, match="must be numbers"):
        import_weights(net, path)
    for name, content in [("junk.npz", b"not a zip"), ("junk.json", b"{]"),
                          ("empty.npz", b"")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ExportError):
            import_weights(net, tmp_path / name)
    npz = tmp_path / "nan.npz"
    export_weights(net, "mse", "npz", npz)
    data = dict(np.load(npz))
    data[f"weight:{first[0]}"] = np.array(np.nan)
    np.savez(npz, **data)
    with pytest.raises(ExportError, match="not a finite number"):
        import_weights(net, npz)


def test_unknown_format_is_refused():
    assert set(FORMATS) == {"npz", "json", "csv", "onnx", "py"}
    with pytest.raises(ExportError, match="unknown format"):
        export_weights(layered([1, 1]), "mse", "xls", "out")


@pytest.mark.parametrize("path, chosen, fmt, conflict", [
    ("m.onnx", None, "onnx", None), ("M.PY", None, "py", None), ("dir/m.json", "json", "json", None),
    ("tables", None, "csv", None), ("m", "npz", "npz", None), ("m.bin", "npz", "npz", None),
    ("m.onnx", "npz", "onnx", "m.onnx names the onnx format but the chosen format is npz"),
    ("m.py", "csv", "py", "m.py names the py format but the chosen format is csv"),
])
def test_the_typed_extension_decides_the_format(path, chosen, fmt, conflict):
    from core.export.formats import choose_format
    choice = choose_format(path, chosen)
    assert (choice.fmt, choice.conflict) == (fmt, conflict)


@pytest.mark.parametrize("path, chosen, message", [
    ("", None, "the output name is empty"), ("", "npz", "the output name is empty"),
    ("m.txt", None, ".txt names no export format"), ("m.npz", "xls", "unknown format"),
])
def test_names_that_give_no_format_are_refused(path, chosen, message):
    from core.export.formats import choose_format
    with pytest.raises(ExportError, match=message):
        choose_format(path, chosen)


def test_the_npz_holds_what_np_savez_would_and_reads_back_exactly(tmp_path):
    """The archive is written member by member with one header per dtype (np.savez took
    3-6 s on a 51k-edge net): every member loads with np.load as the array np.save would
    have written, and importing gives every weight and bias bit for bit."""
    from core.export.weights_io import export_npz
    from core.initializers import initialize
    from core.safe_text import npz_key_part

    net = layered([30, 20, 5], hidden="tanh", output="identity")
    weights, biases = initialize(net, "xavier_uniform", 3, 0.0)[:2]
    net.set_values(weights, biases)
    path = tmp_path / "w.npz"
    export_npz(net, path)
    reference = {}
    for k, (rows, cols, w, b) in enumerate(layers(net), 1):
        reference.update({f"layer{k}.W": w, f"layer{k}.b": b})
    with np.load(path) as z:
        for e in net.edges.values():
            value = z[f"weight:{npz_key_part(e.id)}"]
            assert value.shape == () and value.dtype == np.float64 and value == e.weight
        for name, array in reference.items():
            assert z[name].dtype == array.dtype
            np.testing.assert_array_equal(z[name], array)
    got_w, got_b = import_weights(net, path)
    assert got_w == {e.id: e.weight for e in net.edges.values()}
    assert all(got_b[n] == net.neurons[n].bias for n in got_b)


@pytest.mark.parametrize("where", ["weight", "bias"])
def test_onnx_refuses_a_value_beyond_float32_in_one_line(tmp_path, where):
    """A weight of 1e308 became inf in the float32 model, which predicted NaN where the app
    predicts a number (found by a reviewer): refused, naming it; npz still writes it."""
    net = layered([2, 2, 1], hidden="tanh", output="sigmoid")
    if where == "weight":
        net.set_values({next(iter(net.edges)): 1e308}, {})
        name = f"weight {next(iter(net.edges))}"
    else:
        hidden = net.by_role("hidden")[0].id
        net.set_bias(hidden, -1e39)
        name = f"bias of {hidden}"
    with pytest.raises(ExportError, match=f"^m.onnx: {name} is .*beyond float32.s range"):
        export_weights(net, "bce", "onnx", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    export_weights(net, "bce", "npz", tmp_path / "m.npz")
    assert import_weights(net, tmp_path / "m.npz")[0] == {e.id: e.weight for e in net.edges.values()}
