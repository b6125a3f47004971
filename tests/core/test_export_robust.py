"""Exports survive being killed, and the ONNX export grows linearly with depth."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.engine import compile_plan, predict
from core.export.formats import export_weights, import_weights
from core.network import Network
from core.project import MAX_NEURONS, Project, save_project
from core.templates import layered

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
sys.path.insert(0, {root!r})
from core.export.formats import export_weights
from core.project import load_project
net = load_project({project!r}).network
export_weights(net, "mse", {fmt!r}, {out!r})
print("ready", flush=True)
while True:
    export_weights(net, "mse", {fmt!r}, {out!r})
"""


def test_a_killed_export_leaves_the_previous_one_intact(tmp_path):
    """npz: its writing (one zip member per weight) is long enough to be killed half-way."""
    name = "w.npz"
    net = layered([30, 200, 10])  # 8,000 edges: most of an export's time is spent writing
    fmt = name.split(".")[1]
    rng = np.random.default_rng(0)
    net.set_values({e: float(rng.normal()) for e in net.edges}, {})
    project_file, out = tmp_path / "p.json", tmp_path / name
    save_project(Project(network=net), project_file)
    start = time.monotonic()
    export_weights(net, "mse", fmt, out)
    period = time.monotonic() - start  # one export; the child repeats them back to back
    rng = np.random.default_rng(1)
    killed_mid_write = 0
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", CHILD.format(
            root=str(ROOT), project=str(project_file), out=str(out), fmt=fmt)],
            stdout=subprocess.PIPE)
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.2, 1.5) * period)  # somewhere inside one of the writes
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        killed_mid_write += any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
        weights, _ = import_weights(net, out)
        assert weights == {e.id: e.weight for e in net.edges.values()}
    assert killed_mid_write >= 2  # the test did kill writes half-way (a temporary was left)
    export_weights(net, "mse", name.split(".")[1], out)  # removes what the kills left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["p.json", name])


def chain(depth: int, skip: bool = False) -> Network:
    """input -> h1 -> ... -> output; with skip, the input also feeds every neuron."""
    neurons = [{"id": "n0", "role": "input"}] + [
        {"id": f"n{i}", "role": "hidden", "activation": "tanh", "bias": 0.01}
        for i in range(1, depth)] + [
        {"id": f"n{depth}", "role": "output", "activation": "identity"}]
    edges = [{"id": f"e{i}", "source": f"n{i - 1}", "target": f"n{i}", "weight": 0.9}
             for i in range(1, depth + 1)]
    if skip:
        edges += [{"id": f"s{i}", "source": "n0", "target": f"n{i}", "weight": 0.1}
                  for i in range(2, depth + 1)]
    return Network.from_dict({"neurons": neurons, "edges": edges})


@pytest.mark.parametrize("skip", [False, True])
def test_onnx_size_is_linear_in_depth(tmp_path, skip):
    sizes = []
    for depth in (500, 1000, 2000):
        path = tmp_path / f"c{depth}.onnx"
        export_weights(chain(depth, skip), "mse", "onnx", path)
        sizes.append(path.stat().st_size)
    assert 1.8 < sizes[1] / sizes[0] < 2.2 and 1.8 < sizes[2] / sizes[1] < 2.2, sizes


def test_onnx_of_the_deepest_chain_a_project_may_hold_exports_in_bounded_time(tmp_path):
    import onnxruntime as ort

    net = chain(MAX_NEURONS - 1)
    start = time.monotonic()
    export_weights(net, "mse", "onnx", tmp_path / "deep.onnx")
    assert time.monotonic() - start < 60
    assert (tmp_path / "deep.onnx").stat().st_size < 10 * 2**20  # 3.3 MB; it was quadratic
    small = tmp_path / "c300.onnx"  # and a chain onnxruntime loads quickly gives its numbers
    c300 = chain(300)
    export_weights(c300, "mse", "onnx", small)
    y = ort.InferenceSession(str(small)).run(None, {"x": np.array([[0.5]], np.float32)})[0]
    plan = compile_plan(c300)
    np.testing.assert_allclose(y, predict(plan, plan.pack(c300), np.array([[0.5]])), atol=1e-5)


def test_an_onnx_model_over_the_protobuf_limit_is_refused_and_nothing_written(tmp_path,
                                                                              monkeypatch):
    import core.export.onnx_model
    from core.export.formats import ExportError

    monkeypatch.setattr(core.export.onnx_model, "MAX_BYTES", 1000)  # stands for protobuf's 2 GB
    with pytest.raises(ExportError, match="ONNX files are limited to 2 GB"):
        export_weights(layered([20, 20, 2]), "mse", "onnx", tmp_path / "big.onnx")
    assert list(tmp_path.iterdir()) == []
