"""Headless commands: train, gradcheck, export. Bad input: one line on stderr, exit code 2."""
from __future__ import annotations

import argparse
import re
import sys
import warnings
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TextIO

from core.cli_common import ProgressBar as _ProgressBar, load as _load
from core.errors import UsageError, UserError, one_line, shorten

COMMANDS = ("train", "sweep", "gradcheck", "curvature", "export")
GRADCHECK_LIMIT = 1e-6
GRADCHECK_SAMPLES = 32
GRADCHECK_SEQUENCES = 8  # each is checked whole, every step of it
MAX_EPOCHS = 100_000_000  # as the epochs setting
MAX_WORKERS = 4096


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and a second line
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python main.py", description="Backprop Studio. With no command, "
                     "opens the window (optionally with a project FILE).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = sub.add_parser("train", help="train a project and write the trained project")
    train.add_argument("file", help="project file (.json)")
    train.add_argument("--epochs", type=_positive_int, help="epochs to train (default: the file's)")
    train.add_argument("--seed", type=_seed, help="seed for batch order and dropout")
    train.add_argument("--init", action="store_true",
                       help="re-initialise the weights from the initialiser and seed first")
    train.add_argument("-o", "--output", help="where to write the trained project "
                       "(default: FILE with .trained.json)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_sweep(sub)
    check = sub.add_parser("gradcheck", help="compare backprop with finite differences")
    check.add_argument("file", help="project file (.json)")
    curv = sub.add_parser("curvature", help="eigenvalues of the Hessian of the training loss")
    curv.add_argument("file", help="project file (.json)")
    curv.add_argument("--params", help="only these parameters: edge ids and bias:NEURON, "
                      "comma-separated (default: every weight and bias that is not frozen)")
    curv.add_argument("--top", type=_positive_int, help="only the K largest eigenvalues "
                      "(Lanczos: what a net too large for the whole Hessian needs)")
    export = sub.add_parser("export", help="write the trained weights in another format")
    export.add_argument("file", help="project file (.json)")
    export.add_argument("--format", help="npz, json, csv, onnx or py (default: from OUT's "
                        "extension; no extension = a folder of CSV tables)")
    export.add_argument("-o", "--output", required=True, help="output path (OUT)")
    return parser


def _add_sweep(sub) -> None:
    sweep = sub.add_parser(
        "sweep", help="train the project once per combination of settings and seed, in "
        "parallel, and write one row per run",
        description="Each run draws fresh weights from its seed and trains as `train FILE "
        "--seed S --init` would with the row's settings written into FILE.")
    sweep.add_argument("file", help="project file (.json)")
    sweep.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2,...",
                       help="a setting and its values (at most two --set; none: the project "
                       "as it is, over --seeds), e.g. learning_rate=0.01,0.1 or "
                       "hidden_activation=tanh,relu")
    sweep.add_argument("--seeds", type=_positive_int, default=1, metavar="K",
                       help="K runs of each combination, seeds S, S+1, ... S+K-1 from the "
                       "file's seed S (default 1)")
    sweep.add_argument("--epochs", type=_positive_int, help="epochs per run (default: the file's)")
    sweep.add_argument("--workers", type=_workers, help="runs at once (default: every core; "
                       "with --scheduler, every thread of the cluster)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed "
                       "cluster (tcp://host:8786; needs pip install -e \".[cluster]\")")
    sweep.add_argument("-o", "--output", required=True, help="results table (.csv)")
    sweep.add_argument("--resume", action="store_true", help="keep the finished rows of "
                       "OUTPUT from an earlier run of this sweep; run the failed and missing ones")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")


def _workers(text: str) -> int:
    value = _whole(text)
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}")
    return value


@lru_cache(maxsize=1)
def _parser() -> argparse.ArgumentParser:
    return build_parser()  # ~5 ms to build (argparse looks up translations): build it once


def _whole(text: str) -> int:
    # int() would also take '1_000' and non-ASCII digits; a command line wants plain ones.
    if not re.fullmatch(r"[+-]?[0-9]{1,30}", text.strip()):
        raise argparse.ArgumentTypeError(f"{shorten(repr(text), 40)} is not a whole number")
    return int(text)


def _positive_int(text: str) -> int:
    value = _whole(text)
    if not 1 <= value <= MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_EPOCHS:,}")
    return value


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run one command. Exit codes: 0 done, 1 a result that failed (divergence, gradient
    check), 2 bad input (one line on stderr), 130 interrupted."""
    try:
        args = _parser().parse_args(argv)
        from core.cli_sweep import sweep as _sweep

        handler = {"train": _train, "sweep": _sweep, "gradcheck": _gradcheck,
                   "curvature": _curvature, "export": _export}[args.command]
        with warnings.catch_warnings():
            # NumPy's overflow warnings would add lines to stderr; a run that overflows is
            # reported by the commands themselves (divergence, a FAILED gradient check).
            warnings.simplefilter("ignore", RuntimeWarning)
            return handler(args, out, err)
    except (UserError, OSError) as exc:
        return _fail(err, _one_line(exc))
    except MemoryError:
        return _fail(err, "not enough memory for this project; use fewer samples, a smaller "
                     "batch size or a smaller network")
    except RecursionError:
        return _fail(err, "the input is nested too deeply")
    except SystemExit as exc:  # argparse's --help inside a command: its page is printed
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=err)
        return 130
    except Exception as exc:  # noqa: BLE001 - a last resort: one line, never a traceback
        # Every known refusal is a UserError; reaching here is a bug, said as one line.
        return _fail(err, f"internal error ({type(exc).__name__}: {exc}); please report it",
                     code=1)


def _fail(err: TextIO, message: str, code: int = 2) -> int:
    print(f"error: {one_line(message)}", file=err)
    return code


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, UserError) and exc.strerror:
        return f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")
    return one_line(exc)


def _seed(text: str) -> int:
    from core.settings import MAX_SEED

    value = _whole(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}")
    return value


def _train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.files import check_save_target
    from core.project import save_project
    from core.training.headless import prepare, train_epochs

    project, data = _load(args.file, err)
    project.training = prepare(project.network, project.training, args.seed, args.init)
    epochs = args.epochs if args.epochs is not None else project.training.epochs
    output = Path(args.output) if args.output else Path(args.file).with_suffix(".trained.json")
    check_save_target(output)  # refused now, not after the training
    _check_not_replacing_other_files(output)
    bar = _ProgressBar(epochs, err, enabled=not args.quiet, eager=True)
    run = train_epochs(project.network, data, project.training, epochs,
                       on_epoch=lambda t: bar.update(t.epoch, t.train_loss.y[-1]))
    bar.close()
    code = 0
    if run.diverged is not None:
        print(f"error: {run.diverged}", file=err)
        code = 1
    trainer = run.trainer
    trainer.sync_network()
    save_project(project, output, moved_from=Path(args.file).absolute().parent)
    final = trainer.evaluate()
    print(f"data: {_data_source(project, args.file, data)}", file=out)
    print(f"wrote {output}", file=out)
    print(_summary(final, trainer.epoch), file=out)
    return code


def _check_not_replacing_other_files(output: Path) -> None:
    """The trained project may replace a project (the file trained, or an older result), or
    an empty file; anything else is somebody's data: `-o data.csv` replaced the project's own
    CSV with a project, and the next train failed. export and sweep refuse the same way."""
    from core.export.formats import existing_kind

    if output.is_file() and existing_kind(output) not in ("project", "empty"):
        raise UserError(f"{output} exists and is not a Backprop Studio project; it is not "
                        "replaced: remove it or choose another name")


def _data_source(project, project_file: str, data) -> str:
    """What was trained on, naming the CSV file read (a wrong csv_path shows at once)."""
    from core.data.dataset import csv_file

    s = project.data
    where = (f"from {shorten(str(csv_file(s, Path(project_file).resolve().parent)), 120)}"
             if s.source == "csv" else f"generated ({s.generator})")
    return f"{data.describe()}, {where}"


def _summary(ev, epochs: int) -> str:
    parts = [f"after {epochs} epochs: train loss {ev.train_loss:.6g}"]
    if ev.test_loss is not None:
        parts.append(f"test loss {ev.test_loss:.6g}")
    if ev.train_accuracy is not None:
        parts.append(f"train accuracy {100 * ev.train_accuracy:.1f}%")
    if ev.test_accuracy is not None:
        parts.append(f"test accuracy {100 * ev.test_accuracy:.1f}%")
    return ", ".join(parts)


def _gradcheck(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.engine import check_loss, compile_plan
    from core.gradcheck import gradient_check
    from core.training.trainer import data_mismatch, inputs_of

    project, data = _load(args.file)
    net, loss = project.network, project.training.loss
    plan = compile_plan(net)
    problem = check_loss(plan, net, loss) or data_mismatch(plan, data)
    if problem:
        raise UsageError(problem)
    # The inputs' features, if any; for sequence data, the first sequences, whole.
    n = GRADCHECK_SEQUENCES if data.is_sequence else GRADCHECK_SAMPLES
    x, y = inputs_of(plan, data.x_train[:n]), data.y_train[:n]
    mask = None if data.mask_train is None else data.mask_train[:n]
    bar = _ProgressBar(plan.n_parameters, err, unit="parameters")
    try:
        result = gradient_check(plan, plan.pack(net), x, y, loss,
                                progress=lambda done, total: bar.update(done) or True,
                                mask=mask, sequence_loss_kind=project.training.sequence_loss)
    finally:
        bar.close()
    where = result.worst_parameter
    if where in net.edges:
        e = net.edges[where]
        where = f"edge {where} ({net.neurons[e.source].name} -> {net.neurons[e.target].name})"
    elif where.startswith("bias:"):
        where = f"the bias of {net.neurons[where[5:]].name}"
    verdict = "OK" if result.max_relative_error <= GRADCHECK_LIMIT else "FAILED"
    batch = f"{len(x)} sequences of {x.shape[1]} steps, the loss at " \
        f"{project.training.sequence_loss} step" if data.is_sequence else f"{len(x)} samples"
    print(f"{verdict}: largest relative error {result.max_relative_error:.3g} at {where} "
          f"({plan.n_parameters} parameters, {batch}, limit {GRADCHECK_LIMIT:g})", file=out)
    if data.is_sequence and project.training.bptt_steps:
        print(f"(checked: full backpropagation through time; training truncates it to "
              f"{project.training.bptt_steps} steps, which is not this loss's gradient)", file=out)
    return 0 if verdict == "OK" else 1


def _curvature(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The Hessian's eigenvalues of the full-batch training loss (data loss + L1/L2 penalty,
    no dropout) at the file's weights, largest first, then the condition number."""
    import numpy as np

    from core.curvature import TrainingLoss, spectrum
    from core.engine import check_loss, compile_plan
    from core.training.trainer import data_mismatch, inputs_of

    project, data = _load(args.file)
    net, t = project.network, project.training
    plan = compile_plan(net)
    problem = check_loss(plan, net, t.loss) or data_mismatch(plan, data)
    if problem:
        raise UsageError(problem)
    # Every parameter training moves (frozen ones are constants of the training loss), or
    # exactly the ones named, frozen or not.
    indices = (_parameter_indices(plan, args.params) if args.params is not None
               else np.flatnonzero(plan.trainable_vector()))
    if indices.size == 0:
        raise UsageError("every weight and bias is frozen: name parameters with --params")
    theta = plan.flatten(plan.pack(net))
    if not np.isfinite(theta).all():
        raise UsageError("some weight or bias is not a finite number")
    # On sequences: the loss through time over the masked steps sequence_loss reads.
    f = TrainingLoss(plan, inputs_of(plan, data.x_train), data.y_train, t.loss, t.l1, t.l2,
                     data.mask_train, t.sequence_loss)
    bar = _ProgressBar(len(indices), err, unit="parameters")
    try:
        result = spectrum(f, theta, indices, args.top,
                          progress=lambda done, total: bar.update(done))
    finally:
        bar.close()
    if not np.isfinite(result.eigenvalues).all():
        raise UsageError("the loss is not finite near these weights: no curvature to report")
    for value in result.eigenvalues:
        print(f"{value:.12g}", file=out)
    cond = result.condition_number
    if cond is None:
        print(f"condition number: unknown (only the top {len(result.eigenvalues)} of "
              f"{len(indices):,} eigenvalues computed)", file=out)
    else:
        print(f"condition number: {cond:.6g}", file=out)
    return 0


def _parameter_indices(plan, text: str):
    """Positions in Plan.flatten order of the comma-separated parameter names."""
    import numpy as np

    names = plan.parameter_names()
    position = {name: i for i, name in enumerate(names)}
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    if not wanted:
        raise UsageError("--params needs at least one edge id or bias:NEURON")
    unknown = [w for w in wanted if w not in position]
    if unknown:
        example = f"{names[0]}, {names[-1]}"
        raise UsageError(f"unknown parameter {shorten(repr(unknown[0]), 60)}: use edge ids and "
                         f"bias:NEURON ids from the file, e.g. {shorten(example, 60)}")
    if len(set(wanted)) != len(wanted):
        raise UsageError("--params names a parameter twice")
    return np.array([position[w] for w in wanted], dtype=np.intp)


def _export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.export.formats import ExportError, Preprocessing, check_output, choose_format, export_weights

    try:
        choice = choose_format(args.output, args.format)
        if choice.conflict:
            raise ExportError(f"{choice.conflict}; drop --format or change -o")
        check_output(args.output, choice.fmt, source=args.file)
        # The data gives the standardisation and class names the exported model must carry.
        project, data = _load(args.file)
        path = export_weights(project.network, project.training.loss, choice.fmt, args.output,
                              Preprocessing.from_dataset(data), project.title)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {path} ({choice.fmt})", file=out)
    return 0
