"""The proof that an activation or a loss is one registry entry: tests/registry_extras.py adds
swish and log-cosh at test time, and every part of the app works with them. Each check is
against an independent computation (finite differences, the engine, the exports run)."""
import numpy as np
import onnxruntime as ort
import pytest

from core.data.dataset import Dataset
from core.engine import check_loss, compile_plan, loss_and_gradients, predict
from core.export.onnx_model import build_model
from core.export.python_module import python_source
from core.gradcheck import check_network
from core.initializers import initialize
from core.losses import predictions
from core.network import Network
from core.project import Project, ProjectError, dumps_project, loads_project
from core.settings import SettingsError, TrainingSettings
from core.stepthrough import target_meaning, walkthrough
from core.surface import exact_plane, grid_losses, loss_at
from core.training.trainer import Trainer
from tests.registry_extras import LOG_COSH, SWISH, added_entries

LOSS = LOG_COSH.name


@pytest.fixture
def extended():
    with added_entries():
        yield


def swish_net(seed: int = 0) -> Network:
    """2 inputs, 3 swish hidden neurons, a swish and an identity output, one skip edge."""
    net = Network()
    ins = [net.add_neuron("input").id for _ in range(2)]
    hidden = [net.add_neuron("hidden", SWISH.name).id for _ in range(3)]
    outs = [net.add_neuron("output", SWISH.name).id, net.add_neuron("output", "identity").id]
    net.connect_many([(s, t) for t in hidden for s in ins] +
                     [(s, t) for t in outs for s in hidden] + [(ins[0], outs[1])])
    net.set_values(*initialize(net, "normal", seed))
    return net


def batch(n: int = 12, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng.normal(size=(n, 2))


def app_predictions(net: Network, x: np.ndarray) -> np.ndarray:
    plan = compile_plan(net)
    return predictions(LOSS, predict(plan, plan.pack(net), x))


def test_the_file_saves_and_opens_the_new_activation_and_loss(extended):
    project = Project(swish_net(), training=TrainingSettings(loss=LOSS))
    again = loads_project(dumps_project(project))
    assert again.network.to_dict() == project.network.to_dict()
    assert again.training.loss == LOSS
    assert TrainingSettings.from_dict({"loss": LOSS}).loss == LOSS


def test_without_the_entries_the_file_and_settings_refuse_them():
    with added_entries():
        text = dumps_project(Project(swish_net(), training=TrainingSettings(loss=LOSS)))
    with pytest.raises(ProjectError, match="activation"):
        loads_project(text)
    with pytest.raises(SettingsError, match="log_cosh"):
        TrainingSettings.from_dict({"loss": LOSS})


@pytest.mark.parametrize("loss", [LOSS, "mse"])
def test_backprop_matches_finite_differences(extended, loss):
    net = swish_net()
    x, y = batch()
    assert check_loss(compile_plan(net), net, loss) is None
    assert check_network(net, x, y, loss).max_relative_error < 1e-6


def test_the_layered_fast_path_agrees_with_finite_differences(extended):
    from core.templates import layered
    net = layered([2, 4, 4, 2], hidden=SWISH.name, output=SWISH.name)
    net.set_values(*initialize(net, "normal", 3))
    x, y = batch()
    assert check_network(net, x, y, LOSS).max_relative_error < 1e-6


def test_training_lowers_the_new_loss(extended):
    x, y = batch(40)
    data = Dataset(x[:30], y[:30], x[30:], y[30:], "regression", ["x1", "x2"], ["t1", "t2"])
    net = swish_net()
    trainer = Trainer(net, data, TrainingSettings(loss=LOSS, optimizer="sgd", learning_rate=0.1,
                                                  batch_size=0))
    before = trainer.evaluate().train_loss
    plan = compile_plan(net)
    assert before == pytest.approx(loss_and_gradients(plan, plan.pack(net), x[:30], y[:30],
                                                      LOSS)[0])
    for _ in range(30):
        trainer.step()
    assert trainer.evaluate().train_loss < before
    assert trainer.neuron_health() == {}  # swish brings no health check: none is made up


def test_surface_grid_equals_the_engine_loss(extended):
    net = swish_net()
    x, y = batch()
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    plane = exact_plane(plan, theta, 0, plan.n_parameters - 1)
    alphas, betas = np.linspace(-1, 1, 4), np.linspace(-0.5, 1.5, 3)
    z = grid_losses(plan, plane, alphas, betas, x, y, LOSS, chunk=5)
    for j, b in enumerate(betas):
        for i, a in enumerate(alphas):
            point = plane.point(a, b)
            engine = loss_and_gradients(plan, plan.unflatten(point), x, y, LOSS)[0]
            assert z[j, i] == pytest.approx(engine, rel=1e-12)
            assert loss_at(plan, point, x, y, LOSS) == pytest.approx(engine, rel=1e-12)


def test_step_through_explains_with_the_entries_own_texts(extended):
    net = swish_net()
    x, y = batch(1)
    w = walkthrough(net, x[0], y[0], LOSS, 0.1)
    plan = compile_plan(net)
    value, grads = loss_and_gradients(plan, plan.pack(net), x, y, LOSS)
    assert w.loss == pytest.approx(value, rel=1e-12)
    swish_forward = [e for e in w.events if e.phase == "forward"
                     and net.neurons[e.neurons[0]].activation == SWISH.name]
    assert len(swish_forward) == 4
    assert all("σ + a(1 - σ)" in e.lines[-1] for e in swish_forward)
    loss_event = next(e for e in w.events if e.phase == "loss")
    assert loss_event.rule.startswith("Log-cosh") and loss_event.values["loss"] == w.loss
    for e in (e for e in w.events if e.phase == "output"):
        i = [n.id for n in net.outputs].index(e.neurons[0])
        assert e.values["dL/da"] == pytest.approx(np.tanh(e.values["a"] - y[0, i]) / 2)
        assert e.values["delta"] == pytest.approx(e.values["f'"] * e.values["dL/da"])
    new_w, new_b = w.update.new
    for eid, g in zip(plan.edge_ids, plan.edge_vector(grads.weights)):
        assert new_w[eid] == pytest.approx(net.edges[eid].weight - 0.1 * g, abs=1e-12)
    assert target_meaning(LOSS) == LOG_COSH.targets


def test_onnx_export_runs_in_onnxruntime_like_the_app(extended):
    net = swish_net()
    x = batch(9)[0]
    model = build_model(net, LOSS)
    assert "Mul" in {node.op_type for node in model.graph.node}
    got = ort.InferenceSession(model.SerializeToString()).run(
        None, {"x": x.astype(np.float32)})[0]
    np.testing.assert_allclose(got, app_predictions(net, x), atol=1e-5, rtol=1e-5)


def test_python_export_predicts_like_the_app(extended):
    net = swish_net()
    x = batch(9)[0]
    module: dict = {"__name__": "exported"}
    exec(compile(python_source(net, LOSS), "predict.py", "exec"), module)
    np.testing.assert_allclose(module["predict"](x), app_predictions(net, x), rtol=1e-12,
                               atol=1e-12)


def test_an_output_transform_reaches_both_exports(extended):
    """A loss whose prediction is not the raw output (softmax_ce) is exported the same way."""
    net = swish_net()
    x = batch(9)[0]
    plan = compile_plan(net)
    want = predictions("softmax_ce", predict(plan, plan.pack(net), x))
    module: dict = {"__name__": "exported"}
    exec(compile(python_source(net, "softmax_ce"), "predict.py", "exec"), module)
    np.testing.assert_allclose(module["predict"](x), want, rtol=1e-12, atol=1e-12)
    got = ort.InferenceSession(build_model(net, "softmax_ce").SerializeToString()).run(
        None, {"x": x.astype(np.float32)})[0]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
