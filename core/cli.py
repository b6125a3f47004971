"""Headless commands: train, gradcheck, export. Bad input: one line on stderr, exit code 2."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from core.errors import UserError

COMMANDS = ("train", "gradcheck", "export")
GRADCHECK_LIMIT = 1e-6
GRADCHECK_SAMPLES = 32


class UsageError(UserError):
    """A bad argument or file; printed as one line, exit code 2."""


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
    train.add_argument("--seed", type=int, help="seed for batch order and dropout")
    train.add_argument("--init", action="store_true",
                       help="re-initialise the weights from the initialiser and seed first")
    train.add_argument("-o", "--output", help="where to write the trained project "
                       "(default: FILE with .trained.json)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    check = sub.add_parser("gradcheck", help="compare backprop with finite differences")
    check.add_argument("file", help="project file (.json)")
    export = sub.add_parser("export", help="write the trained weights in another format")
    export.add_argument("file", help="project file (.json)")
    export.add_argument("--format", required=True, help="npz, json, csv, onnx or py")
    export.add_argument("-o", "--output", required=True, help="output path")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from core.data import DataError
    from core.project import ProjectError
    from core.settings import SettingsError
    from core.training import TrainingError

    try:
        args = build_parser().parse_args(argv)
        handler = {"train": _train, "gradcheck": _gradcheck, "export": _export}[args.command]
        return handler(args, out, err)
    except (UsageError, ProjectError, DataError, SettingsError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=err)
        return 2
    except TrainingError as exc:
        print(f"error: {_one_line(exc)}", file=err)
        return 2


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")
    return " ".join(str(exc).split())


def _load(path: str):
    from core.data import make_dataset
    from core.project import load_project

    project = load_project(path)
    return project, make_dataset(project.data, Path(path).resolve().parent)


def _train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.initializers import initialize
    from core.project import save_project
    from core.training import Diverged, Trainer

    project, data = _load(args.file)
    if args.seed is not None:
        project.training = replace(project.training, seed=args.seed)
    if args.init:
        t = project.training
        project.network.set_values(*initialize(project.network, t.initializer, t.seed,
                                               t.init_constant))
    epochs = args.epochs if args.epochs is not None else project.training.epochs
    trainer = Trainer(project.network, data, project.training)
    output = Path(args.output) if args.output else Path(args.file).with_suffix(".trained.json")
    bar = _ProgressBar(epochs, err, enabled=not args.quiet)
    code = 0
    try:
        for _ in range(epochs):
            trainer.run(steps=trainer.steps_per_epoch())
            bar.update(trainer.epoch, trainer.train_loss.y[-1])
    except Diverged as exc:
        bar.close()
        print(f"error: {exc}", file=err)
        code = 1
    bar.close()
    trainer.sync_network()
    save_project(project, output)
    final = trainer.evaluate()
    print(f"wrote {output}", file=out)
    print(_summary(final, trainer.epoch), file=out)
    return code


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

    project, data = _load(args.file)
    net, loss = project.network, project.training.loss
    plan = compile_plan(net)
    problem = check_loss(plan, net, loss)
    if problem:
        raise UsageError(problem)
    x, y = data.x_train[:GRADCHECK_SAMPLES], data.y_train[:GRADCHECK_SAMPLES]
    result = gradient_check(plan, plan.pack(net), x, y, loss)
    where = result.worst_parameter
    if where in net.edges:
        e = net.edges[where]
        where = f"edge {where} ({net.neurons[e.source].name} -> {net.neurons[e.target].name})"
    elif where.startswith("bias:"):
        where = f"the bias of {net.neurons[where[5:]].name}"
    verdict = "OK" if result.max_relative_error <= GRADCHECK_LIMIT else "FAILED"
    print(f"{verdict}: largest relative error {result.max_relative_error:.3g} at {where} "
          f"({plan.n_parameters} parameters, {len(x)} samples, limit {GRADCHECK_LIMIT:g})", file=out)
    return 0 if verdict == "OK" else 1


def _export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.export import FORMATS, ExportError, export_weights
    from core.project import load_project

    if args.format not in FORMATS:
        raise UsageError(f"unknown format {args.format!r}; use one of {', '.join(FORMATS)}")
    project = load_project(args.file)
    try:
        export_weights(project.network, project.training.loss, args.format, args.output)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {args.output}", file=out)
    return 0


class _ProgressBar:
    """A one-line progress bar with the loss, redrawn at most 10 times a second."""

    def __init__(self, total: int, stream: TextIO, enabled: bool = True, width: int = 30) -> None:
        self.total, self.stream, self.width = max(total, 1), stream, width
        self.enabled = enabled
        self._last = 0.0
        self._drawn = False

    def update(self, done: int, loss: float) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < self.total):
            return
        self._last = now
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] epoch {done}/{self.total}  loss {loss:.5g}   ")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
