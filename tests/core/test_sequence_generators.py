"""The sequence generators, each held to a property computed here by another method."""
import re
from collections import deque

import numpy as np
import pytest

from core.data.sequences import ECHO_DELAY, SEQUENCE_GENERATORS, generate_sequences
from core.errors import DataError


@pytest.mark.parametrize("name", sorted(SEQUENCE_GENERATORS))
def test_sequence_generators_are_seeded_and_shaped(name):
    x, y, mask, task, inputs, targets = generate_sequences(name, 30, 12, 0.1, seed=3)
    again = generate_sequences(name, 30, 12, 0.1, seed=3)
    other = generate_sequences(name, 30, 12, 0.1, seed=4)
    for a, b in zip((x, y, mask), again[:3]):
        assert np.array_equal(a, b)
    assert not np.array_equal(x, other[0])
    gen = SEQUENCE_GENERATORS[name]
    assert x.ndim == y.ndim == 3 and x.shape[:2] == y.shape[:2] == mask.shape
    assert len(x) == 30 and mask.dtype == bool
    assert x.shape[2] == len(inputs) == gen.n_inputs and y.shape[2] == len(targets)
    assert task == gen.task
    if gen.uses_length:
        assert x.shape[1] == 12 and mask.all()
    # Padding is at the end and zero: each row of the mask is True then False.
    lengths = mask.sum(axis=1)
    assert np.array_equal(mask, np.arange(mask.shape[1])[None, :] < lengths[:, None])
    assert not x[~mask].any() and not y[~mask].any()


def test_sine_next_targets_are_the_series_one_step_on():
    x, y, *_ = generate_sequences("sine_next", 50, 30, 0.2, seed=1)
    assert np.array_equal(y[:, :-1], x[:, 1:])  # the noisy series, one step on
    x, y, *_ = generate_sequences("sine_next", 50, 30, 0.0, seed=1)
    # Without noise it is a sine of period 20 steps: s(t+1) = 2 cos(w) s(t) - s(t-1).
    w = 2 * np.pi / 20
    s = np.concatenate([x[:, :, 0], y[:, -1:, 0]], axis=1)
    np.testing.assert_allclose(s[:, 2:], 2 * np.cos(w) * s[:, 1:-1] - s[:, :-2], atol=1e-12)
    assert np.abs(s).max() <= 1.0 and s[:, 0].std() > 0.5  # random phases, amplitude 1


def test_sine_next_noise_has_the_asked_deviation():
    noise = 0.3
    x, y, *_ = generate_sequences("sine_next", 2000, 20, noise, seed=2)
    s = np.concatenate([x[:, :, 0], y[:, -1:, 0]], axis=1)
    w = 2 * np.pi / 20
    # The recurrence cancels the sine and leaves e(t+1) - 2 cos(w) e(t) + e(t-1).
    residual = s[:, 2:] - 2 * np.cos(w) * s[:, 1:-1] + s[:, :-2]
    expected = noise * np.sqrt(2 + 4 * np.cos(w) ** 2)
    assert residual.std() == pytest.approx(expected, rel=0.03)


def test_echo_repeats_the_input_from_k_steps_ago():
    x, y, *_ = generate_sequences("echo", 40, 15, 0.5, seed=0)
    assert ECHO_DELAY == 3 and np.abs(x).max() <= 1.0
    for seq_x, seq_y in zip(x[:, :, 0], y[:, :, 0]):
        line = deque([0.0] * ECHO_DELAY)  # what came before the sequence: zeros
        for value, target in zip(seq_x, seq_y):
            line.append(value)
            assert target == line.popleft()


def test_echo_needs_more_steps_than_its_delay():
    with pytest.raises(DataError, match=r"^echo needs data.sequence_length of at least 4, not 3$"):
        generate_sequences("echo", 10, 3, 0.0, seed=0)


def test_parity_is_the_running_parity():
    x, y, *_ = generate_sequences("parity", 200, 25, 0.3, seed=5)
    bits = x[:, :, 0]
    assert set(np.unique(bits)) == {0.0, 1.0} and bits.mean() == pytest.approx(0.5, abs=0.02)
    # Another method: the sign of the product of (-1)^bit is -1 exactly when the count is odd.
    np.testing.assert_array_equal(y[:, :, 0], (1 - np.cumprod(1 - 2 * bits, axis=1)) / 2)


def test_adding_target_is_the_sum_of_the_marked_values():
    steps = 16
    x, y, *_ = generate_sequences("adding", 300, steps, 0.0, seed=7)
    values, markers = x[:, :, 0], x[:, :, 1]
    assert values.min() >= 0.0 and values.max() < 1.0
    assert set(np.unique(markers)) == {0.0, 1.0}
    for v, m, target in zip(values, markers, y[:, :, 0]):
        marked = np.flatnonzero(m)
        assert len(marked) == 2 and marked[0] < steps // 2 <= marked[1]
        assert target[-1] == pytest.approx(v[marked[0]] + v[marked[1]], abs=1e-15)
        total = 0.0  # before the end: the sum of the marked values so far
        for t in range(steps):
            total += v[t] if t in marked else 0.0
            assert target[t] == pytest.approx(total, abs=1e-15)
    # Both halves get their marker at every position over many sequences.
    firsts = np.argmax(markers, axis=1)
    assert set(firsts) == set(range(steps // 2))


# The embedded Reber grammar written out here from the diagram (Hochreiter & Schmidhuber 1997,
# fig. 5), independently of core.data.reber's tables: state -> {symbol: next state}.
REBER = {"start": {"B": 1}, 1: {"T": 2, "P": 3}, 2: {"S": 2, "X": 4}, 3: {"T": 3, "V": 5},
         4: {"X": 3, "S": 6}, 5: {"P": 4, "V": 6}, 6: {"E": "end"}}
# The same language as a regular expression: from state 4, C = (XT*VP)*(XT*VV|S); from
# state 3, A = T*V(PC|V).
C = r"(?:XT*VP)*(?:XT*VV|S)"
INNER = rf"B(?:TS*X{C}|PT*V(?:P{C}|V))E"
EMBEDDED = re.compile(rf"B(?:T{INNER}T|P{INNER}P)E")


def _next_symbols(prefix: str) -> set[str]:
    """The symbols that may follow `prefix` in the embedded grammar, by walking REBER."""
    if len(prefix) < 2:
        return {"B"} if not prefix else {"T", "P"}
    branch, inner = prefix[1], prefix[2:]
    state = "start"
    for symbol in inner:
        if state == "end":
            return {"E"}  # after the repeated branch symbol
        state = REBER[state][symbol]
    return {branch} if state == "end" else set(REBER[state])


def test_reber_strings_are_in_the_grammar_and_targets_are_the_possible_next_symbols():
    x, y, mask, task, inputs, targets = generate_sequences("reber", 400, 0, 0.0, seed=11)
    assert task == "regression" and inputs == list("BTPSXVE")
    branches = set()
    for xs, ys, m in zip(x, y, mask):
        string = "".join(inputs[i] for i in np.argmax(xs[m], axis=1)) + "E"
        assert EMBEDDED.fullmatch(string), string
        assert np.all(xs[m].sum(axis=1) == 1)  # one-hot
        for t in range(m.sum()):
            allowed = {inputs[i] for i in np.flatnonzero(ys[t])}
            assert allowed == _next_symbols(string[: t + 1]), (string, t)
            assert string[t + 1] in allowed
        # The step that needs memory: after the inner E, only the second symbol may come.
        assert {inputs[i] for i in np.flatnonzero(ys[m.sum() - 2])} == {string[1]}
        branches.add(string[1])
    assert branches == {"T", "P"}
    lengths = mask.sum(axis=1) + 1  # the final E is not a step
    assert lengths.min() == 9 and x.shape[1] == mask.sum(axis=1).max()


def test_reber_ignores_the_sequence_length():
    short = generate_sequences("reber", 20, 2, 0.0, seed=1)
    long = generate_sequences("reber", 20, 500, 0.0, seed=1)
    assert np.array_equal(short[0], long[0])


def test_too_many_steps_are_refused_before_anything_is_allocated():
    with pytest.raises(DataError, match=r"^parity: 1,000,000 sequences x 11 steps is "
                                        r"11,000,000 time steps; at most 10,000,000 are allowed$"):
        generate_sequences("parity", 1_000_000, 11, 0.0, seed=0)
    with pytest.raises(DataError, match=r"^reber: 2,000,000 strings padded to 6 steps or more "
                                        r"exceed 10,000,000 time steps; ask for fewer samples$"):
        generate_sequences("reber", 2_000_000, 0, 0.0, seed=0)


def test_unknown_sequence_generator_and_no_sequences_are_refused():
    with pytest.raises(DataError, match=r"^unknown sequence generator 'nope'; use one of "):
        generate_sequences("nope", 10, 10, 0.0, 0)
    with pytest.raises(DataError, match=r"^the number of sequences \(samples\) must be at "):
        generate_sequences("echo", 0, 10, 0.0, 0)
