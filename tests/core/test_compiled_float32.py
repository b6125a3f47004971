"""The compiled path in float32 (Numba's float32 specialisation of the same kernel), held to
the NumPy float32 path step for step, and its gradient to the float64 kernel's (which
tests/core/test_compiled.py holds to finite differences; in float32 a finite difference is
too coarse to check anything).

The two float32 paths do not round alike: NumPy rounds every operation to float32; the
kernel keeps float64 where Numba's rules put it (the gradients' sums over samples, the
losses, the update's products with the rate), so they agree to float32's precision grown
over the steps, not to the last bit."""
from dataclasses import replace

import numpy as np
import pytest

from core.activations import ACTIVATIONS
from core.engine import compiled
from core.losses import LOSSES
from core.network import Network
from core.optimizers import OPTIMIZER_CLASSES
from core.settings import TrainingSettings
from core.templates import layered
from core.initializers import initialize
from core.training.compiled_steps import CompiledSteps
from core.training.trainer import Diverged, Trainer
from tests.core.test_compiled import BASE, dag, data_for, interleaved
from tests.core.test_training import make_data

pytestmark = pytest.mark.skipif(compiled.numba_module() is None, reason="Numba not installed")
F32 = replace(BASE, precision="float32")
TOL = 2e-5  # a few hundred float32 ulps of the parameters (~1): rounding over 120 steps


def compare32(net, data, settings, steps: int = 120, blocks=(37, 1, 64, 5)) -> Trainer:
    """Trainer.step in float32 (NumPy) against advance() in float32 (the kernel), in blocks."""
    a, b = interleaved(net, data, settings, steps, blocks)
    assert b.params.flat.dtype == np.float32
    assert (a.step_count, a.epoch, a._position, a.optimizer.t) == \
        (b.step_count, b.epoch, b._position, b.optimizer.t)
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=0, atol=TOL)
    np.testing.assert_allclose(b.batch_loss.y, a.batch_loss.y, rtol=TOL, atol=TOL)
    np.testing.assert_array_equal(b.trajectory.steps, a.trajectory.steps)
    np.testing.assert_allclose(b.trajectory.thetas, a.trajectory.thetas, rtol=0, atol=TOL)
    np.testing.assert_allclose(b.edge_gradients(), a.edge_gradients(), rtol=0, atol=TOL)
    for slot in a.optimizer.slots:
        for x, y in zip(a.optimizer.state[slot], b.optimizer.state[slot]):
            assert y.dtype == np.float32
            np.testing.assert_allclose(y, x, rtol=TOL, atol=TOL)
    return b


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_every_activation_in_float32(act):
    compare32(dag(hidden=act, output=act), data_for(dag()), F32)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_in_float32(loss):
    need = LOSSES[loss].needs_activation or "identity"
    net = dag(output=need, outputs=max(2, LOSSES[loss].min_outputs))
    compare32(net, data_for(net, classes=loss in ("bce", "softmax_ce")), replace(F32, loss=loss))


@pytest.mark.parametrize("optimizer", sorted(n for n, o in OPTIMIZER_CLASSES.items()
                                              if o.kernel is not None))
def test_every_optimiser_in_float32(optimizer):
    rate = 0.01 if optimizer in ("adam", "rmsprop", "adagrad") else 0.05
    compare32(dag(), data_for(dag()), replace(F32, optimizer=optimizer, learning_rate=rate))


@pytest.mark.parametrize("changes", [
    dict(l1=0.005, l2=0.01, max_norm=1.1), dict(clip_value=0.02, clip_norm=0.03),
    dict(decay="exponential", decay_steps=50), dict(batch_size=0),
])
def test_regularisers_clipping_decay_and_full_batch_in_float32(changes):
    compare32(dag(), data_for(dag()), replace(F32, **changes))


def test_a_layered_net_with_rows_of_many_edges_in_float32():
    """Rows of more than four incoming edges: the kernel's four-edge passes and the rest."""
    net = layered([9, 13, 6, 3], hidden="relu", output="identity")
    net.set_values(*initialize(net, "he", 4))
    compare32(net, data_for(net, n=40, classes=True),
              replace(F32, loss="softmax_ce", batch_size=16))


@pytest.mark.parametrize("loss,act", [("mse", "tanh"), ("bce", "sigmoid"),
                                      ("softmax_ce", "relu"), ("huber", "elu")])
def test_the_float32_gradient_is_the_float64_kernels_to_float32_precision(loss, act):
    """At the same parameters (float32 numbers, so both kernels start from the same point)."""
    output = "sigmoid" if loss == "bce" else "identity"
    net = dag(hidden=act, output=output, outputs=2)
    data = data_for(net, classes=loss in ("bce", "softmax_ce"))
    found = {}
    for precision in ("float64", "float32"):
        settings = TrainingSettings(loss=loss, optimizer="sgd", learning_rate=0.0,
                                    batch_size=0, l1=0.003, l2=0.01, precision=precision)
        trainer = Trainer(net.copy(), data, settings)
        flat = trainer._flat_params().flat
        flat[:] = flat.astype(np.float32)
        out = CompiledSteps().run(trainer, 1)
        found[precision] = (out[2][0], out[8][0].astype(np.float64))
    (loss64, grad64), (loss32, grad32) = found["float64"], found["float32"]
    assert loss32 == pytest.approx(loss64, rel=1e-6)
    scale = np.abs(grad64).max()
    np.testing.assert_allclose(grad32, grad64, rtol=0, atol=1e-6 * scale)
    assert np.any(grad64 != 0.0)


def test_divergence_in_float32_stops_at_the_same_step_and_rolls_back_the_same():
    """A rate that overflows at once. (At a rate that diverges over a few steps, the paths'
    float32 tanh differ by an ulp where it saturates, 1.0 against 0.99999994, a slope of 0
    against 1.2e-7, which the growing weights amplify: they leave float32's range at other
    steps. Float64 has room for them: tests/core/test_compiled.py.)"""
    net, data = dag(), data_for(dag())
    settings = replace(F32, optimizer="sgd", learning_rate=1e30)
    a, b = Trainer(net.copy(), data, settings), Trainer(net.copy(), data, settings)
    with pytest.raises(Diverged) as ea:
        for _ in range(50):
            a.step()
    with pytest.raises(Diverged) as eb:
        b.advance(50)
    assert (a.step_count, a.optimizer.t) == (b.step_count, b.optimizer.t)
    assert str(eb.value).split(".")[0] == str(ea.value).split(".")[0]  # the step and what
    # A run on its way to infinity amplifies the paths' float32 rounding (1e-7) to ~1e-5.
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=1e-4)


@pytest.mark.parametrize("weight,what", [(2e19, "the loss became inf"),
                                         (7.5e18, "a gradient became infinite")])
def test_a_loss_or_gradient_past_float32s_range_stops_both_paths_alike(weight, what):
    """The kernel sums the loss and the squared gradient norm in float64, where they would
    not overflow; NumPy's float32 steps overflow to inf. Past float32's largest number the
    kernel counts them infinite too: the same step stops, with the same message. (One
    sample: with more, NumPy's float32 sum of the samples' terms can overflow before their
    mean would, which the kernel does not copy. At 7.5e18 each gradient's square fits in
    float32, their sum does not.)"""
    net = Network()
    src, dst = net.add_neuron("input").id, net.add_neuron("output", "identity").id
    net.connect(src, dst, weight)
    data = make_data(np.ones((1, 1)), np.zeros((1, 1)), "regression")
    settings = TrainingSettings(optimizer="sgd", learning_rate=1e-3, batch_size=0,
                                precision="float32")
    messages = []
    for run in (lambda t: t.step(), lambda t: t.advance(3)):
        trainer = Trainer(net.copy(), data, settings)
        with pytest.raises(Diverged) as e:
            run(trainer)
        messages.append(str(e.value))
        assert trainer.step_count == 0
    assert what in messages[0]
    assert messages[1] == messages[0]


def test_the_kernel_holds_a_float64_and_a_float32_specialisation():
    """One generated module, one train_block, compiled once per dtype: switching precision
    between blocks takes the other specialisation, it does not recompile the first."""
    net, data = dag(), data_for(dag())
    for precision in ("float64", "float32", "float64"):
        Trainer(net.copy(), data, replace(BASE, precision=precision)).advance(3)
    thetas = {sig[14] for sig in compiled.kernels().train_block.signatures}  # theta's type
    assert {str(t.dtype) for t in thetas} >= {"float64", "float32"}

