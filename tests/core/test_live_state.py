"""The live state the window's panels draw from (core.training.live_state): the one place for
"the progress's parameters, else the document's", and one compiled plan per structure version."""
import queue
from unittest import mock

import numpy as np

from core.engine import plan as plan_module
from core.settings import TrainingSettings
from core.training.live_state import LiveState
from core.training.loop import TrainingLoop
from tests.core.test_training import regression_data, small_net
from tests.core.test_training_loop import Replies


def trained_progress(net, steps=3):
    """A Progress as the training process sends it, after `steps` steps on a copy of `net`."""
    commands, replies = queue.Queue(), Replies()
    commands.put(("steps", steps))
    commands.put(("quit",))
    TrainingLoop(commands, replies, net.copy(), regression_data(), TrainingSettings()).loop()
    return replies.of("progress")[-1][2]


def document_theta(live):
    plan = live.plan
    return plan.flatten(plan.pack(live.network))


def test_the_progress_theta_is_the_current_one_until_a_structure_edit():
    net = small_net()
    live = LiveState(net, regression_data(), TrainingSettings(loss="huber"))
    np.testing.assert_array_equal(live.theta(), document_theta(live))  # no run yet
    p = trained_progress(net)
    live.progress = p
    assert not np.array_equal(p.theta, document_theta(live))
    np.testing.assert_array_equal(live.theta(), p.theta)
    np.testing.assert_array_equal(live.plan.flatten(live.params()), p.theta)
    assert live.loss == "huber"

    net.set_activation(net.outputs[0].id, "tanh")  # same parameters, another structure
    np.testing.assert_array_equal(live.theta(), document_theta(live))
    net.add_neuron("hidden", "relu")
    theta = live.theta()
    assert len(theta) == len(p.theta) + 1
    np.testing.assert_array_equal(theta, document_theta(live))
    np.testing.assert_array_equal(live.plan.flatten(live.params()), theta)


def test_a_progress_about_other_parameters_is_not_taken_for_the_current_one():
    net = small_net()
    live = LiveState(net, regression_data(), TrainingSettings())
    other = small_net()
    other.disconnect(next(iter(other.edges)))  # one edge fewer, one bias more: the same count, other parameters
    other.add_neuron("hidden", "tanh")
    p = trained_progress(other)
    assert len(p.theta) == live.plan.n_parameters  # the count alone would match
    live.progress = p
    np.testing.assert_array_equal(live.theta(), document_theta(live))


def test_the_plan_is_compiled_once_per_structure_version():
    net = small_net()
    live = LiveState(net, regression_data(), TrainingSettings())
    live.progress = trained_progress(net)
    with mock.patch.object(plan_module, "compile_plan", wraps=plan_module.compile_plan) as compiled:
        plans = {id(live.plan) for _ in range(50)}
        for _ in range(50):
            live.theta()
            live.params()
        assert compiled.call_count == 1 and len(plans) == 1
        net.set_weight(next(iter(net.edges)), 0.25)  # values: the same plan
        live.theta()
        assert compiled.call_count == 1
        net.add_neuron("hidden", "tanh")
        for _ in range(20):
            live.theta()
        assert compiled.call_count == 2


def test_a_new_document_brings_its_dataset_and_no_progress():
    net = small_net()
    live = LiveState(net, regression_data(), TrainingSettings())
    live.progress = trained_progress(net)
    other_net, other_data = small_net(seed=7), regression_data(n=8, seed=2)
    live.load_document(other_net, other_data, TrainingSettings(loss="huber"))
    assert live.network is other_net and live.data is other_data and live.loss == "huber"
    assert live.progress is None
    np.testing.assert_array_equal(live.theta(), document_theta(live))
    live.progress = trained_progress(other_net)
    live.set_data(regression_data(n=4))
    assert live.progress is None and len(live.data.x_train) == 4


def test_the_minibatch_report_counts_only_for_the_data_and_structure_it_is_about():
    net = small_net()
    live = LiveState(net, regression_data(), TrainingSettings(batch_size=4))
    commands, replies = queue.Queue(), Replies()
    for command in (("minibatch", 5), ("steps", 2), ("quit",)):
        commands.put(command)
    TrainingLoop(commands, replies, net.copy(), regression_data(),
                 TrainingSettings(batch_size=4)).loop()
    p = replies.of("progress")[-1][2]
    live.progress = p
    assert live.minibatch() is p.minibatch and len(p.minibatch.rows) == 4
    live.data = regression_data(n=3)  # fewer rows than the report's indices reach
    assert live.minibatch() is None
    live.data = regression_data()
    assert live.minibatch() is p.minibatch
    live.set_data(regression_data(seed=4))  # other data: a new run, no report yet
    assert live.minibatch() is None
    live.data, live.progress = regression_data(), p
    net.add_neuron("hidden", "relu")  # a structure edit: the report was about the one before
    assert live.minibatch() is None
    live.progress = trained_progress(net)  # asked for nothing
    assert live.minibatch() is None
