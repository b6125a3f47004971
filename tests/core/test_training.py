"""The trainer: updates against finite differences, frozen parameters, rollback, determinism,
edits during a run, epochs and accuracy."""
import tracemalloc

import numpy as np
import pytest

from core.data.dataset import Dataset
from core.engine import Params, compile_plan
from core.training.loss_history import Series, Trajectory
from core.network import Network
from core.settings import TrainingSettings
from core.training.trainer import Diverged, Trainer, TrainingError, accuracy


def make_data(x, y, task="regression", x_test=None, y_test=None):
    x_test = np.zeros((0, x.shape[1])) if x_test is None else x_test
    y_test = np.zeros((0, y.shape[1])) if y_test is None else y_test
    return Dataset(x_train=x, y_train=y, x_test=x_test, y_test=y_test, task=task,
                   input_names=[f"x{i}" for i in range(x.shape[1])],
                   target_names=[f"y{i}" for i in range(y.shape[1])], class_names=None,
                   mean=None, std=None)


def small_net(seed=0):
    rng = np.random.default_rng(seed)
    net = Network()
    i1, i2 = net.add_neuron("input").id, net.add_neuron("input").id
    h1 = net.add_neuron("hidden", "tanh", bias=0.1).id
    h2 = net.add_neuron("hidden", "sigmoid", bias=-0.2).id
    o = net.add_neuron("output", "identity", bias=0.05).id
    for s, t in [(i1, h1), (i2, h1), (i1, h2), (i2, h2), (h1, o), (h2, o), (i1, o)]:
        net.connect(s, t, float(rng.normal()))
    return net


def regression_data(n=16, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    return make_data(x, np.sin(x[:, :1]) + 0.5 * x[:, 1:])


def numeric_gradient(net, data, loss="mse", eps=1e-6):
    """Central differences of the full-batch loss, computed from scratch on copies."""
    from core.engine import loss_and_gradients

    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    grad = np.zeros_like(theta)
    for k in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[k] += eps
        down[k] -= eps
        lu = loss_and_gradients(plan, plan.unflatten(up), data.x_train, data.y_train, loss)[0]
        ld = loss_and_gradients(plan, plan.unflatten(down), data.x_train, data.y_train, loss)[0]
        grad[k] = (lu - ld) / (2 * eps)
    return plan, theta, grad


def test_sgd_step_moves_every_parameter_by_minus_lr_times_the_gradient():
    net, data = small_net(), regression_data()
    plan, theta0, grad = numeric_gradient(net, data)
    trainer = Trainer(net, data, TrainingSettings(optimizer="sgd", learning_rate=0.3))
    trainer.step()
    theta1 = trainer.plan.flatten(trainer.params)
    np.testing.assert_allclose(theta1, theta0 - 0.3 * grad, atol=1e-8)
    # The document is untouched until sync; then it holds the new values.
    assert plan.flatten(plan.pack(net)) == pytest.approx(theta0)
    trainer.sync_network()
    np.testing.assert_allclose(plan.flatten(plan.pack(net)), theta1)


def test_frozen_edges_and_biases_never_change():
    net, data = small_net(), regression_data()
    frozen_edge = next(iter(net.edges))
    frozen_neuron = net.outputs[0].id
    net.set_edge_frozen(frozen_edge, True)
    net.set_frozen(frozen_neuron, True)
    w0, b0 = net.edges[frozen_edge].weight, net.neurons[frozen_neuron].bias
    others = {e: net.edges[e].weight for e in net.edges if e != frozen_edge}
    trainer = Trainer(net, data, TrainingSettings(optimizer="adam", learning_rate=0.05, l2=0.1))
    for _ in range(40):
        trainer.step()
    trainer.sync_network()
    assert net.edges[frozen_edge].weight == w0
    assert net.neurons[frozen_neuron].bias == b0
    assert all(net.edges[e].weight != w for e, w in others.items())


def test_divergence_rolls_back_and_names_step_and_edge():
    net, data = small_net(), regression_data()
    net.set_activation(net.neurons["n3"].id, "identity")
    net.set_activation(net.neurons["n4"].id, "identity")
    trainer = Trainer(net, data, TrainingSettings(optimizer="sgd", learning_rate=1e3))
    snapshots = []
    with pytest.raises(Diverged) as info:
        for _ in range(500):
            snapshots.append(trainer.plan.flatten(trainer.params).copy())
            trainer.step()
    err = info.value
    assert err.step == len(snapshots)
    assert f"step {err.step}" in str(err) and "smaller learning rate" in str(err)
    assert err.edge in net.edges and err.edge in str(err)
    rolled = trainer.plan.flatten(trainer.params)
    assert np.isfinite(rolled).all()
    np.testing.assert_array_equal(rolled, snapshots[-1])
    assert trainer.step_count == err.step - 1


def test_a_weight_that_overflows_is_rolled_back_and_the_optimizer_restarts():
    # Only the output bias trains; targets of 1 drive it up while the loss stays finite, until
    # momentum carries it past float32's largest value: the update itself is what fails.
    net = small_net()
    net.set_activation("n5", "sigmoid")
    for eid in list(net.edges):
        net.set_edge_frozen(eid, True)
    net.set_frozen("n3", True)
    net.set_frozen("n4", True)
    x = np.random.default_rng(0).normal(size=(40, 2))
    data = make_data(x, np.ones((40, 1)), task="classification")
    settings = TrainingSettings(optimizer="momentum", learning_rate=1e38, loss="bce",
                                precision="float32", batch_size=8)
    trainer = Trainer(net, data, settings)
    snapshots = []
    with pytest.raises(Diverged, match="a weight became infinite") as info:
        for _ in range(100):
            snapshots.append(trainer.plan.flatten(trainer.params).copy())
            trainer.step()
    assert info.value.step == len(snapshots) > 2 and trainer.step_count == info.value.step - 1
    np.testing.assert_array_equal(trainer.plan.flatten(trainer.params), snapshots[-1])
    assert trainer.optimizer.state == {} and trainer.optimizer.t == 0
    trainer.set_settings(TrainingSettings(**{**settings.to_dict(), "learning_rate": 1e-3}))
    assert np.isfinite(trainer.step().loss) and trainer.params.all_finite()


def test_one_seed_gives_one_run_bit_for_bit():
    data = regression_data(n=40)
    settings = TrainingSettings(optimizer="momentum", learning_rate=0.05, batch_size=8,
                                dropout=0.3, seed=7)
    runs = []
    for _ in range(2):
        trainer = Trainer(small_net(), data, settings)
        for _ in range(30):
            trainer.step()
        runs.append(trainer.plan.flatten(trainer.params))
    np.testing.assert_array_equal(runs[0], runs[1])
    other = Trainer(small_net(), data, TrainingSettings(**{**settings.to_dict(), "seed": 8}))
    for _ in range(30):
        other.step()
    assert not np.array_equal(runs[0], other.plan.flatten(other.params))


def test_epochs_count_minibatches():
    trainer = Trainer(small_net(), regression_data(n=40), TrainingSettings(batch_size=10))
    assert trainer.steps_per_epoch() == 4
    for _ in range(9):
        trainer.step()
    assert (trainer.step_count, trainer.epoch) == (9, 2)


def test_weight_edit_during_a_run_takes_effect_at_the_next_step():
    net, data = small_net(), regression_data()
    trainer = Trainer(net, data, TrainingSettings(optimizer="sgd", learning_rate=0.1))
    for _ in range(5):
        trainer.step()
    eid = next(iter(net.edges))
    net.set_weight(eid, 2.5)
    trainer.prepare()
    names = trainer.plan.parameter_names()
    assert trainer.plan.flatten(trainer.params)[names.index(eid)] == 2.5


def test_structure_edit_keeps_trained_values_and_starts_new_state_at_zero():
    net, data = small_net(), regression_data()
    trainer = Trainer(net, data, TrainingSettings(optimizer="adam", learning_rate=0.05))
    for _ in range(10):
        trainer.step()
    trained = dict(zip(trainer.plan.parameter_names(), trainer.plan.flatten(trainer.params)))
    new = net.add_neuron("hidden", "relu").id
    eid = net.connect("n1", new, 0.5).id
    net.connect(new, net.outputs[0].id, 0.25)
    trainer.prepare()
    now = dict(zip(trainer.plan.parameter_names(), trainer.plan.flatten(trainer.params)))
    for name, value in trained.items():
        assert now[name] == value  # not reset to the document's stale values
    assert now[eid] == 0.5
    names = trainer.plan.parameter_names()
    assert trainer.optimizer.state
    for arrays in trainer.optimizer.state.values():
        flat = dict(zip(names, trainer.plan.flatten(Params(arrays[:-1], arrays[-1]))))
        assert flat[eid] == 0.0
    trainer.step()  # and it still trains


def test_mismatched_data_is_refused_with_a_message():
    x = np.zeros((4, 3))
    with pytest.raises(TrainingError, match="3 input"):
        Trainer(small_net(), make_data(x, np.zeros((4, 1))), TrainingSettings())


def test_bce_on_non_sigmoid_outputs_is_refused():
    with pytest.raises(TrainingError, match="sigmoid"):
        Trainer(small_net(), regression_data(), TrainingSettings(loss="bce"))


def test_accuracy_against_hand_counts():
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    p = np.array([[0.9], [0.6], [0.4], [0.1]])
    assert accuracy(p, y) == 0.5
    y3 = np.eye(3)[[0, 1, 2, 2]]
    p3 = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.0, 0.1, 0.9]])
    assert accuracy(p3, y3) == 0.75


def test_evaluate_reports_test_loss_and_history():
    rng = np.random.default_rng(3)
    x, xt = rng.normal(size=(20, 2)), rng.normal(size=(10, 2))
    data = make_data(x, x[:, :1] - x[:, 1:], x_test=xt, y_test=xt[:, :1] - xt[:, 1:])
    trainer = Trainer(small_net(), data, TrainingSettings(learning_rate=0.05))
    first = trainer.evaluate()
    final = trainer.run(epochs=50)
    assert final.train_loss < first.train_loss and final.test_loss < first.test_loss
    assert len(trainer.train_loss) == 52 and len(trainer.test_loss) == 52
    assert trainer.train_loss.y[-1] == final.train_loss


def test_series_stays_bounded_and_spans_the_run():
    s = Series(capacity=64)
    for i in range(100_000):
        s.append(i, float(i))
    assert len(s) <= 64
    assert s.x[0] == 0 and s.x[-1] > 90_000
    assert np.all(np.diff(s.x) == s.stride)
    np.testing.assert_array_equal(s.x, s.y)


def test_trajectory_stays_within_its_memory_budget():
    t = Trajectory(1000, max_bytes=8 * 1000 * 32)
    for step in range(5000):
        t.append(step, np.full(1000, float(step)))
    assert len(t) <= 32
    np.testing.assert_array_equal(t.thetas[:, 0], t.steps.astype(float))


def test_a_full_trajectory_thins_out_in_place():
    # Halving once copied the whole buffer into a temporary (fresh memory: 125 ms for 33 MB).
    t = Trajectory(512, max_bytes=8 * 512 * 256)
    for step in range(256):
        t.append(step, np.full(512, float(step)))
    tracemalloc.start()
    try:
        t.append(256, np.full(512, 256.0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 512 * 256 / 8, f"halving allocated {peak} bytes"
    np.testing.assert_array_equal(t.steps, np.arange(0, 257, 2))
    np.testing.assert_array_equal(t.thetas[:, -1], t.steps.astype(float))


def test_snapshots_of_a_big_net_write_about_one_page_a_step():
    for n, stride in ((25, 1), (512, 1), (513, 2), (2778, 8), (101_770, 256)):
        t = Trajectory(n)
        assert t.stride == stride
        assert n / t.stride <= 512 < (n / (t.stride // 2) if t.stride > 1 else np.inf)


def test_adopt_document_takes_edits_and_keeps_training_progress():
    gui_doc, data = small_net(), regression_data()
    trainer = Trainer(gui_doc.copy(), data, TrainingSettings(optimizer="sgd", learning_rate=0.1))
    for _ in range(5):
        trainer.step()
    trained = dict(zip(trainer.plan.parameter_names(), trainer.plan.flatten(trainer.params)))
    eid = next(iter(gui_doc.edges))
    gui_doc.set_weight(eid, 3.0)
    trainer.adopt_document(gui_doc.copy(), {eid}, structural=False)
    trainer.prepare()
    now = dict(zip(trainer.plan.parameter_names(), trainer.plan.flatten(trainer.params)))
    assert now[eid] == 3.0
    assert all(now[k] == v for k, v in trained.items() if k != eid)
    new = gui_doc.add_neuron("hidden", "tanh").id
    gui_doc.connect("n1", new, 0.7)
    gui_doc.connect(new, gui_doc.outputs[0].id, 0.2)
    trainer.adopt_document(gui_doc.copy(), set(), structural=True)
    trainer.step()
    assert trainer.plan.n_parameters == len(trained) + 3


def test_gradient_norms_and_neuron_health():
    net, data = small_net(), regression_data()
    net.set_activation("n3", "relu")
    net.set_bias("n3", -100.0)  # never active: dead
    plan, _, grad = numeric_gradient(net, data)
    depth = net.depths()
    by_level = {}
    for k, eid in enumerate(plan.edge_ids):
        by_level.setdefault(depth[net.edges[eid].target], []).append(grad[k])
    expected = [np.linalg.norm(by_level.get(d, [])) for d in sorted(by_level)]
    trainer = Trainer(net, data, TrainingSettings())
    trainer.step()
    np.testing.assert_allclose(trainer.level_gradient_norms(), expected, rtol=1e-6, atol=1e-9)
    health = trainer.neuron_health()
    assert set(health) == {"n3"} and "dead ReLU" in health["n3"]


def test_neuron_health_between_a_structure_edit_and_the_next_step():
    """The training process reports health after adopting edits and before recompiling: a
    neuron deleted from the document must not break it (a KeyError killed the process)."""
    from core.data.dataset import make_dataset
    from core.settings import DataSettings, TrainingSettings
    from core.templates import layered
    from core.training.trainer import Trainer

    net = layered([2, 3, 1], hidden="relu")
    trainer = Trainer(net.copy(), make_dataset(DataSettings(generator="xor")), TrainingSettings())
    trainer.step()
    doc = trainer.network.copy()
    doomed = [n.id for n in doc.neurons.values() if n.role == "hidden"][0]
    edited = {doomed, *(e.id for e in doc.edges.values() if doomed in (e.source, e.target))}
    doc.remove_neuron(doomed)
    trainer.adopt_document(doc.delta(frozenset(edited), True), edited, True)
    health = trainer.neuron_health()  # the plan of before the edit, consistently
    assert set(health) <= set(trainer.plan.order)
    trainer.step()  # and the next step recompiles without the neuron
    assert doomed not in trainer.plan.order


def test_gradients_reported_between_a_structure_edit_and_the_next_step():
    """A frame made after adopting a structure edit and before the next step reports the
    last step's gradients in the new plan's order: kept by parameter name, zero for the new
    neuron. A tanh neuron added to a ReLU layer sorts before it and shifts every row (the
    old matrices indexed with the new rows raised IndexError and killed the process)."""
    from core.data.dataset import make_dataset
    from core.settings import DataSettings
    from core.templates import layered

    net = layered([2, 3, 1], hidden="relu")
    trainer = Trainer(net.copy(), make_dataset(DataSettings(generator="xor")), TrainingSettings())
    trainer.step()
    before = dict(zip(trainer.plan.edge_ids, trainer.edge_gradients()))
    norms = trainer.level_gradient_norms()
    doc = trainer.network.copy()
    new = doc.add_neuron("hidden", "tanh").id
    trainer.adopt_document(doc.delta(frozenset({new}), True), {new}, True)
    trainer.prepare()
    relu = [n.id for n in doc.neurons.values() if n.activation == "relu"]
    assert trainer.plan.row[new] < min(trainer.plan.row[n] for n in relu)  # rows shifted
    after = dict(zip(trainer.plan.edge_ids, trainer.edge_gradients()))
    assert after == before  # no edge added or removed: every gradient kept, by id
    np.testing.assert_allclose(trainer.level_gradient_norms(), norms)
    biases = dict(zip(trainer.plan.parameter_names(), trainer.plan.flatten(trainer.last_gradients)))
    assert biases[f"bias:{new}"] == 0.0
    trainer.step()  # and training goes on
