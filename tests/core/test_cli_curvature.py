"""`python main.py curvature`: the printed eigenvalues against a Hessian built here from
second differences of the loss value on the file's training split, and bad input."""
from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest

from core import cli
from core.data.dataset import make_dataset
from core.engine import compile_plan
from core.project import load_project, save_project
from core.templates import chain, classifier_2881, xor
from tests.core.test_cli import run_main
from tests.core.test_curvature import value_hessian


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["curvature", *map(str, args)], out, err)
    return code, out.getvalue(), err.getvalue()


def parse(out: str) -> tuple[np.ndarray, str]:
    lines = out.strip().splitlines()
    return np.array([float(v) for v in lines[:-1]]), lines[-1]


def reference(path, indices=None) -> np.ndarray:
    """Eigenvalues, largest first, of the Hessian of the train split's loss plus L2."""
    project = load_project(path)
    data = make_dataset(project.data, path.parent)
    plan = compile_plan(project.network)
    theta = plan.flatten(plan.pack(project.network))
    x, y = plan.inputs_from(data.x_train), data.y_train
    h = value_hessian(plan, theta, x, y, project.training.loss, project.training.l2)
    if indices is None:
        indices = np.flatnonzero(plan.trainable_vector())
    return np.sort(np.linalg.eigvalsh(h[np.ix_(indices, indices)]))[::-1]


def test_every_eigenvalue_largest_first_and_the_condition_number(tmp_path):
    project = classifier_2881()
    project.training = replace(project.training, l2=0.01, l1=0.001)
    project.data = replace(project.data, samples=60, test_fraction=0.25)
    path = tmp_path / "c.json"
    save_project(project, path)
    code, out, err = run(path)
    assert code == 0, err
    values, last = parse(out)
    ref = reference(path)
    assert len(values) == compile_plan(project.network).n_parameters
    np.testing.assert_allclose(values, ref, atol=1e-5 * np.abs(ref).max())
    assert np.all(np.diff(values) <= 0)
    mags = np.abs(values)
    assert last == f"condition number: {mags.max() / mags.min():.6g}"


def test_chosen_parameters_and_top_k(tmp_path):
    path = tmp_path / "xor.json"
    save_project(xor(), path)
    plan = compile_plan(load_project(path).network)
    names = plan.parameter_names()
    chosen = [names[0], names[3], names[-1]]
    code, out, _ = run(path, "--params", ",".join(chosen))
    assert code == 0
    values, _ = parse(out)
    ref = reference(path, np.array([names.index(n) for n in chosen]))
    np.testing.assert_allclose(values, ref, atol=1e-6 * np.abs(ref).max())
    code, out, _ = run(path, "--top", "2")
    values, last = parse(out)
    full = reference(path)
    np.testing.assert_allclose(values, full[:2], rtol=1e-5)
    mags = np.abs(full)  # from every eigenvalue, not the two printed
    assert float(last.split(": ")[1]) == pytest.approx(mags.max() / mags.min(), rel=1e-3)


def test_frozen_parameters_are_left_out_unless_named(tmp_path):
    path = tmp_path / "chain.json"
    save_project(chain(), path)
    code, out, _ = run(path)
    values, _ = parse(out)
    assert len(values) == 2  # w1 and w2: the biases are frozen
    np.testing.assert_allclose(values, reference(path), rtol=1e-6)


def test_a_net_too_large_for_every_eigenvalue_gets_its_top_ones(tmp_path):
    from core.templates import layered
    from core.project import Project
    from core.settings import DataSettings, TrainingSettings

    net = layered([2, 60, 50, 1])
    rng = np.random.default_rng(0)
    net.set_values({e: float(rng.normal(0, 0.3)) for e in net.edges})
    project = Project(net, DataSettings(generator="circles", samples=40), TrainingSettings())
    path = tmp_path / "big.json"
    save_project(project, path)
    code, out, err = run(path)
    assert code == 2 and "--top" in err and err.count("\n") == 1
    code, out, err = run(path, "--top", "1")
    assert code == 0, err
    values, last = parse(out)
    assert len(values) == 1 and "unknown" in last


@pytest.mark.parametrize("args, words", [
    (["--params", "nope"], "unknown parameter 'nope'"),
    (["--params", ","], "at least one"),
    (["--params", "e1,e1"], "twice"),
    (["--top", "0"], "between 1"),
    (["--top", "x"], "whole number"),
])
def test_bad_input_one_line_exit_2(tmp_path, args, words):
    path = tmp_path / "xor.json"
    save_project(xor(), path)
    proc = run_main("curvature", str(path), *args)
    assert proc.returncode == 2
    assert words in proc.stderr and proc.stderr.count("\n") == 1 and not proc.stdout


def test_missing_or_broken_file(tmp_path):
    assert run(tmp_path / "none.json")[0] == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run(bad)
    assert code == 2 and err.count("\n") == 1
