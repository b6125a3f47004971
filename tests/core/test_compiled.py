"""The compiled path (core.engine.compiled, Trainer.advance) held to the NumPy path step for
step, and its gradients to finite differences: every activation, loss and optimiser of the
registries, L1/L2, max-norm, clipping, decay, frozen items, skip connections, divergence.
Float64; the two paths sum in different orders, so agreement is to ~1e-12, not bit for bit."""
from dataclasses import replace

import numpy as np
import pytest

from core.activations import ACTIVATIONS
from core.data.dataset import make_dataset
from core.engine import compiled
from core.initializers import initialize
from core.losses import LOSSES
from core.network import Network
from core.optimizers import OPTIMIZER_CLASSES
from core.settings import DataSettings, TrainingSettings
from core.templates import layered
from core.training import kernel_warmup
from core.training.compiled_steps import CompiledSteps
from core.training.trainer import Diverged, Trainer
from tests.core.test_training import make_data
from tests.registry_extras import LOG_COSH, SWISH, added_entries

pytestmark = pytest.mark.skipif(compiled.numba_module() is None, reason="Numba not installed")
TOL = 1e-11


def dag(hidden: str = "tanh", output: str = "identity", outputs: int = 2, seed: int = 0,
        frozen: bool = True) -> Network:
    """3 inputs, 6 hidden neurons over three depths, skip edges from the inputs and the first
    hidden neurons to later ones and the outputs; a frozen edge and a frozen neuron."""
    rng = np.random.default_rng(seed)
    net = Network()
    ins = [net.add_neuron("input").id for _ in range(3)]
    h = [net.add_neuron("hidden", hidden, bias=float(rng.normal(0, 0.3)),
                        frozen=frozen and i == 4).id for i in range(6)]
    outs = [net.add_neuron("output", output, bias=float(rng.normal(0, 0.3))).id
            for _ in range(outputs)]
    pairs = [(i, t) for t in h[:3] for i in ins[:2]] + [(ins[2], h[1])]
    pairs += [(s, t) for t in h[3:5] for s in h[:3]] + [(ins[0], h[4]), (h[0], h[5]), (h[3], h[5])]
    pairs += [(s, o) for o in outs for s in (h[4], h[5], h[1], ins[1])]
    for k, (s, t) in enumerate(pairs):
        net.connect(s, t, float(rng.normal(0, 0.8)), frozen=frozen and k == 3)
    return net


def data_for(net: Network, n: int = 23, seed: int = 1, classes: bool = False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(net.inputs)))
    k = len(net.outputs)
    if classes:
        y = np.eye(k)[rng.integers(0, k, n)] if k > 1 else (rng.random((n, 1)) > 0.5) * 1.0
    else:
        y = np.sin(x @ rng.normal(size=(x.shape[1], k)))
    return make_data(x, y, "classification" if classes else "regression")


def interleaved(net, data, settings, steps: int, blocks) -> tuple[Trainer, Trainer]:
    """Two trainers of copies of `net`: one taking `steps` Trainer.step calls (NumPy), the
    other the same steps through advance() (the kernel) in blocks of varying size."""
    a, b = Trainer(net.copy(), data, settings), Trainer(net.copy(), data, settings)
    assert b.compiled_path() is None
    done, i = 0, 0
    while done < steps:
        n = min(blocks[i % len(blocks)], steps - done)
        for _ in range(n):
            a.step()
        b.advance(n)
        done, i = done + n, i + 1
    return a, b


def compare(net, data, settings, steps: int = 240, blocks=(37, 1, 64, 5)) -> Trainer:
    """Run `steps` Trainer.step calls against advance() in blocks of varying size; every
    recorded number must agree. Returns the compiled trainer."""
    a, b = interleaved(net, data, settings, steps, blocks)
    assert (a.step_count, a.epoch, a._position) == (b.step_count, b.epoch, b._position)
    assert a.optimizer.t == b.optimizer.t
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=0, atol=TOL)
    np.testing.assert_allclose(b.batch_loss.y, a.batch_loss.y, rtol=TOL, atol=TOL)
    np.testing.assert_array_equal(b.batch_loss.x, a.batch_loss.x)
    np.testing.assert_array_equal(b.trajectory.steps, a.trajectory.steps)
    np.testing.assert_allclose(b.trajectory.thetas, a.trajectory.thetas, rtol=0, atol=TOL)
    np.testing.assert_allclose(b.edge_gradients(), a.edge_gradients(), rtol=0, atol=TOL)
    np.testing.assert_allclose(b.level_gradient_norms(), a.level_gradient_norms(), atol=TOL)
    for slot in a.optimizer.slots:
        for x, y in zip(a.optimizer.state[slot], b.optimizer.state[slot]):
            np.testing.assert_allclose(y, x, rtol=0, atol=TOL)
    ea, eb = a.evaluate(), b.evaluate()
    assert eb.train_loss == pytest.approx(ea.train_loss, rel=1e-10)
    return b


BASE = TrainingSettings(optimizer="momentum", learning_rate=0.05, batch_size=5, seed=2)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_every_activation_on_a_dag_with_skips_and_frozen_items(act):
    compare(dag(hidden=act, output=act), data_for(dag()), BASE)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss(loss):
    need = LOSSES[loss].needs_activation or "identity"
    net = dag(output=need, outputs=max(2, LOSSES[loss].min_outputs))
    compare(net, data_for(net, classes=loss in ("bce", "softmax_ce")),
            replace(BASE, loss=loss))


@pytest.mark.parametrize("optimizer", sorted(n for n, o in OPTIMIZER_CLASSES.items()
                                              if o.kernel is not None))
def test_every_optimiser(optimizer):
    rate = 0.01 if optimizer in ("adam", "rmsprop", "adagrad") else 0.05
    compare(dag(), data_for(dag()), replace(BASE, optimizer=optimizer, learning_rate=rate))


@pytest.mark.parametrize("changes", [
    dict(l1=0.01), dict(l2=0.02), dict(l1=0.005, l2=0.01, max_norm=1.1),
    dict(clip_norm=0.05), dict(clip_value=0.01), dict(clip_value=0.02, clip_norm=0.03),
    dict(decay="step", decay_steps=30), dict(decay="exponential", decay_steps=50),
    dict(decay="inverse_time", decay_rate=2.0, decay_steps=20), dict(batch_size=0),
    dict(batch_size=1), dict(shuffle=False, batch_size=7), dict(optimizer="nesterov", max_norm=0.9),
])
def test_regularisers_clipping_decay_and_batching(changes):
    compare(dag(), data_for(dag()), replace(BASE, **changes))


def test_xor_and_tf_playgrounds_circles():
    xor = layered([2, 2, 1], hidden="sigmoid", output="sigmoid")
    xor.set_values(*initialize(xor, "xavier_uniform", 3))
    data = make_dataset(DataSettings(generator="xor", samples=4, noise=0.0, test_fraction=0.0))
    compare(xor, data, TrainingSettings(optimizer="sgd", learning_rate=2.0, batch_size=0), 600)
    net = layered([2, 4, 2, 1], hidden="tanh", output="tanh")
    net.set_values(*initialize(net, "xavier_uniform", 1))
    circles = make_dataset(DataSettings(generator="circles", samples=500, test_fraction=0.5))
    compare(net, circles, TrainingSettings(batch_size=10, learning_rate=0.03), 500, (125, 200))


def test_a_net_on_derived_input_features_trains_the_same_compiled():
    """The compiled path reads the inputs' features (x1², x2²) as the NumPy path does."""
    from core.templates import circles_features

    project = circles_features()
    compare(project.network, make_dataset(project.data), project.training, 300, (50, 7, 100))


@pytest.mark.parametrize("loss,act", [("mse", "tanh"), ("huber", "elu"), ("bce", "sigmoid"),
                                      ("softmax_ce", "softplus"), ("mse", "leaky_relu")])
def test_compiled_gradient_against_finite_differences(loss, act):
    output = "sigmoid" if loss == "bce" else "identity"
    net = dag(hidden=act, output=output, outputs=2)
    data = data_for(net, classes=loss in ("bce", "softmax_ce"))
    settings = TrainingSettings(loss=loss, optimizer="sgd", learning_rate=0.0, batch_size=0,
                                l1=0.003, l2=0.01)
    trainer = Trainer(net, data, settings)
    layout = trainer._layout if trainer._layout else trainer._flat_params() and trainer._layout

    def loss_grad(theta):
        trainer.params.flat[layout.theta_index] = theta
        out = CompiledSteps().run(trainer, 1)
        return out[2][0], out[8][0].copy()

    theta = layout.theta(trainer._flat_params().flat).copy()
    value, grad = loss_grad(theta)
    trainable = trainer.plan.trainable_vector()
    for k in np.flatnonzero(trainable):
        up, down = theta.copy(), theta.copy()
        up[k] += 1e-6
        down[k] -= 1e-6
        fd = (loss_grad(up)[0] - loss_grad(down)[0]) / 2e-6
        assert grad[k] == pytest.approx(fd, rel=1e-5, abs=1e-7), (k, trainer.plan.parameter_names()[k])
    assert np.all(grad[~trainable] == 0.0)


@pytest.mark.parametrize("rate", [30.0, 1e200])
def test_divergence_stops_at_the_same_step_and_rolls_back_the_same(rate):
    net, data = dag(), data_for(dag())
    settings = replace(BASE, optimizer="sgd", learning_rate=rate)
    a, b = Trainer(net.copy(), data, settings), Trainer(net.copy(), data, settings)
    with pytest.raises(Diverged) as ea:
        for _ in range(500):
            a.step()
    with pytest.raises(Diverged) as eb:
        b.advance(500)
    assert str(eb.value) == str(ea.value)
    # A run on its way to infinity amplifies the paths' rounding differences (1e-16) to ~1e-8.
    assert (a.step_count, a.epoch, a._position, a.optimizer.t) == \
        (b.step_count, b.epoch, b._position, b.optimizer.t)
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=1e-6)
    np.testing.assert_array_equal(b.batch_loss.x, a.batch_loss.x)
    np.testing.assert_allclose(b.edge_gradients(), a.edge_gradients(), rtol=1e-6)


def test_listeners_of_stepped_get_every_step():
    net, data = dag(), data_for(dag())
    a, b = Trainer(net.copy(), data, BASE), Trainer(net.copy(), data, BASE)
    seen_a, seen_b = [], []
    a.stepped.connect(seen_a.append)
    b.stepped.connect(seen_b.append)
    for _ in range(30):
        a.step()
    b.advance(30)
    assert [(i.step, i.epoch, i.learning_rate) for i in seen_a] == \
        [(i.step, i.epoch, i.learning_rate) for i in seen_b]
    np.testing.assert_allclose([i.loss for i in seen_b], [i.loss for i in seen_a], rtol=1e-12)
    np.testing.assert_allclose([i.gradient_norm for i in seen_b],
                               [i.gradient_norm for i in seen_a], rtol=1e-11)


def test_an_edit_between_blocks_takes_effect_as_between_steps():
    net, data = dag(), data_for(dag())
    a, b = Trainer(net.copy(), data, BASE), Trainer(net.copy(), data, BASE)
    for t in (a, b):
        t.advance(20) if t is b else [t.step() for _ in range(20)]
        edge = next(iter(t.network.edges))
        t.network.set_weight(edge, 0.25)
        t.advance(20) if t is b else [t.step() for _ in range(20)]
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=0, atol=TOL)


def test_a_structure_edit_that_keeps_the_neurons_in_order_between_blocks():
    """Freezing an edge (or adding one) recompiles a plan with the same neurons in the same
    order: the compiled path's cache compared the two plans' arrays and raised, which killed
    the training process (found running bench/edit_speed.py). Both paths then train as
    Trainer.step does after the same edit."""
    net, data = dag(), data_for(dag())
    a, b = Trainer(net.copy(), data, BASE), Trainer(net.copy(), data, BASE)
    for t in (a, b):
        t.advance(20) if t is b else [t.step() for _ in range(20)]
        t.network.set_edge_frozen(next(iter(t.network.edges)), True)
        assert t.compiled_path() is None  # (the question that raised)
        t.advance(20) if t is b else [t.step() for _ in range(20)]
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=0, atol=TOL)


def test_what_falls_back_to_numpy_and_still_trains_the_same(monkeypatch):
    net, data = dag(), data_for(dag())
    why = {k: Trainer(net.copy(), data, replace(BASE, **v)).compiled_path() for k, v in {
        "dropout": dict(dropout=0.2), "float32": dict(precision="float32")}.items()}
    assert "dropout" in why["dropout"] and why["float32"] is None  # float32: its own kernel
    with added_entries():
        swish = dag(hidden=SWISH.name)
        assert "swish" in Trainer(swish, data_for(swish), BASE).compiled_path()
        plain = dag()
        assert "log_cosh" in Trainer(plain, data, replace(BASE, loss=LOG_COSH.name)).compiled_path()
    big = layered([20, 200, 200, 2])
    assert "large net" in Trainer(big, data_for(big), replace(BASE, batch_size=64)).compiled_path()
    monkeypatch.setenv(compiled.ENGINE_VARIABLE, "numpy")
    trainer = Trainer(net.copy(), data, BASE)
    assert compiled.ENGINE_VARIABLE in trainer.compiled_path()
    reference = Trainer(net.copy(), data, BASE)
    trainer.advance(25)
    for _ in range(25):
        reference.step()
    np.testing.assert_array_equal(trainer.params.flat, reference.params.flat)  # NumPy both


def test_the_training_loop_runs_compiled_blocks_with_the_trainers_numbers():
    from tests.core.test_training_loop import drive, reference, theta

    kernel_warmup.warm_up()  # as the loop's own thread does
    assert kernel_warmup.ready()
    replies = drive(("steps", 300))
    p = replies.of("progress")[-1][2]
    t = reference(300)
    np.testing.assert_allclose(p.theta, theta(t), rtol=0, atol=TOL)
    np.testing.assert_allclose(p.batch_loss.y, t.batch_loss.y, rtol=1e-12)


def test_a_long_run_takes_the_compiled_kernel_and_evaluates_where_steps_would(monkeypatch):
    """Trainer.run (the command line's train) advances the kernel epoch by epoch: the same
    numbers and the same per-epoch evaluations as a run of single NumPy steps."""
    from core.training import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "COMPILED_RUN_STEPS", 1)
    net = layered([2, 4, 2, 1], hidden="tanh", output="tanh")
    net.set_values(*initialize(net, "xavier_uniform", 1))
    data = make_dataset(DataSettings(generator="circles", samples=60, test_fraction=0.5))
    settings = TrainingSettings(batch_size=7, learning_rate=0.03)
    a, b = Trainer(net.copy(), data, settings), Trainer(net.copy(), data, settings)
    calls = []
    real = b.advance
    monkeypatch.setattr(b, "advance", lambda n, compiled=True: calls.append(n) or real(n))
    a.step()  # start mid-epoch: the first block ends at the epoch's end, not a block later
    b.step()
    steps = 40
    for _ in range(steps):
        a.step()
        if a.epoch != getattr(a, "_seen", 0):
            a._seen = a.epoch
            a.evaluate()
    b.run(steps=steps)
    assert max(calls) > 1 and sum(calls) == steps
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=0, atol=TOL)
    np.testing.assert_array_equal(b.train_loss.x[:-1], a.train_loss.x)
    np.testing.assert_allclose(b.train_loss.y[:-1], a.train_loss.y, rtol=1e-10)


def test_asking_for_the_path_after_a_structure_edit_compares_plans_by_identity():
    """The training process crashed on the first block after a structure edit: the cached
    answer compared the old and new Plan with ==, which compares their arrays."""
    from core.training.compiled_steps import CompiledSteps
    from core.engine import compile_plan
    from core.settings import TrainingSettings
    from core.templates import layered

    class FakeTrainer:
        def __init__(self, net):
            self.plan, self.settings = compile_plan(net), TrainingSettings()
            self.data = type("D", (), {"x_train": np.zeros((10, 2))})()

    steps = CompiledSteps()
    a = steps.unavailable(FakeTrainer(layered([2, 3, 1])))
    b = steps.unavailable(FakeTrainer(layered([2, 3, 1])))  # another Plan of the same shapes
    assert a == b
