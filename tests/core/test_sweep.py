"""Sweeps (core.experiments.sweep, python main.py sweep): the spec and every refusal, each row
held to the train command it stands for, a Dask LocalCluster giving the local rows, a worker
that dies losing only its run, and a stopped sweep keeping what finished."""
import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import cli
from core.data.dataset import make_dataset
from core.errors import SweepError
from core.experiments.job import Job, SweepBase, run_job
from core.experiments.sweep import local_executor, make_spec, parse_axis, run_sweep
from core.project import load_project, save_project
from core.settings import TrainingSettings
from core.training.trainer import Trainer
from tests.core import sweep_helpers

ROOT = Path(__file__).resolve().parents[2]
SPIRAL = ROOT / "assets" / "examples" / "spiral.json"
EPOCHS = "20"  # a spiral run of 20 epochs (200 steps) takes about a tenth of a second


def sweep(*args, tmp_path, name="r.csv"):
    out, err = io.StringIO(), io.StringIO()
    output = tmp_path / name
    code = cli.main(["sweep", str(SPIRAL), *args, "--epochs", EPOCHS, "-o", str(output),
                     "--quiet"], out, err)
    return code, out.getvalue(), err.getvalue(), output


def rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open(newline="")))


def without_seconds(table: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in table]


# ----- the spec -----------------------------------------------------------------------------
def test_values_take_the_type_of_their_setting():
    base = TrainingSettings()
    assert parse_axis("learning_rate=0.01, 1e-3 ,2", base).values == (0.01, 0.001, 2.0)
    assert parse_axis("batch_size=0,32", base).values == (0, 32)
    assert parse_axis("shuffle=true,False", base).values == (True, False)
    assert parse_axis("optimizer=sgd,adam", base).values == ("sgd", "adam")
    assert parse_axis("hidden_activation=tanh,relu", base).values == ("tanh", "relu")


def test_without_set_a_sweep_repeats_the_project_over_seeds():
    jobs = make_spec([], 3, TrainingSettings(seed=2)).jobs()
    assert [(j.settings, j.seed, j.name) for j in jobs] == [((), 2, "seed=2"), ((), 3, "seed=3"),
                                                             ((), 4, "seed=4")]


def test_jobs_cover_every_combination_with_seeds_from_the_files_seed():
    spec = make_spec(["l2=0,0.01", "dropout=0,0.1,0.2"], 2, TrainingSettings(seed=5))
    jobs = spec.jobs()
    assert len(jobs) == spec.size == 12
    assert [j.index for j in jobs] == list(range(12))
    assert jobs[0] == Job(0, (("l2", 0.0), ("dropout", 0.0)), 5)
    assert jobs[1].seed == 6 and jobs[2].settings == (("l2", 0.0), ("dropout", 0.1))
    assert jobs[-1].name == "l2=0.01 dropout=0.2 seed=6"


@pytest.mark.parametrize("sets, seeds, message", [
    (["learning_rate"], 1, "--set needs NAME=V1,V2,... (e.g. learning_rate=0.01,0.1), not "
                           "'learning_rate'"),
    (["lr=0.1"], 1, "--set lr: not a setting; use one of loss, optimizer, learning_rate"),
    (["seed=1,2"], 1, "use --seeds instead of --set seed"),
    (["epochs=1,2"], 1, "use --epochs instead of --set epochs"),
    (["learning_rate="], 1, "--set learning_rate: give values separated by commas, none empty"),
    (["learning_rate=0.1,,0.2"], 1, "--set learning_rate: give values separated by commas"),
    (["learning_rate=-1"], 1, "--set learning_rate=-1: training.learning_rate must be between 0"),
    (["learning_rate=fast"], 1, "--set learning_rate=fast: not a number"),
    (["learning_rate=nan"], 1, "--set learning_rate=nan: not a number"),
    (["learning_rate=1e999"], 1, "--set learning_rate=1e999: training.learning_rate must be a "
                                 "finite number"),
    (["batch_size=1.5"], 1, "--set batch_size=1.5: not a whole number"),
    (["shuffle=yes"], 1, "--set shuffle=yes: use true or false"),
    (["optimizer=sgd,lbfgs"], 1, "--set optimizer=lbfgs: training.optimizer must be one of"),
    (["hidden_activation=swish"], 1, "--set hidden_activation=swish: use one of identity"),
    (["l2=0.1,0.1"], 1, "--set l2 lists 0.1 twice"),
    (["l2=0", "l2=0.1"], 1, "--set l2 is given twice"),
    (["l2=0", "l1=0", "dropout=0"], 1, "at most 2 --set (a line or a grid of runs)"),
    (["l2=" + ",".join(str(i) for i in range(1001))], 1, "--set l2: 1,001 values; the limit "
                                                         "is 1,000"),
    (["l2=" + ",".join(str(i) for i in range(1000))], 101, "101,000 runs; the limit is 100,000"),
])
def test_a_bad_spec_is_refused_with_one_line(sets, seeds, message):
    with pytest.raises(SweepError) as info:
        make_spec(sets, seeds, TrainingSettings())
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("args, message", [
    (["--set", "lr=1"], "error: --set lr: not a setting"),
    (["--set", "loss=mse,softmax_ce"], "error: loss=softmax_ce: softmax cross-entropy needs"),
    # Refused as train refuses it (it ran, wrote a failed row and suggested --resume)
    (["--set", "optimizer=newton", "--set", "dropout=0,0.5"],
     "error: optimizer=newton dropout=0.5: Newton's method compares the loss before and after"),
    (["--set", "l2=0", "--seeds", "0"], "error: argument --seeds: must be between 1 and"),
    (["--set", "l2=0", "--workers", "0"], "error: argument --workers: must be between 1 and"),
    (["--set", "l2=0", "--seeds", "x"], "error: argument --seeds: 'x' is not a whole number"),
    (["--set", "l2=0", "--scheduler", " "], "error: --scheduler needs an address"),
])
def test_the_command_refuses_bad_input_with_one_line_and_exit_2(args, message, tmp_path):
    code, out, err, output = sweep(*args, tmp_path=tmp_path)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert not output.exists()


def test_outputs_a_sweep_must_not_write_are_refused(tmp_path):
    project = tmp_path / "p.json"
    project.write_text(SPIRAL.read_text())
    table = tmp_path / "table.csv"
    table.write_text("name,value\nmine,1\n")
    for output, message in ((project, "is the project file"),
                            (table, "exists and is not a sweep's results"),
                            (tmp_path / "missing" / "r.csv", "does not exist")):
        err = io.StringIO()
        code = cli.main(["sweep", str(project), "--set", "l2=0", "-o", str(output)],
                        io.StringIO(), err)
        assert code == 2 and message in err.getvalue(), err.getvalue()
    assert table.read_text() == "name,value\nmine,1\n"


# ----- the numbers --------------------------------------------------------------------------
def test_each_row_is_what_train_gives_with_its_settings_seed_and_init(tmp_path):
    code, out, err, output = sweep("--set", "learning_rate=0.01,0.05",
                                   "--set", "hidden_activation=tanh,relu", "--seeds", "2",
                                   "--workers", "2", tmp_path=tmp_path)
    assert code == 0, err
    table = rows(output)
    assert out.strip() == f"wrote {output}: 8 runs, 8 done, 0 diverged, 0 failed"
    assert [r["job"] for r in table] == [str(i) for i in range(8)]
    for row in (table[0], table[5], table[7]):
        project = load_project(SPIRAL)
        project.training = TrainingSettings.from_dict(
            {**project.training.to_dict(), "learning_rate": float(row["learning_rate"])})
        for n in project.network.by_role("hidden"):
            project.network.set_activation(n.id, row["hidden_activation"])
        path, trained = tmp_path / "one.json", tmp_path / "one.trained.json"
        save_project(project, path)
        assert cli.main(["train", str(path), "--seed", row["seed"], "--init", "--epochs",
                         EPOCHS, "-o", str(trained), "--quiet"], io.StringIO(),
                        io.StringIO()) == 0
        # The trained file's own figures, computed here from its weights.
        result = load_project(trained)
        final = Trainer(result.network, make_dataset(result.data), result.training).evaluate()
        assert float(row["train_loss"]) == final.train_loss
        assert float(row["test_loss"]) == final.test_loss
        assert float(row["train_accuracy"]) == final.train_accuracy
        assert float(row["test_accuracy"]) == final.test_accuracy
        assert (row["steps"], row["epochs"], row["status"]) == ("200", EPOCHS, "done")


def test_a_dask_cluster_gives_the_local_rows(tmp_path):
    distributed = pytest.importorskip("distributed")
    code, _, err, local = sweep("--set", "l2=0,0.001", "--seeds", "2", tmp_path=tmp_path,
                                name="local.csv")
    assert code == 0, err
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        code, out, err, remote = sweep("--set", "l2=0,0.001", "--seeds", "2",
                                       "--scheduler", cluster.scheduler_address,
                                       tmp_path=tmp_path, name="dask.csv")
    assert code == 0, err
    assert without_seconds(rows(remote)) == without_seconds(rows(local))


def test_a_run_that_kills_its_dask_worker_is_a_failed_row_and_the_rest_finish():
    """Dask retries a task whose worker died on another worker (here: not at all, allowed
    failures 0, to keep it short) and then reports KilledWorker: that run's row only."""
    distributed = pytest.importorskip("distributed")
    import dask

    base = spiral_base()
    jobs = make_spec(["l2=0,0.001"], 2, base.training).jobs()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        results = run_sweep(base, jobs, lambda: client.get_executor(pure=False), 2,
                            work=sweep_helpers.exit_on_doomed)
    by_index = {r.job.index: r for r in results}
    doomed = by_index.pop(sweep_helpers.DOOMED)
    assert doomed.status == "failed"
    assert doomed.error.startswith("its worker process died each time it ran it (Dask: ")
    assert sorted(by_index) == [0, 2, 3]
    for r in by_index.values():
        assert r.status == "done" and r.run.final == run_job(base, r.job).final


@pytest.mark.parametrize("address, message", [
    ("tcp://127.0.0.1:9", "error: cannot reach the Dask scheduler at tcp://127.0.0.1:9 ("),
    ("not an address", "error: not an address is not a scheduler address such as "
                       "tcp://10.0.0.5:8786 (missing port number"),
    ("tcp://:x", "error: tcp://:x is not a scheduler address"),
])
def test_a_scheduler_that_cannot_be_reached_is_one_line(address, message, tmp_path,
                                                        monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("core.experiments.sweep.CONNECT_SECONDS", 1.0)
    code, _, err, _ = sweep("--set", "l2=0", "--scheduler", address, tmp_path=tmp_path)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err


# ----- failures and stopping ----------------------------------------------------------------
def spiral_base(epochs: int = int(EPOCHS)) -> SweepBase:
    p = load_project(SPIRAL)
    return SweepBase(p.network.to_dict(), make_dataset(p.data), p.data, p.training, epochs,
                     keep_weights=False)


@pytest.mark.parametrize("work", [sweep_helpers.exit_on_doomed, sweep_helpers.kill_on_doomed])
def test_a_worker_that_dies_loses_only_its_run_which_can_be_retried(work):
    base = spiral_base()
    jobs = make_spec(["l2=0,0.001,0.002"], 2, base.training).jobs()
    results = run_sweep(base, jobs, lambda: local_executor(2), 2, work=work)
    by_index = {r.job.index: r for r in results}
    assert sorted(by_index) == list(range(6))
    doomed = by_index.pop(sweep_helpers.DOOMED)
    assert doomed.status == "failed" and doomed.run is None
    assert doomed.error == "its worker process died (killed, out of memory, or crashed)"
    for r in by_index.values():  # the others, as they are without the death
        assert r.status == "done" and r.run.final == run_job(base, r.job).final
    retried, = run_sweep(base, [doomed.job], lambda: local_executor(1), 1)
    assert retried.status == "done" and retried.run.final == run_job(base, doomed.job).final


def test_each_job_is_announced_as_it_goes_to_a_worker_at_most_in_flight_at_once():
    """on_start lets a window say which runs are training, not 'waiting' for all of them."""
    from concurrent.futures import ThreadPoolExecutor

    events = []
    jobs = [Job(i, (), i) for i in range(5)]
    run_sweep(None, jobs, lambda: ThreadPoolExecutor(2), 2,
              on_result=lambda r: events.append(("done", r.job.index)),
              on_start=lambda job: events.append(("start", job.index)),
              work=lambda base, job: job.index)
    assert sorted(i for kind, i in events if kind == "start") == list(range(5))
    training = set()
    for kind, i in events:  # each started before it ends, never more than two at once
        if kind == "start":
            training.add(i)
        else:
            training.remove(i)
        assert len(training) <= 2
    assert not training


def test_a_sweep_whose_every_worker_dies_stops_after_three_in_a_row():
    base = spiral_base()
    jobs = make_spec(["l2=0"], 50, base.training).jobs()
    seen = []
    with pytest.raises(SweepError, match="^3 runs in a row took their worker process down"):
        run_sweep(base, jobs, lambda: local_executor(2), 2, on_result=seen.append,
                  work=sweep_helpers.exit_always)
    assert [r.status for r in seen] == ["failed"] * 3


def test_a_stopped_sweep_keeps_what_finished_without_waiting_for_the_rest():
    base = spiral_base()
    jobs = make_spec(["l2=0,0.001,0.002"], 1, base.training).jobs()
    seen = []
    began = time.monotonic()
    results = run_sweep(base, jobs, lambda: local_executor(2), 2, on_result=seen.append,
                        should_stop=lambda: bool(seen), work=sweep_helpers.slow_after_first)
    assert time.monotonic() - began < 30  # the sleeping jobs' workers were ended
    assert [r.job.index for r in results] == [0] and seen == results
    assert results[0].run.final == run_job(base, jobs[0]).final


def test_resume_keeps_finished_rows_and_reruns_failed_ones(tmp_path):
    code, _, err, output = sweep("--set", "l2=0,0.001", "--seeds", "2", tmp_path=tmp_path)
    assert code == 0, err
    complete = rows(output)
    lines = output.read_text().splitlines()
    cells = lines[2].split(",")
    cells[3:] = ["failed", "", "", "", "", "", "", "", "its worker process died"]
    lines[2] = ",".join(cells)
    del lines[4]  # a run the sweep never reached
    output.write_text("\n".join(lines) + "\n")
    code, out, err, _ = sweep("--set", "l2=0,0.001", "--seeds", "2", "--resume",
                              tmp_path=tmp_path)
    assert code == 0, err
    assert without_seconds(rows(output)) == without_seconds(complete)
    assert rows(output)[0]["seconds"] == complete[0]["seconds"]  # kept, not rerun
    code, _, err, _ = sweep("--set", "l1=0,0.001", "--resume", tmp_path=tmp_path)
    assert code == 2 and "has the columns of another sweep" in err


@pytest.mark.parametrize("text, message", [
    ("job,l2,seed\n", "has the columns of another sweep"),
    ("", "exists and is not a sweep's results"),
    ("job,l2,seed,status\x00\n", "has the columns of another sweep"),
    (",".join(["job", "l2", "seed", "status", "train_loss", "test_loss", "train_accuracy",
               "test_accuracy", "steps", "epochs", "seconds", "note"]) + "\n0,0.0\n",
     "r.csv, line 2: 2 cells, not 12"),
    (",".join(["job", "l2", "seed", "status", "train_loss", "test_loss", "train_accuracy",
               "test_accuracy", "steps", "epochs", "seconds", "note"]) + "\n"
     + "0,0.5,0,done" + "," * 8 + "\n", "r.csv, line 2: 0.5 0 is not in this sweep"),
    ("job," + "x" * 200_000 + "\n", "is not a readable table"),
])
def test_resume_refuses_a_table_it_cannot_use_with_one_line(text, message, tmp_path):
    (tmp_path / "r.csv").write_text(text)
    code, _, err, _ = sweep("--set", "l2=0", "--resume", tmp_path=tmp_path)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_ctrl_c_keeps_the_finished_rows_and_says_how_to_go_on(tmp_path):
    """Full batch (one step an epoch) ends in a moment; batches of 1 (320 steps an epoch)
    are still training when Ctrl+C comes."""
    output = tmp_path / "r.csv"
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "sweep", str(SPIRAL),
                             "--set", "batch_size=0,1", "--epochs", "400", "--workers", "1",
                             "-o", str(output), "--quiet"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not output.exists() or
                                           len(output.read_text().splitlines()) < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == (f"interrupted: 1 of 2 runs finished, kept in {output}; run the same "
                           "command with --resume for the rest")
    table = rows(output)
    assert [(r["job"], r["batch_size"], r["status"]) for r in table] == [("0", "0", "done")]


def test_core_imports_no_dask_until_a_scheduler_is_asked_for():
    code = ("import sys, core.experiments.sweep, core.cli_sweep; "
            "print('distributed' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False"


def test_a_diverging_run_is_a_row_that_says_so(tmp_path):
    output = tmp_path / "r.csv"
    err = io.StringIO()
    code = cli.main(["sweep", str(ROOT / "assets" / "examples" / "regression.json"),
                     "--set", "learning_rate=0.01,1000", "--set", "optimizer=sgd",
                     "--epochs", EPOCHS, "-o", str(output), "--quiet"], io.StringIO(), err)
    table = rows(output)
    assert code == 0, err.getvalue()
    assert [r["status"] for r in table] == ["done", "diverged"]
    assert table[1]["note"].startswith("Training stopped at step 40: the loss became inf.")
    # Its loss is not a number a file can hold: left empty, the note says why.
    assert table[1]["train_loss"] == "" and float(table[0]["train_loss"]) > 0


def test_hostile_sweep_arguments_end_in_one_line(tmp_path):
    from tests.core.test_hostile import assert_one_clear_line, run_cli

    out = str(tmp_path / "r.csv")
    numbers = ["-1", "0", "1_000", "\u0661\u0662", "1e3", "9" * 5000, "", " ", "0x10", "nan"]
    texts = ["", "=", "==", "l2", "l2=", "=0.1", "l2=0,", "l2=,", "l2=0;0.1", "l2=1e400",
             "l2=" + "9" * 5000, "l2=\u0661", "l2=0x1", "l2=inf", "l2=-0.1", "\x00=1",
             "learning_rate=0.1=0.2", "optimizer=", "optimizer=" + "a" * 10_000,
             "hidden_activation=Tanh", "batch_size=1e3", "precision=float16", "x" * 100_000]
    argvs = [["sweep", SPIRAL.as_posix(), "--set", t, "-o", out] for t in texts]
    argvs += [["sweep", SPIRAL.as_posix(), "--set", "l2=0", option, n, "-o", out]
              for option in ("--seeds", "--workers", "--epochs") for n in numbers]
    argvs += [["sweep", SPIRAL.as_posix(), "--set", "l2=0", "-o", o]
              for o in ("", "/dev/null", str(tmp_path), "/proc/x/y.csv", "\x00.csv")]
    argvs += [["sweep"], ["sweep", SPIRAL.as_posix()], ["sweep", "", "-o", out],
              ["sweep", SPIRAL.as_posix(), "--set", "l2=0", "--seeds", str(2**62), "-o", out]]
    for argv in argvs:
        code, o, err = run_cli(argv)
        assert_one_clear_line(code, o, err, argv[2:6])
        assert code == 2, (argv[:6], err)
    assert not Path(out).exists()
