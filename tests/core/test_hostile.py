"""The hostile corpus (tests/core/hostile.py) through the command line in-process, the CSV
loader and the weight importer: every input ends in one clear line, quickly, and no file
that is not the user's CSV is ever quoted."""
from __future__ import annotations

import io
import signal
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from core import cli
from core.data.csv_file import load_csv
from core.data.dataset import DataError
from core.project import ProjectError, load_project
from core.export.weights_io import ExportError, import_weights
from tests.core import hostile

CASE_SECONDS = 10  # any single input; a hang is a failure, not a stuck test run


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    if not hasattr(signal, "setitimer"):  # no SIGALRM (Windows): run without the guard
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with time_limit(CASE_SECONDS), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = cli.main(argv, out, err)
    # A warning would be printed on the real stderr, beside the one line.
    assert not caught, (argv, [str(w.message) for w in caught[:3]])
    return code, out.getvalue(), err.getvalue()


def assert_one_clear_line(code: int, out: str, err: str, label: str) -> None:
    assert code in (0, 1, 2), (label, code, err)
    lines = err.splitlines()
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), (label, err[:300])
    assert len(lines) <= 1, (label, err[:300])
    assert all(len(line) < 500 for line in lines), (label, len(err))
    assert "Traceback" not in err and "internal error" not in err, (label, err[:300])
    assert hostile.SECRET not in err and hostile.SECRET not in out, (label, err[:300])


def commands(path: Path, folder: Path, k: int) -> list[str]:
    """One of the three commands per case, in turn, so the corpus stays quick."""
    return [["train", str(path), "--epochs", "1", "--quiet", "-o", str(folder / "out.json")],
            ["gradcheck", str(path)],
            ["export", str(path), "--format", "json", "-o", str(folder / "w.json")]][k % 3]


PROJECT_CASES = hostile.project_cases()


def test_the_corpus_is_large_and_covers_every_numeric_field():
    assert len(PROJECT_CASES) > 2000
    fields = hostile.numeric_paths(hostile.example("xor"))
    assert len({p for p in fields if p[0] not in ("neurons", "edges")}) >= 26  # + 4 in the graph


def test_hostile_projects_end_in_one_line(tmp_path):
    start = time.monotonic()
    codes = {0: 0, 1: 0, 2: 0}
    for k, (label, write) in enumerate(PROJECT_CASES):  # each case overwrites the last one's file
        path = write(tmp_path)
        if k % 4 == 0:  # the window catches ProjectError alone: nothing else may escape a load
            try:
                load_project(path)
            except ProjectError as exc:
                assert "\n" not in str(exc) and len(str(exc)) < 500, label
        code, out, err = run_cli(commands(path, tmp_path, k))
        assert_one_clear_line(code, out, err, label)
        codes[code] += 1
    assert codes[2] > 1500 and codes[0] > 100  # most are refused; the harmless ones still run
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("value", [10**400, -(10**400)])
@pytest.mark.parametrize("field", hostile.numeric_paths(hostile.example("chain")))
def test_integers_beyond_float_range_are_refused_in_every_numeric_field(tmp_path, field, value):
    path = tmp_path / "p.json"
    path.write_text(hostile._text(hostile.put(hostile.example("chain"), field, value)))
    code, _, err = run_cli(["train", str(path), "--epochs", "1", "--quiet"])
    assert code == 2 and "too large" in err and "p.json" in err, err


@pytest.mark.parametrize("label, write", hostile.special_file_cases(), ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("command", ["train", "gradcheck", "export"])
def test_special_files_are_refused_before_they_are_read(tmp_path, label, write, command):
    path = write(tmp_path)
    argv = {"train": ["train", str(path), "--epochs", "1", "--quiet", "-o", str(tmp_path / "o.json")],
            "gradcheck": ["gradcheck", str(path)],
            "export": ["export", str(path), "--format", "json", "-o", str(tmp_path / "w.json")]}[command]
    start = time.monotonic()
    code, out, err = run_cli(argv)
    assert_one_clear_line(code, out, err, label)
    assert time.monotonic() - start < 2
    if command == "export" and label.startswith("csv"):
        return  # export does not read the data
    assert code == 2, (label, err)
    if "fifo" in label:
        assert "FIFO" in err
    if "/dev/zero" in label or "/dev/urandom" in label:
        assert "device" in err


def test_negative_seeds_and_graphs_without_roles_are_refused(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(hostile._text(hostile.put(hostile.example("xor"), ("training", "seed"), -1)))
    code, _, err = run_cli(["train", str(path), "--quiet", "--epochs", "1"])
    assert code == 2 and "training.seed must be between 0" in err
    xor = tmp_path / "xor.json"
    xor.write_text(hostile._text(hostile.example("xor")))
    code, _, err = run_cli(["train", str(xor), "--seed", "-5", "--quiet", "--epochs", "1"])
    assert code == 2 and "--seed" in err
    for role, missing in (("input", "no input neuron"), ("output", "no output neuron")):
        doc = hostile.example("xor")
        for n in doc["neurons"]:
            if n["role"] == role:
                n["role"] = "hidden"
        path.write_text(hostile._text(doc))
        for argv in (["train", str(path), "--quiet"], ["gradcheck", str(path)],
                     ["export", str(path), "--format", "onnx", "-o", str(tmp_path / "x.onnx")]):
            code, _, err = run_cli(argv)
            assert code == 2 and missing in err, (argv, err)


def test_gradcheck_names_a_data_network_mismatch(tmp_path):
    doc = hostile.example("xor")
    doc["neurons"].append({"id": "extra", "role": "input"})
    path = tmp_path / "p.json"
    path.write_text(hostile._text(doc))
    for argv in (["gradcheck", str(path)], ["train", str(path), "--quiet"]):
        code, _, err = run_cli(argv)
        assert code == 2 and "the data has 2 input(s)" in err and "3 input neuron(s)" in err, err


# ----- CSV ----------------------------------------------------------------------------------
CSV_CASES = hostile.csv_cases()


def test_hostile_csvs_load_or_raise_one_data_error(tmp_path):
    loaded = 0
    for k, (label, data) in enumerate(CSV_CASES):
        path = tmp_path / f"{k}.csv"
        path.write_bytes(data)
        try:
            with time_limit(CASE_SECONDS):
                x, y, *_ = load_csv(path, ["a", "b"], ["y"], "regression")
            loaded += 1
            assert x.shape[1] == 2 and (x == x).all(), label
        except DataError as exc:
            message = str(exc)
            assert "\n" not in message and len(message) < 500, (label, message[:300])
    assert 0 < loaded < len(CSV_CASES)


@pytest.mark.parametrize("text", ["1_000", "\u0661\u0662", "\uff11", "\u00a01", "0x10", "1,5"])
def test_csv_numbers_are_plain_ascii(tmp_path, text):
    # float() accepts the first four; a table that holds them holds text, not numbers.
    path = tmp_path / "d.csv"
    path.write_text(f'a,y\n"{text}",0\n3,1\n')
    with pytest.raises(DataError, match="is not a number"):
        load_csv(path, ["a"], ["y"], "regression")


def test_csv_header_lookup_is_linear_and_its_message_is_cut(tmp_path):
    n = 20_000
    path = tmp_path / "wide.csv"
    header = [f"c{i}" for i in range(n)]
    path.write_text(",".join(header) + "\n" + ",".join("1" * n) + "\n" + ",".join("2" * n) + "\n")
    start = time.monotonic()
    x, y, *_ = load_csv(path, header[:-1], header[-1:], "regression")
    assert x.shape == (2, n - 1) and time.monotonic() - start < 3
    with pytest.raises(DataError) as info:
        load_csv(path, ["missing"], header[-1:], "regression")
    assert f"and {n - 10:,} more" in str(info.value) and len(str(info.value)) < 500


def test_files_that_are_not_csvs_are_never_quoted(tmp_path):
    secret = tmp_path / "id_rsa"
    secret.write_text(f"-----BEGIN KEY {hostile.SECRET}\n{hostile.SECRET},2\n3,4\n")
    for columns in ((["a"], ["y"]), (["-----BEGIN KEY " + hostile.SECRET], ["y"])):
        with pytest.raises(DataError) as info:
            load_csv(secret, *columns, "regression")
        assert hostile.SECRET not in str(info.value)
    link = tmp_path / "data.csv"  # a link named like a table, to a file that is not one
    link.symlink_to(secret)
    with pytest.raises(DataError) as info:
        load_csv(link, ["a"], ["y"], "regression")
    assert hostile.SECRET not in str(info.value)
    # The same file named .csv is the user's table: its text may be quoted to help.
    table = tmp_path / "t.csv"
    table.write_text(secret.read_text())
    with pytest.raises(DataError, match=hostile.SECRET):
        load_csv(table, ["a"], ["y"], "regression")


# ----- weight files -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def xor_network():
    return load_project(hostile.ROOT / "assets" / "examples" / "xor.json").network


def _edges_and_biased(net):
    return ([[e.id, e.source, e.target] for e in net.edges.values()],
            [n.id for n in net.neurons.values() if n.role != "input"])


def test_hostile_weight_files_import_or_raise_one_export_error(tmp_path, xor_network):
    edges, biased = _edges_and_biased(xor_network)
    cases = [(f"json:{n}", ".json", d) for n, d in hostile.weight_json_cases(edges, biased)]
    cases += [(f"npz:{n}", ".npz", d) for n, d in hostile.weight_npz_cases(edges, biased)]
    assert len(cases) > 40
    imported = []
    for k, (label, suffix, data) in enumerate(cases):
        path = tmp_path / f"{k}{suffix}"
        path.write_bytes(data)
        start = time.monotonic()
        try:
            with time_limit(CASE_SECONDS):
                import_weights(xor_network, path)
            imported.append(label)
        except ExportError as exc:
            message = str(exc)
            assert "\n" not in message and len(message) < 500, (label, message[:300])
        assert time.monotonic() - start < 1, label  # no bomb is ever unpacked
    # Extra members and a bomb among the layer tables are harmless: only weight: and bias:
    # members are ever read.
    assert sorted(imported) == ["json:good", "npz:big-endian", "npz:bzip2", "npz:good", "npz:lzma",
                                "npz:many-members", "npz:version-2", "npz:zip-bomb-layer"]


# ----- the real entry point -----------------------------------------------------------------
@pytest.mark.parametrize("make", ["fifo", "device", "huge-int", "no-output"])
def test_main_py_ends_hostile_files_in_one_line(tmp_path, make):
    import os
    import subprocess
    import sys

    if make == "fifo":
        path = tmp_path / "p.json"
        os.mkfifo(path)
    elif make == "device":
        path = Path("/dev/zero")
    else:
        doc = hostile.example("xor")
        if make == "huge-int":
            doc = hostile.put(doc, ("neurons", 0, "bias"), 10**400)
        else:
            doc["neurons"] = [n for n in doc["neurons"] if n["role"] != "output"]
            doc["edges"] = []
        path = tmp_path / "p.json"
        path.write_text(hostile._text(doc))
    argvs = [["train", str(path), "--quiet"], ["gradcheck", str(path)]]
    if make in ("fifo", "device"):  # refused before any window is built
        argvs.append([str(path)])
    for argv in argvs:
        proc = subprocess.run([sys.executable, str(hostile.ROOT / "main.py"), *argv],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, (argv, proc.stderr)
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_train_says_which_csv_file_it_read(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    doc = hostile.example("xor")
    doc["data"].update(source="csv", csv_path="d.csv", input_columns=["a", "b"],
                       target_columns=["y"], task="classification")
    path = tmp_path / "p.json"
    path.write_text(hostile._text(doc))
    code, out, err = run_cli(["train", str(path), "--epochs", "1", "--quiet",
                              "-o", str(tmp_path / "o.json")])
    assert code == 0 and f"from {tmp_path / 'd.csv'}" in out.splitlines()[0], out


def test_a_preview_reads_only_the_start_of_a_file(tmp_path):
    from core.data.csv_file import PREVIEW_BYTES, csv_preview

    path = tmp_path / "big.csv"
    row = "1,2," + "3" * 40 + "\n"  # wide rows: under the million-row limit
    with open(path, "w") as f:
        f.write("a,b,y\n")
        f.write(row * (PREVIEW_BYTES // len(row) + 10))
    with open(path, "ab") as f:
        f.write(b"\xff\xfe,2,3\n")  # beyond the preview: found by a full load only
    header, rows = csv_preview(path, 3)
    assert header == ["a", "b", "y"] and rows == [["1", "2", "3" * 40]] * 3
    with pytest.raises(DataError, match="not UTF-8"):
        load_csv(path, ["a", "b"], ["y"], "regression")


def test_hostile_arguments_end_in_one_line(tmp_path, capsys):
    xor = tmp_path / "xor.json"
    xor.write_text(hostile._text(hostile.example("xor")))
    numbers = ["-1", "0", "1_000", "\u0661\u0662", "1e3", "99999999999999999999999999999999",
               "9" * 5000, "", " ", "0x10", "nan", "+5"]
    argvs = [[], ["fly"], ["train"], ["gradcheck"], ["export", str(xor)], ["train", ""],
             ["train", str(xor), "--bogus"], ["export", str(xor), "--format", "exe", "-o", "x"]]
    argvs += [["train", str(xor), "--quiet", "--epochs", n, "-o", str(tmp_path / "o.json")]
              for n in numbers]
    argvs += [["train", str(xor), "--quiet", "--epochs", "1", "--seed", n,
               "-o", str(tmp_path / "o.json")] for n in numbers]
    for argv in argvs:
        code, out, err = run_cli(argv)
        assert_one_clear_line(code, out, err, argv)
        assert code in (0, 2), (argv, err)
    code, _, _ = run_cli(["train", "--help"])
    assert code == 0 and "--epochs" in capsys.readouterr().out  # argparse prints the page


@pytest.mark.parametrize("raised, code, expected", [
    (TypeError("a bug"), 1, "error: internal error (TypeError: a bug); please report it"),
    (MemoryError(), 2, "error: not enough memory for this project; use fewer samples"),
    (RecursionError(), 2, "error: the input is nested too deeply"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_the_last_resorts_still_end_in_one_line(monkeypatch, raised, code, expected):
    def fail(*args):
        raise raised

    monkeypatch.setattr(cli, "_gradcheck", fail)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["gradcheck", "x.json"], out, err) == code
    assert err.getvalue().strip().startswith(expected) and err.getvalue().strip().count("\n") == 0
