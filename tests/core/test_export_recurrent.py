"""Recurrent nets going out: every format keeps the delays, the ONNX model (a Scan over the
steps) and the standalone .py predict at every step what the engine predicts, from raw inputs
through the standardisation and the input features, and weights come back in only onto the
same delays."""
import csv
import importlib.util
import io
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings, strategies as st

from core import cli
from core.data.dataset import make_dataset
from core.engine import compile_plan
from core.engine.recurrent import sequence_predict
from core.export.formats import ExportError, Preprocessing, export_weights, import_weights
from core.export.onnx_model import build_model
from core.features import FEATURE_KINDS, Feature, columns_needed
from core.losses import predictions
from core.project import Project, load_project, save_project
from core.settings import DataSettings
from core.training.trainer import inputs_of
from tests.core.strategies import build_dag, random_recurrent


def engine(net, loss, x, dtype=np.float64):
    """The app's predictions at every step of the net's inputs x (sequences x steps x inputs)."""
    plan = compile_plan(net)
    a = sequence_predict(plan, plan.pack(net, dtype), np.asarray(x, dtype))
    return predictions(loss, a.reshape(-1, a.shape[2])).reshape(a.shape)


def loss_for(net):
    return "softmax_ce" if len(net.outputs) > 1 else "mse"


@st.composite
def recurrent_exports(draw):
    """(net, loss, prep, raw width): a random recurrent net (several delayed edges, self-loops,
    skip edges, every activation), half the time with input features of 1-3 data columns,
    half the time with a standardisation far from centred."""
    net = draw(random_recurrent(max_delayed=6))
    width = len(net.inputs)
    if draw(st.booleans()):
        width = draw(st.integers(1, 3))
        for n in net.inputs:
            kind = draw(st.sampled_from(sorted(FEATURE_KINDS)))
            cols = st.integers(0, width - 1)
            net.set_feature(n.id, Feature(kind, tuple(draw(cols) for _ in
                                                      range(FEATURE_KINDS[kind].arity))))
    prep = Preprocessing()
    if draw(st.booleans()):
        prep = Preprocessing(tuple(draw(st.floats(-50, 50)) for _ in range(width)),
                             tuple(draw(st.floats(0.5, 20)) for _ in range(width)))
    # the model's raw width: the data's columns when the standardisation says how many, else
    # those the features read
    features = [n.feature for n in net.inputs]
    return net, loss_for(net), prep, prep.raw_width(columns_needed(features)) if any(features) \
        else width


def raw_sequences(prep, shape, seed=0):
    """Raw inputs that standardise to about N(0, 1) (so the net sees moderate values)."""
    z = np.random.default_rng(seed).normal(size=shape)
    return z if prep.mean is None else z * np.array(prep.std) + np.array(prep.mean)


def app_view(net, prep, x_raw):
    """The net's inputs as the app computes them: standardised columns, then the features."""
    return inputs_of(compile_plan(net), prep.apply(x_raw))


@settings(max_examples=40, deadline=None)
@given(recurrent_exports())
def test_onnx_runs_in_onnxruntime_like_the_engine_at_every_step(export):
    net, loss, prep, width = export
    model = build_model(net, loss, prep)  # (onnx.checker runs inside)
    x = raw_sequences(prep, (3, 7, width))
    got = ort.InferenceSession(model.SerializeToString()).run(
        None, {"x": x.astype(np.float32)})[0]
    # The model holds its numbers in float32, the standardisation's too (a mean of 43.1 is
    # 2e-6 off, 4e-6 once divided by a deviation of 0.5: the end-to-end tests below allow for
    # it); here the reference takes the same constants, to hold the graph itself to 1e-6.
    held = prep if prep.mean is None else Preprocessing(
        tuple(np.float32(prep.mean).astype(float)), tuple(np.float32(prep.std).astype(float)))
    inputs = app_view(net, held, x.astype(np.float32).astype(np.float64))
    assert got.shape == (3, 7, len(net.outputs))
    # float32 against the engine in float32 (the same arithmetic, another order of sums) ...
    np.testing.assert_allclose(got, engine(net, loss, inputs, np.float32), atol=1e-6, rtol=1e-6)
    # ... and no further from the float64 engine than float32 rounding allows
    np.testing.assert_allclose(got, engine(net, loss, inputs), atol=1e-5, rtol=1e-5)


def test_the_onnx_model_says_its_layout_and_scans_over_axis_1():
    net = elman()
    model = build_model(net, "mse")
    onnx.checker.check_model(model, full_check=True)
    assert "[batch, steps, inputs]" in model.doc_string and "no mask" in model.doc_string
    scan = [n for n in model.graph.node if n.op_type == "Scan"]
    assert len(scan) == 1
    axes = {a.name: list(a.ints) for a in scan[0].attribute if a.ints}
    assert axes == {"scan_input_axes": [1], "scan_output_axes": [1]}
    # one batch of 2 sequences equals each sequence alone: the state starts at zero for each
    x = np.random.default_rng(3).normal(size=(2, 5, 1)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString())
    both = session.run(None, {"x": x})[0]
    for k in range(2):
        np.testing.assert_array_equal(session.run(None, {"x": x[k: k + 1]})[0][0], both[k])


def test_a_feed_forward_onnx_model_has_no_scan_and_no_sequence_doc():
    model = build_model(build_dag(2, 3, 5, 2), "softmax_ce")
    assert model.doc_string == "" and not any(n.op_type == "Scan" for n in model.graph.node)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3]


def elman(n_hidden=3, seed=0, activation="tanh"):
    """1-n-1 with a delayed edge from each hidden neuron to each (self-loops included) and the
    output fed back to the first hidden neuron (a Jordan edge too)."""
    from core.templates import layered
    net = layered([1, n_hidden, 1], hidden=activation, output="identity")
    rng = np.random.default_rng(seed)
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    for s in hidden:
        for t in hidden:
            net.connect(s, t, float(rng.normal(0, 0.5)), delay=1)
    net.connect(net.outputs[0].id, hidden[0], 0.3, delay=1)
    net.set_values({e: float(rng.normal()) for e in net.edges if not net.edges[e].delay},
                   {n.id: float(rng.normal(0, 0.3)) for n in net.neurons.values()
                    if n.role != "input"})
    return net


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=20, deadline=None)
@given(recurrent_exports())
def test_the_python_file_steps_through_sequences_like_the_engine(tmp_path_factory, export):
    net, loss, prep, width = export
    path = tmp_path_factory.mktemp("py") / "model.py"
    export_weights(net, loss, "py", path, prep)
    module = load_module(path)
    x = raw_sequences(prep, (3, 6, width), seed=1)
    want = engine(net, loss, app_view(net, prep, x))
    np.testing.assert_allclose(module.predict(x), want, atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(module.predict(x[1]), want[1], atol=1e-10, rtol=1e-10)
    # the one-step function with the state passed by hand gives the same steps
    state = module.initial_state(3)
    for t in range(6):
        y, state = module.step(x[:, t], state)
        np.testing.assert_allclose(y, want[:, t], atol=1e-10, rtol=1e-10)
    assert "import core" not in path.read_text() and "from core" not in path.read_text()


def test_the_state_is_what_the_delayed_edges_read(tmp_path):
    """Stopping after 3 steps and going on from the state it left is the 6-step sequence."""
    net = elman(seed=4)
    export_weights(net, "mse", "py", tmp_path / "m.py")
    module = load_module(tmp_path / "m.py")
    assert sorted(module.STATE) == sorted(n.name for n in net.neurons.values()
                                          if n.role != "input")
    x = np.random.default_rng(5).normal(size=(4, 6, 1))
    state = None
    for t in range(3):
        _, state = module.step(x[:, t], state)
    later = []
    for t in range(3, 6):
        y, state = module.step(x[:, t], state)
        later.append(y)
    np.testing.assert_allclose(np.stack(later, 1), engine(net, "mse", x)[:, 3:], atol=1e-12)


def test_the_python_file_on_the_command_line_reads_sequences_split_by_blank_lines(tmp_path):
    net = elman(seed=2)
    prep = Preprocessing((10.0,), (4.0,))
    path = tmp_path / "rnn.py"
    export_weights(net, "mse", "py", path, prep)
    a, b = raw_sequences(prep, (4, 1), 6), raw_sequences(prep, (2, 1), 7)
    text = "\n".join(repr(float(v)) for v in a[:, 0]) + "\n\n" + \
        "\n".join(repr(float(v)) for v in b[:, 0]) + "\n"
    proc = subprocess.run([sys.executable, str(path)], input=text, capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.split("\n\n")
    for block, x in ((first, a), (second, b)):
        got = np.array([[float(v) for v in line.split()] for line in block.splitlines()])
        np.testing.assert_allclose(got, engine(net, "mse", prep.apply(x)[None])[0], atol=1e-12)
    bad = subprocess.run([sys.executable, str(path)], input="1 2\n", capture_output=True,
                         text=True, cwd=tmp_path, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "every row needs 1" in bad.stderr


@pytest.fixture
def sequence_csv(tmp_path):
    """Sequences of 5 steps whose two columns sit near 40 and -3, read with and without the
    standardisation (the app's data path), for an Elman-like 2-3-1 net."""
    rng = np.random.default_rng(8)
    rows = ["run,a,b,y"]
    for k in range(12):
        for _ in range(5):
            rows.append(f"s{k},{40 + 9 * rng.normal()!r},{-3 + 0.2 * rng.normal()!r},"
                        f"{rng.normal()!r}")
    (tmp_path / "seq.csv").write_text("\n".join(rows) + "\n")

    def data(standardize):
        return make_dataset(DataSettings(
            source="csv", csv_path="seq.csv", input_columns=["a", "b"], target_columns=["y"],
            task="regression", standardize=standardize, test_fraction=0.25, seed=1,
            sequence_column="run"), tmp_path)
    return data(True), data(False)


@pytest.mark.parametrize("fmt", ["onnx", "py"])
def test_models_take_raw_sequences_and_predict_what_the_app_predicts(sequence_csv, tmp_path,
                                                                      fmt):
    std_data, raw_data = sequence_csv
    net = elman(seed=9)
    net.add_neuron("input")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    net.connect(net.inputs[1].id, hidden[1], 0.7)
    net.connect(net.inputs[1].id, hidden[2], -0.4, delay=1)  # an input read a step late
    prep = Preprocessing.from_dataset(std_data)
    path = tmp_path / f"m.{fmt}"
    export_weights(net, "mse", fmt, path, prep)
    want = engine(net, "mse", std_data.x_test)  # what the app shows for the test sequences
    if fmt == "onnx":
        got = ort.InferenceSession(str(path)).run(
            None, {"x": raw_data.x_test.astype(np.float32)})[0]
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
    else:
        np.testing.assert_allclose(load_module(path).predict(raw_data.x_test), want, atol=1e-10)


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_weights_round_trip_with_their_delays(tmp_path, fmt):
    net = elman(seed=1)
    path = tmp_path / f"w.{fmt}"
    export_weights(net, "mse", fmt, path)
    other = net.copy()
    other.set_values({e: 0.0 for e in other.edges}, {n: 0.0 for n in other.neurons})
    weights, biases = import_weights(other, path)
    other.set_values(weights, biases)
    assert other.same_as(net)


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_weights_onto_other_delays_are_refused_in_one_line(tmp_path, fmt):
    net = elman(seed=1)
    path = tmp_path / f"w.{fmt}"
    export_weights(net, "mse", fmt, path)
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    across = net.find_edge(hidden[0], hidden[1])  # delayed in the file
    instant = net.copy()
    instant.set_edge_delay(across.id, 0)
    with pytest.raises(ExportError) as exc:
        import_weights(instant, path)
    message = str(exc.value)
    assert across.id in message and "has no delay in the network but has a delay of 1 step " \
        "in the file" in message and "\n" not in message
    # a feed-forward net's file onto the same edges with one of them delayed here
    plain = build_dag(0, 2, 3, 1)
    export_weights(plain, "mse", fmt, tmp_path / f"ff.{fmt}")
    looped = plain.copy()
    edge = next(iter(looped.edges.values()))
    looped.set_edge_delay(edge.id, 1)
    with pytest.raises(ExportError) as exc:
        import_weights(looped, tmp_path / f"ff.{fmt}")
    message = str(exc.value)
    assert edge.id in message and "delayed by 1 step in the network but has no delay in the " \
        "file" in message and "\n" not in message
    # and a delay for an edge the network does not have
    fewer = net.copy()
    fewer.disconnect(across.id)
    with pytest.raises(ExportError, match="edge"):
        import_weights(fewer, path)


def test_feed_forward_weight_files_hold_no_delays(tmp_path):
    net = build_dag(1, 2, 4, 2)
    export_weights(net, "mse", "npz", tmp_path / "w.npz")
    export_weights(net, "mse", "json", tmp_path / "w.json")
    export_weights(net, "mse", "csv", tmp_path / "csv")
    with np.load(tmp_path / "w.npz") as npz:
        assert not any(k.startswith("delay:") for k in npz.files)
    assert '"delays"' not in (tmp_path / "w.json").read_text()
    assert "delay" not in (tmp_path / "csv" / "edges.csv").read_text().splitlines()[0]


def test_recurrent_npz_json_and_csv_say_each_edges_delay(tmp_path):
    net = elman(seed=3)
    delayed = {e.id for e in net.edges.values() if e.delay}
    export_weights(net, "mse", "npz", tmp_path / "w.npz")
    export_weights(net, "mse", "json", tmp_path / "w.json")
    export_weights(net, "mse", "csv", tmp_path / "csv")
    with np.load(tmp_path / "w.npz") as npz:
        assert {k.removeprefix("delay:") for k in npz.files if k.startswith("delay:")} == delayed
        assert all(int(npz[f"delay:{e}"]) == 1 for e in delayed)
        assert not any(k.startswith("layer") for k in npz.files)  # no table can say it
    doc = json.loads((tmp_path / "w.json").read_text())
    assert doc["delays"] == {e: 1 for e in delayed} and "layers" not in doc
    rows = list(csv.DictReader((tmp_path / "csv" / "edges.csv").open()))
    assert {r["id"]: int(r["delay"]) for r in rows} == {e.id: e.delay for e in net.edges.values()}
    assert {r["id"]: float(r["weight"]) for r in rows} == {e.id: e.weight
                                                          for e in net.edges.values()}


def test_the_export_command_writes_a_recurrent_project_with_its_standardisation(tmp_path):
    settings = DataSettings(generator="sine_next", samples=12, sequence_length=9,
                            standardize=True, seed=3, noise=0.1)
    project = tmp_path / "sine.json"
    save_project(Project(elman(seed=6), data=settings), project)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["export", str(project), "-o", str(tmp_path / "m.onnx")], out, err) == 0, \
        err.getvalue()
    app = make_dataset(settings, tmp_path)
    raw = make_dataset(replace(settings, standardize=False), tmp_path)
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(
        None, {"x": raw.x_train.astype(np.float32)})[0]
    np.testing.assert_allclose(got, engine(load_project(project).network, "mse", app.x_train),
                               atol=2e-5, rtol=1e-5)
    assert not np.allclose(raw.x_train, app.x_train)  # the standardisation did something
    for fmt in ("npz", "json", "csv", "py"):
        target = tmp_path / ("w" + ("" if fmt == "csv" else f".{fmt}"))
        assert cli.main(["export", str(project), "-o", str(target)], out, err) == 0, \
            err.getvalue()


def test_a_delay_for_an_edge_the_network_lacks_is_refused(tmp_path):
    net = elman(seed=1)
    export_weights(net, "mse", "json", tmp_path / "w.json")
    doc = json.loads((tmp_path / "w.json").read_text())
    doc["delays"]["ghost"] = 1
    (tmp_path / "w.json").write_text(json.dumps(doc))
    with pytest.raises(ExportError, match="delay for edge ghost, which the network does not"):
        import_weights(net, tmp_path / "w.json")


def test_hostile_ids_and_labels_on_delayed_edges_through_every_format(tmp_path):
    """The hostile corpus's net with delayed edges whose ids are hostile too: the .py is pure
    ASCII and runs, npz and JSON come back with their delays, CSV cells stay text."""
    import ast

    from tests.core.test_export_hostile import HOSTILE, PREP, TITLE, hostile_network
    net = hostile_network()
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    out = net.outputs[0].id
    for k, (s, t) in enumerate([(hidden[0], hidden[0]), (hidden[1], hidden[2]), (out, hidden[1])]):
        net.connect(s, t, 0.4 - 0.3 * k, id=(HOSTILE[k] + f"~d{k}")[-200:], delay=1)
    path = tmp_path / "m.py"
    export_weights(net, "softmax_ce", "py", path, PREP, TITLE)
    tree = ast.parse(path.read_text(encoding="ascii"))
    consts = {t.targets[0].id: ast.literal_eval(t.value) for t in tree.body
              if isinstance(t, ast.Assign) and isinstance(t.targets[0], ast.Name)}
    assert consts["STATE"] == [net.neurons[n].name for n in compile_plan(net).order
                               if n in (hidden[0], hidden[1], out)]  # the delayed sources
    x = np.array([[95.0, -3.2], [130.0, -2.0], [101.0, -2.9]])
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          input="\n".join(" ".join(map(repr, r)) for r in x.tolist()),
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = np.array([[float(v) for v in line.split()[:3]] for line in proc.stdout.splitlines()])
    np.testing.assert_allclose(got, engine(net, "softmax_ce", PREP.apply(x)[None])[0], atol=1e-9)
    assert not (tmp_path / "PWNED").exists()
    for fmt in ("npz", "json"):
        export_weights(net, "softmax_ce", fmt, tmp_path / f"w.{fmt}", PREP, TITLE)
        zeroed = net.copy()
        zeroed.set_values({e: 0.0 for e in zeroed.edges}, {})
        weights, biases = import_weights(zeroed, tmp_path / f"w.{fmt}")
        zeroed.set_values(weights, biases)
        assert zeroed.same_as(net)
    export_weights(net, "softmax_ce", "csv", tmp_path / "csv", PREP, TITLE)
    rows = list(csv.reader((tmp_path / "csv" / "edges.csv").open(newline="")))
    assert rows[0][-1] == "delay" and sum(r[-1] == "1" for r in rows[1:]) == 3
    assert not any(cell[:1] in "=+-@" for r in rows[1:] for cell in r[:3] if cell)
