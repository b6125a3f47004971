"""Do the default settings teach a hand-built net? (issue 11, "Defaults that learn")

Builds nets the way the palette and the wiring gesture do (neurons with bias 0, each edge's
weight drawn by core.initializers.wiring_weight at the moment it is wired, in several wiring
orders and with many random generators, as the canvas's generator is unseeded), trains them
with core.training.Trainer on the default data settings (only the generator changed) and
reports the share that reach the target accuracy and the steps they needed, plus the steps
per second of Trainer.step with one BLAS thread.

    python bench/defaults.py                      # the defaults in core/settings.py
    python bench/defaults.py --optimizer sgd --initializer xavier_uniform   # the old defaults
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.dataset import make_dataset  # noqa: E402
from core.initializers import draw_weights, fans, wiring_weight  # noqa: E402
from core.network import Network  # noqa: E402
from core.settings import DataSettings, TrainingSettings  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

ORDERS = ("by_target", "by_source", "output_first", "bulk", "random")


def layer_ids(net: Network, sizes: list[int], hidden: str, output: str) -> list[list[str]]:
    """Neurons as the palette drops them: inputs, then each hidden layer, then the output."""
    layers = []
    for i, size in enumerate(sizes):
        role = "input" if i == 0 else "output" if i == len(sizes) - 1 else "hidden"
        act = "identity" if role == "input" else output if role == "output" else hidden
        layers.append([net.add_neuron(role, act).id for _ in range(size)])
    return layers


def wiring(layers: list[list[str]], order: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    """The edges of a fully connected layered net in one plausible order of wiring."""
    pairs = [(s, t) for a, b in zip(layers, layers[1:]) for t in b for s in a]  # into each target
    if order == "by_source":
        pairs = [(s, t) for a, b in zip(layers, layers[1:]) for s in a for t in b]
    elif order == "output_first":
        pairs = [(s, t) for a, b in reversed(list(zip(layers, layers[1:]))) for t in b for s in a]
    elif order == "random":
        pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    return pairs


def hand_built(sizes: list[int], hidden: str, order: str, seed: int,
               initializer: str, output: str = "sigmoid") -> Network:
    """A net built on the canvas: one edge at a time (or "bulk": Connect all, layer by layer)."""
    rng = np.random.default_rng(seed)
    net = Network()
    layers = layer_ids(net, sizes, hidden, output)
    if order == "bulk":  # gui.edit_tools.connect_sets on an unconnected pair of layers
        for a, b in zip(layers, layers[1:]):
            edges = net.connect_many([(s, t) for t in b for s in a])
            ids = [e.id for e in edges]
            fan_in, fan_out = fans(net, ids)
            net.set_values(dict(zip(ids, draw_weights(initializer, fan_in, fan_out, rng).tolist())))
        return net
    for s, t in wiring(layers, order, rng):
        net.connect(s, t, wiring_weight(net, s, t, initializer, rng))
    return net


def steps_to(trainer: Trainer, target: float, budget: int, every: int = 50) -> int | None:
    """Steps until the train accuracy reaches target (checked every `every` steps), or None."""
    while trainer.step_count < budget:
        for _ in range(every):
            trainer.step()
        if trainer.evaluate().train_accuracy >= target:
            return trainer.step_count
    return None


def steps_per_second(net: Network, data, settings: TrainingSettings, seconds: float = 1.0) -> float:
    trainer = Trainer(net.copy(), data, settings)
    for _ in range(50):
        trainer.step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            trainer.step()
        n += 100
    return n / (time.perf_counter() - start)


def run_case(name: str, sizes: list[int], hidden: str, generator: str, target: float,
             budget: int, settings: TrainingSettings, seeds: range, orders=ORDERS,
             standardize: bool = False) -> None:
    data = make_dataset(replace(DataSettings(), generator=generator,
                                standardize=standardize or DataSettings().standardize))
    results = []
    for order in orders:
        for seed in seeds:
            net = hand_built(sizes, hidden, order, seed, settings.initializer)
            results.append(steps_to(Trainer(net, data, settings), target, budget))
    done = sorted(r for r in results if r is not None)
    rate = steps_per_second(hand_built(sizes, hidden, "bulk", 0, settings.initializer), data,
                            settings)
    worst = f"{done[-1]:,}" if done else "-"
    median = f"{done[len(done) // 2]:,}" if done else "-"
    print(f"{name:<28} {len(done):>3}/{len(results):<3} ({100 * len(done) / len(results):5.1f}%)"
          f"  median {median:>7}  worst {worst:>7} steps  {rate:7,.0f} steps/s"
          f"  worst {(done[-1] / rate if done else float('nan')):5.2f} s headless", flush=True)


def main() -> None:
    defaults = TrainingSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", default=defaults.optimizer)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--initializer", default=defaults.initializer)
    parser.add_argument("--loss", default=defaults.loss)
    parser.add_argument("--standardize", action="store_true", help="standardised inputs")
    parser.add_argument("--seeds", type=int, default=20, help="generators per wiring order")
    parser.add_argument("--budget", type=int, default=20_000, help="steps at most")
    parser.add_argument("--cases", default="xor_tanh,xor_sigmoid,circles_tanh,circles_relu")
    args = parser.parse_args()
    settings = replace(defaults, optimizer=args.optimizer, learning_rate=args.learning_rate,
                       batch_size=args.batch_size, initializer=args.initializer, loss=args.loss)
    cases = {
        "xor_tanh": ("XOR 2-2-1 tanh, 100%", [2, 2, 1], "tanh", "xor", 1.0),
        "xor_sigmoid": ("XOR 2-2-1 sigmoid, 100%", [2, 2, 1], "sigmoid", "xor", 1.0),
        "circles_tanh": ("circles 2-8-8-1 tanh, 95%", [2, 8, 8, 1], "tanh", "circles", 0.95),
        "circles_relu": ("circles 2-8-8-1 relu, 95%", [2, 8, 8, 1], "relu", "circles", 0.95),
    }
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    print(f"{settings.optimizer} lr {settings.learning_rate:g} batch {settings.batch_size} "
          f"{settings.initializer} {settings.loss}; {args.seeds} generators x {len(ORDERS)} "
          f"wiring orders; budget {args.budget:,} steps; 1 BLAS thread")
    for key in args.cases.split(","):
        title, sizes, hidden, generator, target = cases[key]
        run_case(title, sizes, hidden, generator, target, args.budget, settings, range(args.seeds),
                 standardize=args.standardize)


if __name__ == "__main__":
    main()
