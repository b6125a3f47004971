"""Backpropagation through time against another framework's autograd (issue 17's oracle).

Random recurrent projects are written as JSON dicts in the documented file format
(docs/file-format.md) and opened with Project.from_dict, the path a user's file takes. The
engine's loss and gradient are then compared with PyTorch's autograd on the same dict, unrolled
here in torch from the file's fields alone (never the engine's Plan, registries or code): at
step t each neuron's net input is its bias + w * a_src(t) over ordinary edges + w * a_src(t-1)
over delayed edges (0 at the first step), in a topological order of the ordinary edges worked
out here. The activations and losses are torch's own functions, named as the file names them.
Truncated BPTT is the frameworks' way: the state entering each window of k steps is detached.

PyTorch is not a dependency of the project: without it this file is skipped.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.activations import ACTIVATIONS
from core.data.dataset import make_dataset
from core.engine import compile_plan
from core.engine.recurrent import sequence_loss_and_gradients
from core.losses import HUBER_DELTA, LOSSES, SEQUENCE_LOSSES
from core.project import Project, load_project
from core.training.trainer import Trainer

torch = pytest.importorskip("torch")
F = torch.nn.functional

ROOT = Path(__file__).resolve().parents[2]
# Two float64 computations of one sum in different orders. Over 2,000 random cases (more
# than the ones here) the worst disagreements were 1.5e-14 (loss) and 1.6e-12 (a gradient of
# 1e-5, a sum of terms that nearly cancel): these bounds leave a margin of 100.
LOSS_RTOL = 1e-12
GRAD_RTOL = 1e-10
# Gradients that are zero in exact arithmetic come out as rounding noise on one side or
# the other (a sum of terms that cancel): below this they count as equal.
GRAD_ATOL = 1e-13

HUBER = 1.0  # Huber's delta, as README's list of losses states ("Huber (delta 1)")

# The file's activation names, each written in torch. softplus is log(1 + e^z) exactly
# (torch's F.softplus switches to z above 20, an approximation of ~1e-9 there).
TORCH_ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    "elu": lambda z: F.elu(z, alpha=1.0),
    "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
}


def _softmax_ce(z, a, y):
    # Softmax over the outputs' activations, cross-entropy with the one-hot targets, the mean
    # over the rows (the (step, sequence) pairs the loss reads).
    return F.cross_entropy(a, y, reduction="mean")


# The file's loss names, each written in torch: (z, a, y) of the rows the loss reads, each row
# one (step, sequence) pair, each column one output -> the loss.
TORCH_LOSSES = {
    "mse": lambda z, a, y: F.mse_loss(a, y, reduction="mean"),
    "huber": lambda z, a, y: F.huber_loss(a, y, reduction="mean", delta=HUBER),
    # from the outputs' net inputs: bce demands sigmoid outputs
    "bce": lambda z, a, y: F.binary_cross_entropy_with_logits(z, y, reduction="mean"),
    "softmax_ce": _softmax_ce,
}


def test_the_oracle_knows_every_activation_and_loss_the_app_has():
    """A new registry entry needs its torch form here, or this oracle silently skips it."""
    assert set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)
    assert set(TORCH_LOSSES) == set(LOSSES)
    assert set(SEQUENCE_LOSSES) == {"every", "last"}
    assert HUBER_DELTA == HUBER


# --- random projects, as files -------------------------------------------------------------


def random_project(rng: np.random.Generator, loss: str, kind: str, bptt: int,
                   width: tuple[int, int] | None = None) -> dict:
    """A recurrent project in the file format: 1-3 inputs, 0-4 hidden, 1-3 outputs (2-3 for
    softmax_ce; sigmoid for bce), random activations, ordinary edges forward in a random
    order of the non-inputs (skip edges among them), delayed edges from any neuron to any
    non-input (self-loops and outputs fed back among them); neurons and edges shuffled in the
    document, so that only the roles' document order says which column is which. width:
    (inputs, outputs), as many as the data's columns."""
    n_in, n_hid = int(rng.integers(1, 4)), int(rng.integers(0, 5))
    n_out = int(rng.integers(2 if loss == "softmax_ce" else 1, 4))
    if width is not None:
        n_in, n_out = width
    roles = ["input"] * n_in + ["hidden"] * n_hid + ["output"] * n_out
    ids = [f"n{k}" for k in rng.permutation(len(roles))]
    names = sorted(ACTIVATIONS)
    neurons = []
    for nid, role in zip(ids, roles):
        activation = "identity" if role == "input" else str(rng.choice(names))
        if role == "output" and loss == "bce":
            activation = "sigmoid"
        # an input's bias is in the file but ignored (docs): a random one checks that
        neurons.append({"id": nid, "role": role, "activation": activation,
                        "bias": float(rng.normal(0.0, 0.5))})
    rank = {nid: (-1 if role == "input" else int(r))
            for nid, role, r in zip(ids, roles, rng.permutation(len(roles)))}
    role_of = dict(zip(ids, roles))
    edges, used = [], set()
    for s in ids:
        for t in ids:
            if role_of[t] == "input":
                continue
            instant = role_of[s] != "output" and rank[s] < rank[t]  # outputs only feed back
            if instant and rng.random() < 0.5:
                edges.append({"source": s, "target": t, "weight": float(rng.normal(0.0, 0.8))})
                used.add((s, t))
    delayed_pairs = [(s, t) for s in ids for t in ids
                     if role_of[t] != "input" and (s, t) not in used]
    for k in rng.permutation(len(delayed_pairs))[: int(rng.integers(1, 6))]:
        s, t = delayed_pairs[k]
        edges.append({"source": s, "target": t, "weight": float(rng.normal(0.0, 0.8)),
                      "delay": 1})
    order = rng.permutation(len(edges))
    edges = [{"id": f"e{i}", **edges[k]} for i, k in enumerate(order)]
    return {"format": 1, "neurons": [neurons[k] for k in rng.permutation(len(neurons))],
            "edges": edges,
            "training": {"loss": loss, "sequence_loss": kind, "bptt_steps": bptt}}


def random_sequences(rng: np.random.Generator, doc: dict, loss: str):
    """(x, y, mask): 1-4 sequences of 1-7 steps, of different lengths, padded at the end with
    values that must not matter (random, not zeros)."""
    n_in = sum(n["role"] == "input" for n in doc["neurons"])
    n_out = sum(n["role"] == "output" for n in doc["neurons"])
    b, t = int(rng.integers(1, 5)), int(rng.integers(1, 8))
    x = rng.normal(size=(b, t, n_in))
    if loss == "softmax_ce":
        y = np.eye(n_out)[rng.integers(0, n_out, size=(b, t))]
    elif loss == "bce":
        y = rng.random((b, t, n_out))
    else:
        y = rng.normal(0.0, 1.5, size=(b, t, n_out))  # huber: both sides of its delta
    lengths = rng.integers(1, t + 1, size=b)
    lengths[rng.integers(0, b)] = t
    return x, y, np.arange(t)[None, :] < lengths[:, None]


# --- the net in torch, from the dict alone ---------------------------------------------------


def ordinary_order(doc: dict) -> list[str]:
    """The non-input neurons in an order where every ordinary edge goes forward (Kahn)."""
    todo = [n["id"] for n in doc["neurons"] if n["role"] != "input"]
    ordinary = [e for e in doc["edges"] if not e.get("delay", 0)]
    order: list[str] = []
    while todo:
        ready = [nid for nid in todo
                 if all(e["source"] in order or e["source"] not in todo
                        for e in ordinary if e["target"] == nid)]
        assert ready, "the ordinary edges hold a cycle"
        order += ready
        todo = [nid for nid in todo if nid not in ready]
    return order


def torch_loss_and_gradients(doc: dict, x: np.ndarray, y: np.ndarray, mask: np.ndarray
                             ) -> tuple[float, dict[str, float]]:
    """The loss and d loss / d parameter by torch's autograd, keyed as the engine's names
    (edge ids, "bias:<neuron id>")."""
    training = doc["training"]
    kind, bptt = training["sequence_loss"], training["bptt_steps"]
    neurons = {n["id"]: n for n in doc["neurons"]}
    inputs = [n["id"] for n in doc["neurons"] if n["role"] == "input"]
    outputs = [n["id"] for n in doc["neurons"] if n["role"] == "output"]
    weight = {e["id"]: torch.tensor(e["weight"], dtype=torch.float64, requires_grad=True)
              for e in doc["edges"]}
    bias = {nid: torch.tensor(n["bias"], dtype=torch.float64, requires_grad=True)
            for nid, n in neurons.items() if n["role"] != "input"}
    order = ordinary_order(doc)
    into = {nid: [e for e in doc["edges"] if e["target"] == nid] for nid in order}
    b, t_len, _ = x.shape
    xt = torch.tensor(x, dtype=torch.float64)
    before = {nid: torch.zeros(b, dtype=torch.float64) for nid in neurons}  # a(0) = 0
    zs, as_ = [], []
    for t in range(t_len):
        if bptt and t and t % bptt == 0:  # a new window: its incoming state is a constant
            before = {nid: v.detach() for nid, v in before.items()}
        a = {nid: xt[:, t, inputs.index(nid)] for nid in inputs}
        z = {}
        for nid in order:
            net = bias[nid] * torch.ones(b, dtype=torch.float64)
            for e in into[nid]:
                src = before[e["source"]] if e.get("delay", 0) else a[e["source"]]
                net = net + weight[e["id"]] * src
            z[nid] = net
            a[nid] = TORCH_ACTIVATIONS[neurons[nid]["activation"]](net)
        zs.append(torch.stack([z[o] for o in outputs], dim=1))  # (sequences x outputs)
        as_.append(torch.stack([a[o] for o in outputs], dim=1))
        before = a
    rows = [(t, s) for t in range(t_len) for s in range(b) if mask[s, t]] if kind == "every" \
        else [(int(np.flatnonzero(mask[s])[-1]), s) for s in range(b)]
    z_rows = torch.stack([zs[t][s] for t, s in rows])
    a_rows = torch.stack([as_[t][s] for t, s in rows])
    y_rows = torch.tensor(np.array([y[s, t] for t, s in rows]), dtype=torch.float64)
    value = TORCH_LOSSES[training["loss"]](z_rows, a_rows, y_rows)
    value.backward()
    grads = {eid: w.grad for eid, w in weight.items()}
    grads.update({f"bias:{nid}": v.grad for nid, v in bias.items()})
    return float(value.detach()), {k: 0.0 if g is None else float(g) for k, g in grads.items()}


def engine_loss_and_gradients(doc: dict, x, y, mask) -> tuple[float, dict[str, float]]:
    """The engine's, on the project opened from the dict, with the file's training settings."""
    project = Project.from_dict(json.loads(json.dumps(doc)))
    training = project.training
    plan = compile_plan(project.network)
    value, grads = sequence_loss_and_gradients(
        plan, plan.pack(project.network), x, y, mask, training.loss, training.sequence_loss,
        training.bptt_steps)
    return value, dict(zip(plan.parameter_names(), plan.flatten(grads)))


# --- the comparisons ------------------------------------------------------------------------

CASES = [(loss, kind, bptt, seed) for loss in sorted(TORCH_LOSSES) for kind in ("every", "last")
         for bptt in (0, 1, 2, 3) for seed in range(3)]


@pytest.mark.parametrize("loss,kind,bptt,seed", CASES)
def test_bptt_equals_torch_autograd_on_a_random_recurrent_project(loss, kind, bptt, seed):
    rng = np.random.default_rng([seed, bptt, len(loss), kind == "last"])
    doc = random_project(rng, loss, kind, bptt)
    x, y, mask = random_sequences(rng, doc, loss)
    engine_value, engine = engine_loss_and_gradients(doc, x, y, mask)
    torch_value, expected = torch_loss_and_gradients(doc, x, y, mask)
    assert engine_value == pytest.approx(torch_value, rel=LOSS_RTOL, abs=0.0)
    assert set(engine) == set(expected)
    for name, g in expected.items():
        assert engine[name] == pytest.approx(g, rel=GRAD_RTOL, abs=GRAD_ATOL), \
            (name, json.dumps(doc))


def features(doc: dict) -> set[str]:
    """What a project exercises, said from its file."""
    role = {n["id"]: n["role"] for n in doc["neurons"]}
    found = {f"activation:{n['activation']}" for n in doc["neurons"] if n["role"] != "input"}
    depth = {n["id"]: 0 for n in doc["neurons"]}
    for nid in ordinary_order(doc):
        depth[nid] = 1 + max([depth[e["source"]] for e in doc["edges"]
                              if e["target"] == nid and not e.get("delay", 0)], default=-1)
    for e in doc["edges"]:
        s, t = e["source"], e["target"]
        if e.get("delay", 0):
            found.add("self-loop" if s == t else f"delayed from {role[s]}")
        elif depth[t] - depth[s] > 1:
            found.add("skip edge")
    return found


def test_the_random_projects_reach_everything_the_oracle_is_for():
    """Across the cases: every activation, self-loops, outputs fed back (Jordan), delayed
    edges from inputs and hidden neurons, skip edges; sequences of different lengths."""
    seen, uneven = set(), 0
    for loss, kind, bptt, seed in CASES:
        rng = np.random.default_rng([seed, bptt, len(loss), kind == "last"])
        doc = random_project(rng, loss, kind, bptt)
        x, y, mask = random_sequences(rng, doc, loss)
        seen |= features(doc)
        uneven += not mask.all()
    wanted = {f"activation:{a}" for a in ACTIVATIONS} | {
        "self-loop", "delayed from output", "delayed from input", "delayed from hidden",
        "skip edge"}
    assert wanted <= seen, wanted - seen
    assert uneven >= len(CASES) // 4


# --- written files, through the Trainer and the command line -------------------------------

# (data, loss, sequence_loss, bptt_steps, seed): each sequence generator, and a CSV of
# sequences of different lengths whose 3 classes make one-hot targets for softmax_ce.
DATA_FILES = [
    ("echo", "mse", "every", 0, 1),
    ("sine_next", "huber", "last", 2, 2),
    ("parity", "bce", "last", 1, 3),
    ("adding", "mse", "last", 3, 4),
    ("reber", "bce", "every", 3, 5),
    ("csv", "softmax_ce", "every", 2, 6),
]
WIDTH = {"echo": (1, 1), "sine_next": (1, 1), "parity": (1, 1), "adding": (2, 1),
         "reber": (7, 7), "csv": (2, 3)}  # the data's (inputs, targets)


def written_project(folder: Path, source: str, loss: str, kind: str, bptt: int, seed: int
                    ) -> tuple[Path, dict]:
    """A random recurrent project with `source`'s data, written to folder as a user's file."""
    rng = np.random.default_rng(seed)
    doc = random_project(rng, loss, kind, bptt, width=WIDTH[source])
    if source == "csv":
        lines = ["run,x1,x2,label"]
        for k, length in enumerate(rng.permutation([2, 3, 5, 5, 4, 1, 5, 3, 2, 4])):
            lines += [f"s{k},{u:.6f},{v:.6f},{'abc'[c]}" for u, v, c in
                      zip(rng.normal(size=length), rng.normal(size=length),
                          rng.integers(0, 3, size=length))]
        (folder / "runs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        doc["data"] = {"source": "csv", "csv_path": "runs.csv", "input_columns": ["x1", "x2"],
                       "target_columns": ["label"], "task": "classification",
                       "sequence_column": "run", "test_fraction": 0.2, "seed": seed}
    else:
        doc["data"] = {"generator": source, "samples": 12, "sequence_length": 6, "seed": seed}
    path = folder / "random_recurrent.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path, doc


@pytest.mark.parametrize("source,loss,kind,bptt,seed", DATA_FILES)
def test_a_training_step_on_a_written_file_takes_torchs_gradient(tmp_path, source, loss, kind,
                                                                 bptt, seed):
    """The user's path: the file loaded with its data (padding and masks as the data make
    them), one full-batch step of the Trainer; its loss and gradient are torch's."""
    path, doc = written_project(tmp_path, source, loss, kind, bptt, seed)
    project = load_project(path)
    data = make_dataset(project.data, tmp_path)
    assert data.is_sequence and data.x_train.shape[2:] == (WIDTH[source][0],)
    settings = replace(project.training, optimizer="sgd", batch_size=0)
    trainer = Trainer(project.network, data, settings)
    trainer.step()
    engine = dict(zip(trainer.plan.parameter_names(),
                      trainer.plan.flatten(trainer.last_gradients)))
    mask = np.ones(data.x_train.shape[:2], bool) if data.mask_train is None else data.mask_train
    value, expected = torch_loss_and_gradients(doc, data.x_train, data.y_train, mask)
    assert trainer.batch_loss.y[-1] == pytest.approx(value, rel=LOSS_RTOL, abs=0.0)
    assert set(engine) == set(expected)
    for name, g in expected.items():
        assert engine[name] == pytest.approx(g, rel=GRAD_RTOL, abs=GRAD_ATOL), name


@pytest.mark.parametrize("source,loss,kind,bptt,seed", DATA_FILES)
def test_gradcheck_command_passes_on_a_written_random_recurrent_file(tmp_path, source, loss,
                                                                     kind, bptt, seed):
    """`python main.py gradcheck FILE`, run as a user would, on the same files."""
    path, _ = written_project(tmp_path, source, loss, kind, bptt, seed)
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "gradcheck", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.startswith("OK") and "sequences of" in done.stdout, done.stdout
