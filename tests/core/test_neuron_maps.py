"""Every neuron's map over the input plane (core.neuron_maps) against each neuron's activation
at each grid point computed independently: the engine one point at a time (inspect_sample)
and a plain-Python walk of the graph."""
import numpy as np
import pytest

from core.data.dataset import Dataset, make_dataset
from core.engine import compile_plan, inspect_sample
from core.losses import softmax
from core.neuron_maps import neuron_maps, plane_grid
from core.settings import DataSettings
from core.templates import classifier_2881
from tests.core.strategies import dag_with_skips, naive_activations

RES = 7


def spiral_2881():
    project = classifier_2881()
    project.data = DataSettings(generator="spiral", samples=200, noise=0.05)
    return project.network, make_dataset(project.data), project.training.loss


def plane_data(seed: int = 0, n_targets: int = 2) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, 2)) * [2.0, 0.5] + [1.0, -3.0]
    y = np.eye(n_targets)[rng.integers(0, n_targets, 30)]
    return Dataset(x[:24], y[:24], x[24:], y[24:], "classification", ["a", "b"],
                   [f"y{k}" for k in range(n_targets)], [f"c{k}" for k in range(n_targets)])


def check_each_neuron(net, data, loss):
    plan = compile_plan(net)
    params = plan.pack(net)
    maps = neuron_maps(plan, params, data, RES, loss)
    assert maps.maps.shape == (plan.n_neurons, RES, RES)
    assert maps.order == plan.order
    y = np.zeros(len(plan.output_rows))
    for i, gy in enumerate(maps.grid.ys):
        for j, gx in enumerate(maps.grid.xs):
            _, engine, _ = inspect_sample(plan, params, np.array([gx, gy]), y, "mse")
            naive = naive_activations(net, [gx, gy])
            for nid in plan.order:
                assert maps.of(nid)[i, j] == pytest.approx(engine[nid].activation, rel=1e-12,
                                                           abs=1e-12)
                assert maps.of(nid)[i, j] == pytest.approx(naive[nid], rel=1e-9, abs=1e-12)
    return maps


def test_each_map_is_the_neurons_activation_at_the_grid_points_on_the_spiral_2881():
    net, data, loss = spiral_2881()
    maps = check_each_neuron(net, data, loss)
    assert len(maps.order) == 2 + 8 + 8 + 1
    hidden = [nid for nid in maps.order if net.neurons[nid].role == "hidden"]
    assert maps.scale == pytest.approx(max(np.abs(maps.of(h)).max() for h in hidden))
    out = maps.output_ids[0]
    np.testing.assert_array_equal(maps.predicted[0], maps.of(out))  # bce: p is the sigmoid


def test_each_map_is_the_neurons_activation_on_a_dag_with_skip_edges_and_softmax():
    net = dag_with_skips()
    maps = check_each_neuron(net, plane_data(), "softmax_ce")
    a = np.stack([maps.of(o) for o in maps.output_ids], -1)
    np.testing.assert_allclose(np.moveaxis(maps.predicted, 0, -1),
                               softmax(a.reshape(-1, a.shape[-1])).reshape(a.shape), rtol=1e-12)


def test_the_grid_spans_all_the_data_padded_as_the_data_panel_draws_it():
    data = plane_data(3)
    grid = plane_grid(data, 5)
    x = np.vstack([data.x_train, data.x_test])
    span = x.max(0) - x.min(0)
    np.testing.assert_allclose(grid.lo, x.min(0) - 0.1 * span, rtol=1e-6)
    np.testing.assert_allclose(grid.hi, x.max(0) + 0.1 * span, rtol=1e-6)
    # map row i, column j is the point (xs[j], ys[i]): y grows with the row
    np.testing.assert_array_equal(grid.points.reshape(5, 5, 2)[2, 4], [grid.xs[4], grid.ys[2]])


def test_inputs_are_maps_too_and_a_net_without_hidden_neurons_scales_by_all():
    from core.network import Network
    net = Network()
    a, b = net.add_neuron("input").id, net.add_neuron("input").id
    out = net.add_neuron("output", "identity").id
    net.connect(a, out, 2.0)
    net.connect(b, out, -1.0)
    data = plane_data(1)
    plan = compile_plan(net)
    maps = neuron_maps(plan, plan.pack(net), data, 4, "mse")
    xx, yy = np.meshgrid(maps.grid.xs, maps.grid.ys)
    np.testing.assert_allclose(maps.of(a), xx)
    np.testing.assert_allclose(maps.of(b), yy)
    assert maps.scale == pytest.approx(np.abs(maps.maps).max())


def test_a_plane_needs_two_inputs():
    data = plane_data()
    three = Dataset(np.zeros((4, 3)), data.y_train[:4], np.zeros((0, 3)), data.y_test[:0],
                    "classification", ["a", "b", "c"], data.target_names)
    with pytest.raises(ValueError, match="two inputs; this data has 3"):
        plane_grid(three, 5)


def test_maps_of_a_net_on_derived_features_run_the_plane_through_the_features():
    """Inputs x1² and x2² read the plane's two columns: each neuron's map is the engine's
    activation for the features computed here from the grid point by their formulas."""
    from core.templates import circles_features

    project = circles_features()
    net, data = project.network, make_dataset(project.data)
    plan = compile_plan(net)
    params = plan.pack(net)
    maps = neuron_maps(plan, params, data, RES, project.training.loss)
    y = np.zeros(len(plan.output_rows))
    for i, gy in enumerate(maps.grid.ys):
        for j, gx in enumerate(maps.grid.xs):
            features = {"square": lambda c: [gx, gy][c[0]] ** 2,
                        "column": lambda c: [gx, gy][c[0]]}
            x = [features[net.neurons[nid].feature.kind](net.neurons[nid].feature.columns)
                 if net.neurons[nid].feature else [gx, gy][k]
                 for k, nid in enumerate(plan.order[: plan.n_inputs])]
            _, engine, _ = inspect_sample(plan, params, np.array(x), y, "mse")
            for nid in plan.order:
                assert maps.of(nid)[i, j] == pytest.approx(engine[nid].activation, rel=1e-12,
                                                           abs=1e-12)


# ----- recurrent nets on sequences ------------------------------------------------------------
def elman_on_adding(steps: int = 6, seed: int = 3):
    """A 2-3-1 Elman net (tanh, every hidden neuron fed by every one a step earlier, and the
    output fed back to itself) on the adding problem's two inputs (value, marker)."""
    from core.templates import layered

    net = layered([2, 3, 1], hidden="tanh", output="identity")
    rng = np.random.default_rng(seed)
    net.set_values({e: float(rng.normal(0, 0.8)) for e in net.edges},
                   {n: float(rng.normal(0, 0.3)) for n in net.neurons
                    if net.neurons[n].role != "input"})
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    for a in hidden:
        for b in hidden:
            net.connect(a, b, float(rng.normal(0, 0.6)), delay=1)
    net.connect(net.outputs[0].id, net.outputs[0].id, 0.5, delay=1)
    data = make_dataset(DataSettings(generator="adding", samples=20, task="regression",
                                     sequence_length=steps))
    return net, data


def test_on_sequences_a_map_is_each_neurons_output_after_the_point_held_for_the_length():
    """Each grid point held for the sequences' T steps from state 0: the map is the output at
    step T, the unrolling written out one neuron at a time (and not step 1's)."""
    from tests.core.strategies import naive_sequence_outputs

    net, data = elman_on_adding(steps=6)
    plan = compile_plan(net)
    maps = neuron_maps(plan, plan.pack(net), data, RES, "mse")
    assert maps.steps == 6 and maps.maps.shape == (plan.n_neurons, RES, RES)
    out = net.outputs[0].id
    differs = 0
    for i, gy in enumerate(maps.grid.ys):
        for j, gx in enumerate(maps.grid.xs):
            walk = naive_sequence_outputs(net, [[gx, gy]] * 6)
            for nid in plan.order:
                assert maps.of(nid)[i, j] == pytest.approx(walk[-1][nid], rel=1e-9, abs=1e-12)
            differs += abs(walk[-1][out] - walk[0][out]) > 1e-3
    assert differs > RES * RES // 2  # the memory matters: step 1 would be another picture
    np.testing.assert_allclose(maps.predicted[0], maps.of(out))


def test_on_sequences_the_plane_spans_the_existing_steps_only():
    net, data = elman_on_adding()
    data.mask_train = np.ones(data.x_train.shape[:2], bool)
    data.mask_train[0, 3:] = False
    data.x_train[0, 3:] = [50.0, -50.0]  # padding far outside: it must not stretch the plane
    grid = plane_grid(data, RES)
    steps = np.vstack([data.x_train[data.mask_train], data.x_test.reshape(-1, 2)])
    extent = steps.max(axis=0) - steps.min(axis=0)
    np.testing.assert_allclose(grid.lo, steps.min(axis=0) - 0.1 * extent, atol=1e-8)
    np.testing.assert_allclose(grid.hi, steps.max(axis=0) + 0.1 * extent, atol=1e-8)


def test_sequences_too_long_to_hold_are_refused_in_words(monkeypatch):
    import core.neuron_maps

    net, data = elman_on_adding(steps=6)
    monkeypatch.setattr(core.neuron_maps, "HELD_STEPS_LIMIT", 5)
    plan = compile_plan(net)
    with pytest.raises(ValueError, match="held for the sequences' 6 steps.* up to 5 steps"):
        neuron_maps(plan, plan.pack(net), data, RES, "mse")


def test_a_grid_in_chunks_is_the_same_maps(monkeypatch):
    """Points through the unrolled pass a few at a time (to bound memory) change nothing."""
    import core.neuron_maps

    net, data = elman_on_adding(steps=6)
    plan = compile_plan(net)
    whole = neuron_maps(plan, plan.pack(net), data, RES, "mse")
    monkeypatch.setattr(core.neuron_maps, "CHUNK_ENTRIES", plan.n_neurons * 6 * 5)  # 5 points
    chunked = neuron_maps(plan, plan.pack(net), data, RES, "mse")
    np.testing.assert_allclose(chunked.maps, whole.maps, rtol=1e-12, atol=1e-15)
