"""The training process's loop (core.training.loop), driven directly through a queue and a pipe:
no process, no Qt. Each result is held to a Trainer the test runs itself."""
import contextlib
import multiprocessing
import queue
import signal
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from core.settings import TrainingSettings
from core.training.loop import TrainingLoop, serve
from core.training.progress import Progress
from core.training.trainer import Trainer
from tests.core.test_training import regression_data, small_net

SETTINGS = TrainingSettings(optimizer="adam", learning_rate=0.05, batch_size=4, seed=3)


@pytest.fixture(autouse=True)
def numpy_path(monkeypatch):
    """Bit-for-bit comparisons with Trainer.step: the NumPy path, whether or not the compiled
    kernel is ready (test_compiled.py holds the loop's compiled blocks to it, to ~1e-12)."""
    monkeypatch.setenv("BACKPROP_ENGINE", "numpy")


class Replies:
    """The window's end of the pipe, as the loop sees it: something with send()."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []

    def send(self, message: tuple) -> None:
        self.messages.append(message)

    def of(self, kind: str) -> list[tuple]:
        return [m for m in self.messages if m[0] == kind]


def drive(*commands, net=None, data=None, settings=SETTINGS, generation=0) -> Replies:
    """Run the loop over these commands (then quit) in this thread; what it sent back."""
    commands_in, replies = queue.Queue(), Replies()
    for command in commands + (("quit",),):
        commands_in.put(command)
    net = small_net() if net is None else net
    TrainingLoop(commands_in, replies, net, regression_data() if data is None else data,
                 settings, generation).loop()
    return replies


def reference(steps: int, net=None, settings=SETTINGS) -> Trainer:
    trainer = Trainer((small_net() if net is None else net).copy(), regression_data(), settings)
    trainer.evaluate()
    for _ in range(steps):
        trainer.step()
    return trainer


def theta(trainer: Trainer) -> np.ndarray:
    return trainer.plan.flatten(trainer.params)


def test_steps_report_one_progress_with_the_trainers_state():
    replies = drive(("steps", 5))
    (kind, generation, p), = replies.messages
    assert (kind, generation) == ("progress", 0)
    assert isinstance(p, Progress) and p.step == 5 and not p.running
    t = reference(5)
    np.testing.assert_array_equal(p.theta, theta(t))
    assert p.parameter_names == tuple(t.plan.parameter_names())
    assert p.edge_ids == t.plan.edge_ids
    np.testing.assert_array_equal(p.gradients, t.edge_gradients())
    assert p.evaluation == t.evaluate()  # a forced progress is evaluated afresh


def test_an_epoch_is_the_trainers_epoch_length():
    (_, _, p), = drive(("epoch",)).messages
    assert p.step == 4 and p.epoch == 1  # 16 samples in batches of 4


def test_adopted_edits_reach_the_run_and_trained_values_stay():
    window_doc = small_net()
    eid = next(iter(window_doc.edges))
    window_doc.set_weight(eid, 2.5)
    delta = window_doc.delta(frozenset({eid}), False)
    replies = drive(("steps", 3), ("adopt", delta, frozenset({eid}), False), ("steps", 2))
    first, second = (m[2] for m in replies.of("progress"))
    t = reference(3)
    np.testing.assert_array_equal(first.theta, theta(t))
    t.adopt_document(delta, frozenset({eid}), False)
    for _ in range(2):
        t.step()
    np.testing.assert_array_equal(second.theta, theta(t))


def test_a_structure_edit_is_adopted_before_the_next_step():
    window_doc = small_net()
    new = window_doc.add_neuron("hidden", "relu", bias=0.3).id
    inp, out = window_doc.inputs[0].id, window_doc.outputs[0].id
    e1, e2 = window_doc.connect(inp, new, 0.7).id, window_doc.connect(new, out, -0.4).id
    edited = frozenset({new, e1, e2})
    replies = drive(("steps", 2), ("adopt", window_doc.delta(edited, True), edited, True),
                    ("steps", 1))
    first, second = (m[2] for m in replies.of("progress"))
    assert len(second.theta) == len(first.theta) + 3
    assert f"bias:{new}" in second.parameter_names and e1 in second.edge_ids


def test_settings_take_effect_and_a_refusal_is_said_not_raised():
    faster = replace(SETTINGS, learning_rate=0.2)
    replies = drive(("steps", 2), ("settings", faster), ("steps", 2))
    t = reference(2)
    t.set_settings(faster)
    for _ in range(2):
        t.step()
    np.testing.assert_array_equal(replies.of("progress")[-1][2].theta, theta(t))

    replies = drive(("steps", 1), ("settings", replace(SETTINGS, loss="softmax_ce")))
    (_, generation, text), = replies.of("failed")
    assert generation == 0 and text.startswith("Cannot train:")


def test_without_data_training_is_refused_in_words():
    commands_in, replies = queue.Queue(), Replies()
    for command in (("steps", 1), ("quit",)):
        commands_in.put(command)
    TrainingLoop(commands_in, replies, small_net(), None, SETTINGS).loop()
    assert replies.messages == [("failed", 0, "Cannot train: there is no data (the data settings "
                                 "could not be used; see the Settings panel)")]


def test_every_message_carries_the_generation_of_its_document():
    other = small_net(seed=5)
    replies = drive(("steps", 1), ("document", 7, other, regression_data(), SETTINGS),
                    ("steps", 2), ("fresh_progress",), generation=3)
    assert [(m[0], m[1]) for m in replies.messages] == [
        ("progress", 3), ("progress", 7), ("fresh_progress", 7)]
    # a new document is a new run: its own weights, its step count from 0
    p = replies.messages[1][2]
    assert p.step == 2
    np.testing.assert_array_equal(p.theta, theta(reference(2, net=other)))


def test_restart_and_new_data_start_a_new_run():
    replies = drive(("steps", 3), ("restart",), ("steps", 1), ("data", regression_data(seed=9)),
                    ("fresh_progress",))
    steps = [m[2].step for m in replies.of("progress")]
    assert steps == [3, 1]
    assert replies.of("fresh_progress") == [("fresh_progress", 0, None)]  # no run on the new data


def test_a_new_run_can_take_a_generation_of_its_own():
    """The window numbers a restarted run (Reset weights) or one on new data like another
    document, so that a frame of the old run still in the pipe is dropped."""
    replies = drive(("steps", 2), ("restart", 4), ("steps", 1), ("data", regression_data(), 6),
                    ("steps", 1), generation=3)
    assert [(m[0], m[1], m[2].step) for m in replies.messages] == [
        ("progress", 3, 2), ("progress", 4, 1), ("progress", 6, 1)]


def test_the_trajectory_is_sent_whole_then_only_what_is_new():
    replies = drive(("steps", 3), ("trajectory", -1, -1), ("steps", 2), ("trajectory", 1, 3))
    (_, gen, number, steps, thetas, names), second = replies.of("trajectory")
    t = reference(3)
    assert (gen, number) == (0, 1) and list(steps) == [1, 2, 3]
    np.testing.assert_array_equal(thetas[-1], theta(t))
    assert names == tuple(t.plan.parameter_names())
    assert second[2] == 1 and list(second[3]) == [1, 2, 3, 4, 5] and len(second[4]) == 2


@contextlib.contextmanager
def loop_on_a_thread():
    """A loop running on a thread of its own, as in its process: (commands in, the window's
    end of the pipe); quit and joined at the end."""
    commands_in = queue.Queue()
    window_end, loop_end = multiprocessing.Pipe(duplex=False)
    loop = TrainingLoop(commands_in, loop_end, small_net(), regression_data(), SETTINGS)
    thread = threading.Thread(target=loop.loop, daemon=True)
    thread.start()
    try:
        yield commands_in, window_end
    finally:
        commands_in.put(("quit",))
        thread.join(10)
    assert not thread.is_alive()


def test_run_sends_running_and_progress_until_paused():
    with loop_on_a_thread() as (commands_in, window_end):
        commands_in.put(("run",))
        assert receive(window_end) == ("running", 0, True)
        kind, _, p = receive(window_end)
        assert kind == "progress" and p.running and p.step > 0
        # At most one progress in flight: the next waits until the window has drawn this one.
        assert not window_end.poll(0.2)
        commands_in.put(("drawn",))
        later = receive(window_end)[2]
        assert later.step > p.step
        commands_in.put(("pause",))
        messages = [receive(window_end) for _ in range(2)]
        assert messages[0] == ("running", 0, False)
        assert messages[1][0] == "progress" and not messages[1][2].running


@pytest.mark.parametrize("new_run", [("restart", 5), ("data", regression_data(seed=9), 5)])
def test_a_new_run_sends_frames_though_the_old_runs_last_one_was_dropped(new_run):
    """Pause sends a frame the window never answers when Reset (restart) or new data follows:
    it belongs to the old generation, so the window drops it without a "drawn". The new run
    must not wait for that answer: on main it sent no frame until the next pause, so the
    loss panel stayed empty and the Runs panel kept two points of the run."""
    with loop_on_a_thread() as (commands_in, window_end):
        commands_in.put(("run",))
        assert receive(window_end) == ("running", 0, True)
        assert receive(window_end)[0] == "progress"
        commands_in.put(("drawn",))
        commands_in.put(("pause",))
        while not ((m := receive(window_end))[0] == "progress" and not m[2].running):
            pass  # frames of the run until the pause's own
        commands_in.put(new_run)  # the window drops the pause's frame: no "drawn"
        commands_in.put(("run",))
        assert receive(window_end) == ("running", 5, True)
        kind, generation, p = receive(window_end, 5.0)
        assert (kind, generation) == ("progress", 5) and p.running and p.step > 0


def test_slow_motion_publishes_every_nth_step():
    with loop_on_a_thread() as (commands_in, window_end):
        commands_in.put(("speed", 3))
        commands_in.put(("run",))
        assert receive(window_end) == ("running", 0, True)
        shown = []
        for _ in range(3):
            shown.append(receive(window_end)[2].step)
            commands_in.put(("drawn",))
        assert shown == [3, 6, 9]


def test_a_loop_that_dies_says_what_of_first():
    commands_in, replies = queue.Queue(), Replies()
    commands_in.put(("steps", 1))
    commands_in.put(("settings", None))  # not settings: the loop raises
    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(AttributeError):
            serve(commands_in, replies, small_net(), regression_data(), SETTINGS, 4)
    finally:
        signal.signal(signal.SIGINT, before)
    kind, generation, text = replies.messages[-1]
    assert (kind, generation) == ("crashed", 4) and text.startswith("AttributeError")


def receive(end, seconds: float = 10.0) -> tuple:
    assert end.poll(seconds), "the loop sent nothing"
    return end.recv()


def evaluations_while_running(seconds: float, draw_seconds: float = 0.0) -> int:
    """Run the loop for `seconds`, answering each frame after `draw_seconds` (a window that
    takes that long to draw it); how many times the run was evaluated (points of its
    train-loss curve) by the pause."""
    with loop_on_a_thread() as (commands_in, window_end):
        for thread in threading.enumerate():  # a first compile holds the GIL for seconds
            if thread.name == "compile training kernel":
                thread.join(120)
        commands_in.put(("run",))
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            if window_end.poll(0.05) and window_end.recv()[0] == "progress":
                time.sleep(draw_seconds)
                commands_in.put(("drawn",))
        commands_in.put(("pause",))
        while not ((m := receive(window_end))[0] == "progress" and not m[2].running):
            pass
        return len(m[2].train_loss.x)


def test_a_small_net_is_evaluated_several_times_a_second_for_smooth_curves():
    """Its evaluation costs well under a millisecond: a point every EVALUATE_SECONDS (0.1 s).
    Every 0.25 s, a run of a few seconds was kept in the Runs panel as a few straight
    segments."""
    assert evaluations_while_running(1.5) >= 10  # about 16 on an idle machine; 8 before
    # Also when the window takes half a second to draw each frame (a loaded machine): the
    # run was evaluated only when a frame was made, 4 times in those 1.5 s.
    assert evaluations_while_running(1.5, draw_seconds=0.5) >= 10


def test_an_evaluation_that_costs_is_made_less_often(monkeypatch):
    """A big net's evaluation (two forward passes over all the data) takes at most
    EVALUATE_SHARE of the training time."""
    evaluate = Trainer.evaluate

    def slow(self):
        time.sleep(0.03)  # as a large data set would take: at most every 0.6 s
        return evaluate(self)
    monkeypatch.setattr(Trainer, "evaluate", slow)
    assert evaluations_while_running(1.5) <= 5  # the first, two or three, the pause's
