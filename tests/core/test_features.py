"""Derived input features (issue 18): each equals its formula, every data path computes them
the same way (compared with a net fed the precomputed columns as plain inputs), files keep
them, the exports take raw columns, and the circles template needs no hidden layer."""
import importlib.util
import io
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from core import surface
from core.cli import main as cli_main
from core.data.dataset import make_dataset
from core.edits import SetValue
from core.engine import compile_plan, forward, loss_and_gradients, predict
from core.errors import NetworkError, ProjectError, TrainingError
from core.export.formats import Preprocessing, export_weights
from core.features import (FEATURE_KINDS, PLAYGROUND, Feature, choices, column_mismatch,
                           columns_needed, input_matrix)
from core.gradcheck import gradient_check
from core.network import Network
from core.project import Project, dumps_project, load_project, loads_project, save_project
from core.settings import DataSettings, TrainingSettings
from core.stepthrough import walkthrough
from core.templates import circles_features, xor
from core.training.trainer import Trainer, data_mismatch

RNG = np.random.default_rng(7)
X = RNG.uniform(-3, 3, size=(50, 3))

# Each feature by its formula, written out independently of the registry.
FORMULAS = {
    Feature("column", (1,)): X[:, 1],
    Feature("square", (0,)): X[:, 0] ** 2,
    Feature("product", (0, 2)): X[:, 0] * X[:, 2],
    Feature("sin", (2,)): np.sin(X[:, 2]),
    Feature("cos", (1,)): np.cos(X[:, 1]),
}


@pytest.mark.parametrize("feature", FORMULAS, ids=lambda f: f.label)
def test_each_feature_equals_its_formula(feature):
    assert np.allclose(feature.compute(X), FORMULAS[feature], rtol=0, atol=1e-15)
    assert np.allclose(input_matrix([feature], X)[:, 0], FORMULAS[feature], rtol=0, atol=1e-15)


def test_every_kind_is_tested_and_labelled_as_tf_playground_does():
    assert {f.kind for f in FORMULAS} == set(FEATURE_KINDS)
    assert [f.label for f in PLAYGROUND] == ["x1", "x2", "x1²", "x2²", "x1·x2", "sin x1",
                                             "sin x2"]
    assert Feature("cos", (0,)).label == "cos x1"
    assert {f.label for f in choices(2)} >= {f.label for f in PLAYGROUND}


def test_inputs_without_features_take_their_own_column_at_no_cost():
    assert input_matrix([None, None, None], X) is X
    mixed = input_matrix([Feature("square", (0,)), None], X)  # None: the column in its place
    assert np.array_equal(mixed, np.stack([X[:, 0] ** 2, X[:, 1]], 1))
    assert columns_needed([None, None]) == 2
    assert columns_needed([Feature("product", (0, 2))]) == 3


def test_refusals_say_what_is_wrong_in_one_line():
    with pytest.raises(NetworkError, match="reads 1 column"):
        Feature("square", (0, 1))
    with pytest.raises(NetworkError, match="unknown feature 'cube'"):
        Feature("cube", (0,))
    with pytest.raises(NetworkError, match="whole numbers"):
        Feature("sin", (-1,))
    assert column_mismatch([Feature("square", (2,))], 2) == (
        "the input feature x3² reads column x3, but the data has 2 input column(s)")
    assert column_mismatch([None, None], 3) is not None  # without features: counts, as always


def _feature_net(features) -> Network:
    """Inputs with `features`, a small hidden layer and one sigmoid output; fixed weights."""
    net = Network()
    ins = [net.add_neuron("input", feature=f).id for f in features]
    hid = [net.add_neuron("hidden", "tanh").id for _ in range(3)]
    out = net.add_neuron("output", "sigmoid").id
    rng = np.random.default_rng(1)
    net.connect_many([(i, h) for h in hid for i in ins] + [(h, out) for h in hid],
                     list(rng.normal(size=len(ins) * 3 + 3)))
    for h in hid:
        net.set_bias(h, float(rng.normal()))
    return net


def _plain_twin(net: Network) -> Network:
    """The same net with every feature removed: fed precomputed columns, it must agree."""
    twin = net.copy()
    for n in twin.inputs:
        twin.set_feature(n.id, None)
    return twin


FEATURES = [Feature("square", (0,)), Feature("square", (1,)), Feature("product", (0, 1)),
            Feature("sin", (0,)), Feature("cos", (1,)), Feature("column", (1,))]


def _precomputed(x):
    """The features by hand, as plain columns."""
    return np.stack([x[:, 0] ** 2, x[:, 1] ** 2, x[:, 0] * x[:, 1], np.sin(x[:, 0]),
                     np.cos(x[:, 1]), x[:, 1]], 1)


def _data(**kw):
    return make_dataset(DataSettings(generator="circles", samples=120, noise=0.05, **kw))


def test_training_uses_the_features_as_precomputed_plain_inputs():
    data = _data(standardize=True)
    plain = replace(data, x_train=_precomputed(data.x_train), x_test=_precomputed(data.x_test))
    settings = TrainingSettings(loss="bce", optimizer="adam", learning_rate=0.05, batch_size=16,
                                epochs=5, seed=4)
    a, b = _feature_net(FEATURES), _plain_twin(_feature_net(FEATURES))
    ta, tb = Trainer(a, data, settings), Trainer(b, plain, settings)
    ea, eb = ta.run(), tb.run()
    assert np.allclose(ta.plan.flatten(ta.params), tb.plan.flatten(tb.params), atol=1e-12)
    assert ea.train_loss == pytest.approx(eb.train_loss, abs=1e-12)
    assert ea.test_accuracy == eb.test_accuracy
    assert ta.neuron_health().keys() == tb.neuron_health().keys()


def test_surface_and_gradient_check_use_the_features():
    data = _data()
    net, twin = _feature_net(FEATURES), _plain_twin(_feature_net(FEATURES))
    plan, plain = compile_plan(net), compile_plan(twin)
    x, y = surface.training_sample(plan, data.x_train, data.y_train)
    assert np.array_equal(x, _precomputed(data.x_train))
    theta = plan.flatten(plan.pack(net))
    assert surface.loss_at(plan, theta, x, y, "bce") == pytest.approx(
        surface.loss_at(plain, theta, _precomputed(data.x_train), y, "bce"), abs=1e-14)
    result = gradient_check(plan, plan.pack(net), plan.inputs_from(data.x_train[:20]),
                            data.y_train[:20], "bce")
    assert result.max_relative_error < 1e-6, result.worst_parameter


def test_step_through_takes_the_sample_columns_and_shows_each_feature():
    net, twin = _feature_net(FEATURES), _plain_twin(_feature_net(FEATURES))
    x, t = np.array([0.5, -2.0]), np.array([1.0])
    walk = walkthrough(net, x, t, "bce", 0.1)
    plain = walkthrough(twin, _precomputed(x[None])[0], t, "bce", 0.1)
    assert walk.loss == plain.loss
    assert walk.edge_gradients == plain.edge_gradients
    lines = walk.events[0].lines
    assert lines[0] == "x1 = 0.5, x2 = -2"
    assert "a(x1²) = x1² = 0.5² = 0.25" in lines
    assert "a(x1·x2) = x1·x2 = 0.5·(-2) = -1" in lines
    assert any(line.startswith("a(sin x1) = sin x1 = sin 0.5 = ") for line in lines)


def test_files_keep_features_and_old_files_open_as_before(tmp_path):
    project = circles_features()
    project.network.set_feature(project.network.inputs[0].id, Feature("product", (0, 1)))
    path = tmp_path / "f.json"
    save_project(project, path)
    again = load_project(path)
    assert again.same_as(project)
    assert [n.feature for n in again.network.inputs] == [Feature("product", (0, 1)),
                                                         Feature("square", (1,))]
    assert json.loads(path.read_text())["neurons"][0]["feature"] == {"kind": "product",
                                                                     "columns": [0, 1]}
    old = xor()
    assert "feature" not in dumps_project(old)  # a file without features: byte for byte as before
    assert loads_project(dumps_project(old)).same_as(old)


def test_an_undoable_feature_edit_recompiles_the_plan():
    net = xor().network
    nid = net.inputs[0].id
    before = compile_plan(net)
    edit = SetValue("feature", nid, None, Feature("sin", (1,)))
    edit.apply(net)
    assert compile_plan(net).features[0] == Feature("sin", (1,))
    assert net.structure_version > before.structure_version
    edit.revert(net)
    assert net.same_as(xor().network)


@pytest.mark.parametrize("bad, message", [
    ({"kind": "square", "columns": [5]}, "reads column x6, but the data has 2 input column"),
    ({"kind": "cube", "columns": [0]}, "must be one of"),
    ({"kind": "product", "columns": [0]}, "reads 2 column"),
    ({"kind": "sin", "columns": [-1]}, "at least 0"),
    ({"kind": "sin"}, "has no 'columns'"),
])
def test_a_bad_feature_is_refused_on_open_in_one_line(bad, message):
    doc = circles_features().to_dict()
    doc["neurons"][0]["feature"] = bad
    with pytest.raises(ProjectError, match=message) as err:
        loads_project(json.dumps(doc), "bad.json")
    assert "\n" not in str(err.value) and str(err.value).startswith("bad.json: ")


def test_the_cli_refuses_a_missing_column_with_exit_2(tmp_path):
    doc = circles_features().to_dict()
    doc["data"].update(source="csv", csv_path="one.csv", input_columns=["a"],
                       target_columns=["y"])  # one column; the template reads two
    (tmp_path / "one.csv").write_text("a,y\n" + "".join(f"{i / 10},{i % 2}\n" for i in range(20)))
    (tmp_path / "p.json").write_text(json.dumps(doc))
    doc["data"] = circles_features().data.to_dict()
    doc["neurons"][1]["feature"] = {"kind": "sin", "columns": [4]}
    (tmp_path / "q.json").write_text(json.dumps(doc))
    for command, name, column in (("train", "p.json", "x2"), ("gradcheck", "p.json", "x2"),
                                  ("export", "q.json", "x5")):
        err = io.StringIO()
        extra = ["-o", str(tmp_path / "m.onnx")] if command == "export" else []
        assert cli_main([command, str(tmp_path / name), *extra], io.StringIO(), err) == 2
        text = err.getvalue()
        assert text.count("\n") == 1 and "Traceback" not in text
        assert f"reads column {column}, but the data has" in text


def test_training_refuses_data_without_the_columns_a_feature_reads():
    net = circles_features().network
    data = make_dataset(DataSettings(generator="sine", samples=20))  # one column
    with pytest.raises(TrainingError, match="reads column x2, but the data has 1 input"):
        Trainer(net, data, TrainingSettings())


def test_data_mismatch_counts_columns_read_not_inputs():
    data = _data()
    plan = compile_plan(_feature_net(FEATURES))  # six inputs from two columns
    assert data_mismatch(plan, data) is None
    assert "2 input(s)" in data_mismatch(compile_plan(_plain_twin(_feature_net(FEATURES))), data)


def _app_predictions(net, data, raw):
    plan = compile_plan(net)
    return predict(plan, plan.pack(net), plan.inputs_from(data.standardize(raw)))


@pytest.mark.parametrize("standardize", [False, True])
def test_exports_take_raw_columns_and_match_the_app(tmp_path, standardize):
    import onnxruntime as ort

    data = _data(standardize=standardize)
    net = _feature_net(FEATURES)
    prep = Preprocessing.from_dataset(data)
    raw = np.random.default_rng(3).uniform(-1.2, 1.2, size=(40, 2))
    app = _app_predictions(net, data, raw)
    export_weights(net, "bce", "onnx", tmp_path / "m.onnx", prep)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    assert session.get_inputs()[0].shape == ["batch", 2]  # the raw columns, not six inputs
    onnx_out = session.run(None, {"x": raw.astype(np.float32)})[0]
    assert np.allclose(onnx_out, app, atol=1e-5)
    export_weights(net, "bce", "py", tmp_path / "m.py", prep)
    spec = importlib.util.spec_from_file_location("exported", tmp_path / "m.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.INPUTS == ["x1", "x2"]
    assert np.allclose(module.predict(raw), app, atol=1e-12)
    line = subprocess.run([sys.executable, str(tmp_path / "m.py"), *map(str, raw[0])],
                          capture_output=True, text=True, check=True).stdout.split()
    assert float(line[0]) == pytest.approx(app[0, 0], abs=1e-12)


def test_exports_without_features_are_unchanged_in_shape(tmp_path):
    import onnxruntime as ort

    net = xor().network
    export_weights(net, "mse", "onnx", tmp_path / "x.onnx")
    assert ort.InferenceSession(str(tmp_path / "x.onnx")).get_inputs()[0].shape == ["batch", 2]


def test_the_circles_template_separates_circles_with_no_hidden_layer():
    project = circles_features()
    net = project.network
    assert not net.by_role("hidden")
    assert [n.name for n in net.inputs] == ["x1²", "x2²"]
    data = make_dataset(project.data)
    result = Trainer(net, data, project.training).run()
    assert result.train_accuracy == 1.0 and result.test_accuracy == 1.0
    assert result.train_loss <= project.goal["loss"]
    assert Project.from_dict(project.to_dict()).same_as(project)


def test_a_forward_pass_on_the_data_panel_plane_uses_the_features():
    net = _feature_net(FEATURES)
    plan = compile_plan(net)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5)), -1).reshape(-1, 2)
    twin = compile_plan(_plain_twin(net))
    a = forward(plan, plan.pack(net), plan.inputs_from(grid)).a
    b = forward(twin, twin.pack(_plain_twin(net)), _precomputed(grid)).a
    assert np.array_equal(a, b)
    loss, _ = loss_and_gradients(plan, plan.pack(net), plan.inputs_from(grid),
                                 np.ones((25, 1)), "bce")
    assert np.isfinite(loss)


def test_choices_without_products_are_the_same_list_less_the_products():
    full = choices(5)
    assert choices(5, products=False) == [f for f in full if f.kind != "product"]
    assert len(choices(784, products=False)) == 4 * 784  # 306,936 products never made
