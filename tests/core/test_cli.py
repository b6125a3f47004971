"""The headless command line, run as a user would: a real subprocess for the exit codes and
stderr, in-process for the numbers."""
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import cli
from core.project import load_project, save_project
from core.templates import xor

ROOT = Path(__file__).resolve().parents[2]


def run_main(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.fixture
def xor_file(tmp_path):
    path = tmp_path / "xor.json"
    save_project(xor(), path)
    return path


def test_train_writes_the_trained_project_and_a_final_line(xor_file, tmp_path):
    out_path = tmp_path / "trained.json"
    proc = run_main("train", str(xor_file), "--epochs", "3000", "-o", str(out_path))
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("after 3000 epochs: train loss") and "train accuracy 100.0%" in last
    assert "epoch" in proc.stderr  # the progress bar
    trained, before = load_project(out_path), load_project(xor_file)
    assert not trained.network.same_as(before.network)
    # The final loss printed is the loss of the written weights, computed independently here.
    from core.engine import compile_plan, predict
    plan = compile_plan(trained.network)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    y = np.array([[0], [1], [1], [0]], float)
    mse = float(np.mean((predict(plan, plan.pack(trained.network), x) - y) ** 2))
    assert f"train loss {mse:.6g}" in last


def test_train_default_output_sits_beside_the_file(xor_file):
    proc = run_main("train", str(xor_file), "--epochs", "5", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert xor_file.with_suffix(".trained.json").exists()
    assert proc.stderr == ""


def test_gradcheck_passes_on_an_example_and_reports_the_worst_parameter(xor_file):
    proc = run_main("gradcheck", str(xor_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("OK: largest relative error")
    assert " at edge " in proc.stdout or " at the bias of " in proc.stdout


def test_gradcheck_fails_with_exit_1_when_backprop_is_wrong(xor_file, monkeypatch):
    import core.gradcheck

    real = core.gradcheck.loss_and_gradients

    def broken(*args, **kw):
        value, grads = real(*args, **kw)
        grads.weights[0] *= 1.01  # a 1% error in the first level's gradients
        return value, grads

    monkeypatch.setattr(core.gradcheck, "loss_and_gradients", broken)
    out = io.StringIO()
    assert cli.main(["gradcheck", str(xor_file)], out, io.StringIO()) == 1
    assert out.getvalue().startswith("FAILED")


@pytest.mark.parametrize("args, message", [
    (["train", "missing.json"], "missing.json"),
    (["train", "{file}", "--epochs", "zero"], "not a whole number"),
    (["export", "{file}", "--format", "xls", "-o", "x"], "unknown format"),
    (["frobnicate"], "error"),
    (["train"], "file"),
])
def test_bad_arguments_give_one_line_and_exit_2(xor_file, args, message):
    args = [a.format(file=xor_file) for a in args]
    proc = run_main(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr


def test_a_corrupt_project_file_gives_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": 1, "neurons": [{"id": "n1", "role": "wizard"}],
                               "edges": []}))
    proc = run_main("train", str(bad))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "bad.json" in proc.stderr


def test_export_npz_holds_every_edge_and_bias(xor_file, tmp_path):
    out = tmp_path / "w.npz"
    proc = run_main("export", str(xor_file), "--format", "npz", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    project = load_project(xor_file)
    with np.load(out) as npz:
        text = " ".join(npz.files)
        for eid in project.network.edges:
            assert eid in text


def run_cli(*args):
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(args), out, err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name, fmt", [("w.npz", "npz"), ("w.JSON", "json"), ("w.onnx", "onnx"),
                                       ("w.py", "py"), ("tables", "csv")])
def test_export_takes_the_format_from_the_output_name(xor_file, tmp_path, name, fmt):
    from core.export.formats import existing_kind
    code, out, err = run_cli("export", str(xor_file), "-o", str(tmp_path / name))
    assert code == 0, err
    assert out.strip() == f"wrote {tmp_path / name} ({fmt})"
    if fmt == "csv":
        assert (tmp_path / name / "layer1.csv").is_file()
    else:
        assert existing_kind(tmp_path / name) == fmt


@pytest.mark.parametrize("args, message", [
    (["--format", "npz", "-o", "{tmp}/model.onnx"], "model.onnx names the onnx format but the chosen format is npz; drop --format or change -o"),
    (["--format", "csv", "-o", "{tmp}/model.py"], "names the py format"),
    (["-o", ""], "the output name is empty"),
    (["--format", "npz", "-o", ""], "the output name is empty"),
    (["-o", "{tmp}/w.txt"], ".txt names no export format"),
    (["-o", "{file}"], "is the project being exported"),
    (["--format", "json", "-o", "{file}"], "is the project being exported"),
    (["-o", "{tmp}/link.json"], "is the project being exported"),
    (["-o", "{tmp}/../{tmp_name}/./xor.json"], "is the project being exported"),
    (["-o", "{tmp}/other.json"], "exists and is a Backprop Studio project"),
    (["-o", "{tmp}/notes.py"], "exists and is not a file this program exported"),
    (["-o", "{tmp}/folder.npz"], "is a folder"),
    (["-o", "{tmp}/plain"], "exists and is not a folder"),
])
def test_export_refusals_are_one_line_and_touch_nothing(xor_file, tmp_path, args, message):
    (tmp_path / "link.json").symlink_to(xor_file)
    save_project(xor(), tmp_path / "other.json")
    (tmp_path / "notes.py").write_text("print('mine')\n")
    (tmp_path / "folder.npz").mkdir()
    (tmp_path / "plain").write_text("a file, not a folder")
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    args = [a.format(tmp=tmp_path, file=xor_file, tmp_name=tmp_path.name) for a in args]
    code, out, err = run_cli("export", str(xor_file), *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert len(list(tmp_path.iterdir())) == 6


def test_export_replaces_its_own_earlier_export(xor_file, tmp_path):
    for _ in range(2):
        assert run_cli("export", str(xor_file), "-o", str(tmp_path / "w.npz"))[0] == 0
        assert run_cli("export", str(xor_file), "-o", str(tmp_path / "w.json"))[0] == 0


def test_export_needs_the_data_and_says_so(tmp_path):
    project = xor()
    project.data = project.data.__class__(source="csv", csv_path="missing.csv",
                                          input_columns=["a", "b"], target_columns=["y"])
    save_project(project, tmp_path / "p.json")
    code, _, err = run_cli("export", str(tmp_path / "p.json"), "-o", str(tmp_path / "w.onnx"))
    assert code == 2 and "missing.csv" in err and not (tmp_path / "w.onnx").exists()


@pytest.mark.parametrize("suffix", [".npz", ".json", ".onnx", ".py"])
def test_export_onto_a_named_pipe_is_refused_without_opening_it(tmp_path, suffix):
    """open() on a FIFO waits for a writer: the output check must not open it (it hung)."""
    import os
    import signal

    project = tmp_path / "xor.json"
    save_project(xor(), project)
    pipe = tmp_path / f"out{suffix}"
    os.mkfifo(pipe)
    out, err = io.StringIO(), io.StringIO()
    signal.alarm(10)
    try:
        code = cli.main(["export", str(project), "-o", str(pipe)], out, err)
    finally:
        signal.alarm(0)
    assert code == 2 and "named pipe" in err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1


def csv_project(folder: Path) -> Path:
    """XOR with its data in data.csv beside the project file, named relatively."""
    from core.settings import DataSettings

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.csv").write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    project = xor()
    project.data = DataSettings(source="csv", csv_path="data.csv", input_columns=["a", "b"],
                                target_columns=["y"], task="regression", test_fraction=0.0)
    save_project(project, folder / "p.json")
    return folder / "p.json"


def test_train_into_another_folder_keeps_the_csv_found(tmp_path):
    """-o into another folder: the written project names the same CSV from there (it kept
    "data.csv", which the other folder does not hold, and the next train failed)."""
    source = csv_project(tmp_path / "X")
    out_path = tmp_path / "Y" / "deeper" / "t.json"
    out_path.parent.mkdir(parents=True)
    proc = run_main("train", str(source), "--epochs", "5", "--quiet", "-o", str(out_path))
    assert proc.returncode == 0, proc.stderr
    written = load_project(out_path)
    assert written.data.csv_path == "../../X/data.csv"
    assert (out_path.parent / written.data.csv_path).resolve() == (tmp_path / "X" / "data.csv")
    again = run_main("train", str(out_path), "--epochs", "5", "--quiet", "-o",
                     str(tmp_path / "Y" / "t2.json"))
    assert again.returncode == 0, again.stderr
    assert load_project(tmp_path / "Y" / "t2.json").data.csv_path == "../X/data.csv"
    beside = run_main("train", str(source), "--epochs", "5", "--quiet")  # same folder
    assert beside.returncode == 0 and load_project(
        source.with_suffix(".trained.json")).data.csv_path == "data.csv"


@pytest.mark.parametrize("victim", ["data.csv", "notes.txt", "weights.npz"])
def test_train_never_replaces_a_file_that_is_not_a_project(tmp_path, victim):
    source = csv_project(tmp_path)
    target = tmp_path / victim
    if not target.exists():
        target.write_bytes(b"PK\x03\x04 zip" if victim.endswith(".npz") else b"my notes\n")
    before = target.read_bytes()
    proc = run_main("train", str(source), "--epochs", "2", "--quiet", "-o", str(target))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {target} exists and is not a Backprop Studio project; it is not replaced: "
        "remove it or choose another name"]
    assert target.read_bytes() == before
    older = tmp_path / "older.json"  # a project (an older result) is replaced, as before
    save_project(xor(), older)
    assert run_main("train", str(source), "--epochs", "2", "--quiet", "-o",
                    str(older)).returncode == 0
    assert load_project(older).data.csv_path == "data.csv"


def test_an_absolute_csv_path_is_written_as_it_is(tmp_path):
    from core.project import rebased_data
    from core.settings import DataSettings

    absolute = DataSettings(source="csv", csv_path=str(tmp_path / "d.csv"))
    assert rebased_data(absolute, tmp_path / "a", tmp_path / "b") == absolute
    relative = DataSettings(source="csv", csv_path="sub/d.csv")
    assert rebased_data(relative, tmp_path, tmp_path) == relative
    assert rebased_data(relative, tmp_path, tmp_path / "b").csv_path == "../sub/d.csv"


@pytest.mark.parametrize("command", ["train", "gradcheck", "curvature"])
def test_a_column_too_large_to_standardise_is_named_in_one_line(tmp_path, command):
    """±1e308 in a column: its deviation overflowed to inf and the column became all zeros,
    silently (found by a reviewer). Refused, naming the column, when Standardise is on."""
    from dataclasses import replace

    source = csv_project(tmp_path)
    (tmp_path / "data.csv").write_text("a,b,y\n1e308,0,0\n-1e308,1,1\n1e308,0,1\n-1e308,1,0\n")
    project = load_project(source)
    project.data = replace(project.data, standardize=True)
    save_project(project, source)
    args = {"train": ["--epochs", "1", "--quiet", "-o", str(tmp_path / "o.json")]}.get(command, [])
    proc = run_main(command, str(source), *args)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: a: its values are too large to standardise (their spread overflows); scale "
        "them down or turn Standardise off"]
    project.data = replace(project.data, standardize=False)  # off: it trains as it is
    save_project(project, source)
    assert run_main("gradcheck", str(source)).returncode in (0, 1)
