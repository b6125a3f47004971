"""Ready-made networks with data and training settings that suit them (File > New from template).

The example projects in assets/examples/ are built from these same recipes (see
`write_examples`), so an example and its template never drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.activations import DEFAULT_ACTIVATION
from core.data.reber import SYMBOLS
from core.initializers import initialize
from core.layout import apply_layout
from core.features import Feature
from core.network import Network
from core.project import Project, save_project
from core.settings import DataSettings, TrainingSettings


@dataclass(frozen=True)
class Template:
    title: str
    build: Callable[[], Project]


def layered(sizes: list[int], hidden: str = DEFAULT_ACTIVATION["hidden"],
            output: str = DEFAULT_ACTIVATION["output"],
            input_labels: list[str] | None = None, output_labels: list[str] | None = None
            ) -> Network:
    """A fully connected feed-forward net, e.g. sizes [2, 8, 8, 1]; weights left at zero."""
    net = Network()
    previous: list[str] = []
    for i, size in enumerate(sizes):
        role = "input" if i == 0 else "output" if i == len(sizes) - 1 else "hidden"
        labels = input_labels if role == "input" else output_labels if role == "output" else None
        activation = (DEFAULT_ACTIVATION["input"] if role == "input" else output
                      if role == "output" else hidden)
        layer = [net.add_neuron(role, activation, label=labels[j] if labels else "").id
                 for j in range(size)]
        if previous:
            net.connect_many([(s, t) for t in layer for s in previous])
        previous = layer
    apply_layout(net)
    return net


def _project(net: Network, data: DataSettings, training: TrainingSettings, title: str,
             description: str, goal: dict | None = None) -> Project:
    weights, biases = initialize(net, training.initializer, training.seed, training.init_constant)
    net.set_values(weights, biases)
    return Project(net, data, training, title, description, goal)


def perceptron() -> Project:
    net = layered([2, 1], output="sigmoid", input_labels=["x1", "x2"], output_labels=["y"])
    return _project(net, DataSettings(generator="and", samples=100, noise=0.05),
                    TrainingSettings(loss="bce", optimizer="sgd", learning_rate=1.0, epochs=300,
                                     initializer="xavier_uniform"),
                    "Perceptron", "One sigmoid neuron learns AND: a straight decision line.",
                    {"loss": 0.15, "epochs": 300})


def xor() -> Project:
    net = layered([2, 2, 1], input_labels=["x1", "x2"], output_labels=["y"])
    return _project(net, DataSettings(generator="xor", samples=4, noise=0.0, test_fraction=0.0),
                    TrainingSettings(loss="mse", learning_rate=2.0, epochs=3000,
                                     initializer="xavier_uniform", seed=3, optimizer="sgd"),
                    "XOR 2-2-1", "The classic: no single line separates XOR, two hidden "
                    "sigmoids do.", {"loss": 0.01, "epochs": 3000})


def chain() -> Project:
    """x -> w1 -> tanh -> w2 -> y: frozen zero biases leave exactly two parameters."""
    net = Network()
    x = net.add_neuron("input", label="x", x=0, y=0).id
    h = net.add_neuron("hidden", "tanh", label="h", x=180, y=0, frozen=True).id
    y = net.add_neuron("output", "identity", label="y", x=360, y=0, frozen=True).id
    net.connect(x, h, 0.1)
    net.connect(h, y, -1.5)
    return Project(net, DataSettings(generator="sine", samples=100, noise=0.05),
                   TrainingSettings(loss="mse", optimizer="sgd", learning_rate=0.1, epochs=400,
                                    initializer="normal"),
                   "Two-weight chain", "x -> w1 -> tanh -> w2 -> y fits sin(x). With two "
                   "parameters its loss surface is exactly the plane of w1 and w2.",
                   {"loss": 0.08, "epochs": 400})


def classifier_2881() -> Project:
    net = layered([2, 8, 8, 1], hidden="tanh", input_labels=["x1", "x2"], output_labels=["y"])
    return _project(net, DataSettings(generator="circles", samples=400, noise=0.1),
                    TrainingSettings(loss="bce", optimizer="adam", learning_rate=0.03,
                                     batch_size=32, epochs=100, initializer="xavier_uniform"),
                    "Classifier 2-8-8-1", "Two tanh layers draw a closed boundary around the "
                    "inner circle.", {"loss": 0.1, "epochs": 100})


def spiral() -> Project:
    net = layered([2, 16, 16, 1], hidden="tanh", input_labels=["x1", "x2"], output_labels=["y"])
    return _project(net, DataSettings(generator="spiral", samples=400, noise=0.05),
                    TrainingSettings(loss="bce", optimizer="adam", learning_rate=0.02,
                                     batch_size=32, epochs=600, initializer="xavier_uniform"),
                    "Spiral", "Two interleaved arms: the hard one.", {"loss": 0.1, "epochs": 600})


def softmax3() -> Project:
    net = layered([2, 8, 3], hidden="tanh", output="identity", input_labels=["x1", "x2"],
                  output_labels=["class 0", "class 1", "class 2"])
    return _project(net, DataSettings(generator="blobs", samples=300, noise=0.5, classes=3),
                    TrainingSettings(loss="softmax_ce", optimizer="momentum", learning_rate=0.1,
                                     batch_size=16, epochs=100, initializer="xavier_uniform"),
                    "3-class softmax", "Three Gaussian blobs; softmax over three outputs with "
                    "cross-entropy.", {"loss": 0.15, "epochs": 100})


def regression() -> Project:
    net = layered([1, 8, 1], hidden="tanh", output="identity", input_labels=["x"],
                  output_labels=["y"])
    return _project(net, DataSettings(generator="sine", samples=200, noise=0.1),
                    TrainingSettings(loss="mse", optimizer="adam", learning_rate=0.02,
                                     batch_size=20, epochs=300, initializer="xavier_uniform"),
                    "Regression 1-8-1", "Eight tanh neurons bend a line into a sine wave.",
                    {"loss": 0.02, "epochs": 300})


def autoencoder838() -> Project:
    net = layered([8, 3, 8], hidden="sigmoid", output="sigmoid")
    return _project(net, DataSettings(generator="onehot8", samples=8, noise=0.0, test_fraction=0.0),
                    TrainingSettings(loss="bce", optimizer="adam", learning_rate=0.05,
                                     epochs=3000, initializer="xavier_uniform"),
                    "Autoencoder 8-3-8", "Eight one-hot patterns squeezed through three hidden "
                    "neurons: the net invents a binary code.", {"loss": 0.1, "epochs": 3000})



def circles_features() -> Project:
    """TF Playground's classic: x1² and x2² make the circles linearly separable."""
    net = Network()
    inputs = [net.add_neuron("input", x=0, y=120 * i, feature=Feature("square", (i,))).id
              for i in range(2)]
    y = net.add_neuron("output", "sigmoid", label="y", x=200, y=60).id
    net.connect_many([(i, y) for i in inputs])
    return _project(net, DataSettings(generator="circles", samples=200, noise=0.03),
                    TrainingSettings(loss="bce", optimizer="adam", learning_rate=0.1,
                                     epochs=300, initializer="xavier_uniform"),
                    "Circles with features (no hidden layer)",
                    "TF Playground's classic: the inputs are x1² and x2², not x1 and x2, so one "
                    "sigmoid neuron with no hidden layer draws the circle x1² + x2² = r² that "
                    "separates the disc from the ring.", {"loss": 0.1, "epochs": 300})

def narrow_valley() -> Project:
    """The source's linear regression y = W x + b with squared error on correlated inputs of
    very different sizes: the loss over the two weights is a long narrow valley (the exact
    plane the surface opens on: the first two trainable parameters are the two weights).
    SGD's rate 0.09 is three quarters of the stability limit 2/lambda_max (0.12 on this data;
    no lower than 0.095 over data seeds 0-29): each step overshoots across the valley (a
    zig-zag) while the floor, 400 times flatter, is crept along."""
    net = layered([2, 1], output="identity", input_labels=["x1", "x2"], output_labels=["y"])
    return _project(net, DataSettings(generator="valley", samples=200, noise=0.1),
                    TrainingSettings(loss="mse", optimizer="sgd", learning_rate=0.09,
                                     epochs=2000, initializer="zeros"),
                    "Narrow valley (linear regression)",
                    "y = w1 x1 + w2 x2 + b with squared error. x2 is ten times the size of "
                    "x1, offset from zero and correlated with it, so the loss over (w1, w2) is "
                    "a long narrow valley: plain gradient descent zig-zags across it and "
                    "creeps along its floor. Press Race on the loss surface: momentum and Adam "
                    "do better, Newton's method goes straight to the bottom. Then tick "
                    "Standardise in the data settings: the valley turns nearly round.",
                    {"loss": 0.011, "epochs": 500})


TEMPLATES: dict[str, Template] = {
    "perceptron": Template("Perceptron (AND)", perceptron),
    "xor": Template("XOR 2-2-1", xor),
    "chain": Template("Two-weight chain", chain),
    "classifier_2881": Template("Classifier 2-8-8-1 (circles)", classifier_2881),
    "softmax3": Template("3-class softmax 2-8-3", softmax3),
    "autoencoder838": Template("Autoencoder 8-3-8", autoencoder838),
    "circles_features": Template("Circles with features (no hidden layer)", circles_features),
    "narrow_valley": Template("Narrow valley (linear regression)", narrow_valley),
}

# Recurrent nets (delayed edges: the source's output one time step earlier) on sequence data;
# apply_layout spaces their columns wider, for the canvas's bowed delayed edges.
def elman(inputs: int, hidden: int, outputs: int, output: str,
          input_labels: list[str] | None = None, output_labels: list[str] | None = None
          ) -> Network:
    """Elman's simple recurrent net: a layered net whose hidden neurons each read every hidden
    neuron's output of the previous step (hidden**2 delayed edges, self-loops included)."""
    net = layered([inputs, hidden, outputs], hidden="tanh", output=output,
                  input_labels=input_labels, output_labels=output_labels)
    hs = [n.id for n in net.by_role("hidden")]
    net.connect_many([(a, b) for a in hs for b in hs], delays=[1] * len(hs) ** 2)
    apply_layout(net)  # with the delayed edges: wider
    return net


def elman_echo() -> Project:
    net = elman(1, 4, 1, "identity", ["x"], ["x 3 steps ago"])
    return _project(net, DataSettings(generator="echo", samples=200, sequence_length=20,
                                      noise=0.0),
                    TrainingSettings(loss="mse", optimizer="adam", learning_rate=0.02,
                                     batch_size=16, epochs=60, clip_norm=1.0,
                                     initializer="xavier_uniform", seed=0),
                    "Elman net on echo",
                    "Output the input of 3 steps ago. Four tanh neurons each read all four "
                    "of the previous step (the curved z⁻¹ edges): that state is the only "
                    "memory. Without the delayed edges no net can beat the target's variance, "
                    "about 0.3; this one goes far below.", {"loss": 0.01, "epochs": 60})


def jordan_sine() -> Project:
    """Jordan (1986): the previous output, not the hidden state, is fed back, into a state
    unit that also keeps a share of its own last value (a delayed self-loop of 0.5, Jordan's
    mu): s(t) = y(t - 1) + 0.5 s(t - 1), a running average of the past predictions."""
    net = layered([1, 4, 1], hidden="tanh", output="identity", input_labels=["x"],
                  output_labels=["x next"])
    y = net.outputs[0].id
    hs = [n.id for n in net.by_role("hidden")]
    s = net.add_neuron("hidden", "identity", label="state").id
    net.connect_many([(y, s), (s, s)] + [(s, h) for h in hs], delays=[1, 1] + [0] * len(hs))
    apply_layout(net)  # with the delayed edges: wider
    # The state unit level with the top hidden neuron: the output's edge back to it then
    # bows through the gap in the middle of the hidden column (from beside the input it
    # crossed a hidden neuron's label).
    net.move_neuron(s, net.neurons[s].x, net.neurons[hs[0]].y)
    project = _project(net, DataSettings(generator="sine_next", samples=100,
                                         sequence_length=40, noise=0.05),
                       TrainingSettings(loss="mse", optimizer="adam", learning_rate=0.02,
                                        batch_size=16, epochs=150, clip_norm=1.0,
                                        initializer="xavier_uniform", seed=0),
                       "Jordan net on the sine",
                       "Predict the next value of a noisy sine. One value does not say "
                       "whether the wave is going up or down; the state unit does: it holds "
                       "the net's own past predictions (the output fed back through a delayed "
                       "edge), each step half of its last value added (its z⁻¹ self-loop).",
                       {"loss": 0.01, "epochs": 150})
    project.network.set_values({project.network.find_edge(y, s).id: 1.0,
                                project.network.find_edge(s, s).id: 0.5}, {})
    return project


def self_loop(weight: float) -> Project:
    """One linear neuron feeding itself with `weight`, over 50 steps: the error at the last
    step reaches the step k back multiplied by exactly weight**k (0.5**40 ~ 1e-12, 1.5**40
    ~ 1e7), whatever the weights elsewhere. (A tanh neuron shows it only at rest, where its
    slope is 1: the first training step moves it off rest, it saturates, and even a loop of
    1.5 vanishes; the README says so.) With 1.5 the forward pass explodes too: the loss
    starts near 1e16, and training with clipping brings the loop below 1 (tests)."""
    net = Network()
    x = net.add_neuron("input", label="x", x=0, y=0).id
    h = net.add_neuron("hidden", "identity", label="h", x=180, y=0).id
    y = net.add_neuron("output", "identity", label="y", x=360, y=0).id
    net.connect(x, h, 1.0)
    net.connect(h, h, weight, delay=1)
    net.connect(h, y, 1.0)
    grows = weight > 1
    return Project(net, DataSettings(generator="sine_next", samples=64, sequence_length=50,
                                     noise=0.0),
                   TrainingSettings(loss="mse", optimizer="adam", learning_rate=0.01,
                                    batch_size=16, epochs=100, clip_norm=1.0,
                                    initializer="xavier_uniform", seed=0),
                   f"Self-loop {weight:g} ({'exploding' if grows else 'vanishing'})",
                   f"One linear neuron h feeds itself with weight {weight:g} over 50 steps: "
                   f"the error at the last step reaches the step k back multiplied by "
                   f"{weight:g}^k ({weight ** 40:.0e} at 40 steps back). Open the Through time "
                   f"tab and Step. " +
                   ("The gradient explodes going back, and so does the output: the loss "
                    "starts near 1e16. Run: clipping (clip_norm 1) keeps each step sane, the "
                    "loop weight falls, and as it passes below 1 the loss drops to about 1 "
                    "and the curve turns from exploding to vanishing. Then set h's activation "
                    "to tanh and Reset: a tanh loop explodes only at rest." if grows else
                    "The gradient vanishes going back, so nothing more than a few steps old "
                    "can be learned through it. Compare the 1.5 template."))


def elman_reber() -> Project:
    net = elman(len(SYMBOLS), 6, len(SYMBOLS), "sigmoid", list(SYMBOLS),
                [f"next {s}" for s in SYMBOLS])
    return _project(net, DataSettings(generator="reber", samples=400, noise=0.0),
                    TrainingSettings(loss="bce", optimizer="adam", learning_rate=0.02,
                                     batch_size=16, epochs=60, clip_norm=1.0,
                                     initializer="xavier_uniform", seed=0),
                    "Elman net on the embedded Reber grammar",
                    "SNNS's classic benchmark: read a string of the grammar one symbol at a "
                    "time and predict which symbols may come next (the outputs, one per "
                    "symbol). Most of it needs only the last symbol or two; the "
                    "second-to-last symbol repeats the second, so getting it right needs "
                    "memory across the whole string: in its 60 epochs this small net gets "
                    "nearly every other step right and that one no better than a coin toss, "
                    "the long-range memory plain recurrent nets find hard.",
                    {"loss": 0.03, "epochs": 60})


RECURRENT_TEMPLATES: dict[str, Template] = {
    "elman_echo": Template("Elman net on echo", elman_echo),
    "jordan_sine": Template("Jordan net on the sine", jordan_sine),
    "self_loop_vanishing": Template("Self-loop 0.5 (vanishing)", lambda: self_loop(0.5)),
    "self_loop_exploding": Template("Self-loop 1.5 (exploding)", lambda: self_loop(1.5)),
    "elman_reber": Template("Elman net on the embedded Reber grammar", elman_reber),
}


# The example files: name -> recipe. Tests train each and check it reaches its goal.
EXAMPLES: dict[str, Callable[[], Project]] = {
    "xor": xor, "chain": chain, "circles": classifier_2881, "spiral": spiral,
    "softmax3": softmax3, "regression": regression,
}


def write_examples(folder: Path) -> list[Path]:
    """(Re)write assets/examples/*.json from the recipes: `python -m core.templates`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, recipe in EXAMPLES.items():
        path = folder / f"{name}.json"
        save_project(recipe(), path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_examples(Path(__file__).resolve().parents[1] / "assets" / "examples"):
        print(p)


# Real data sets that scikit-learn ships (optional extra "datasets"), each with a net that
# suits it. Tests check the accuracy each reaches headless.
def _real(name: str, sizes: list[int], title: str, description: str, training: TrainingSettings,
          goal: dict) -> Project:
    output = "sigmoid" if sizes[-1] == 1 else "identity"
    net = layered(sizes, hidden="tanh", output=output)
    data = DataSettings(generator=name, noise=0.0, test_fraction=0.25, standardize=True, seed=0)
    return _project(net, data, training, title, description, goal)


def iris() -> Project:
    return _real("iris", [4, 8, 3], "Iris 4-8-3", "Fisher's iris flowers: three species from "
                 "four measurements.", TrainingSettings(loss="softmax_ce", optimizer="adam",
                                                        learning_rate=0.01, batch_size=16,
                                                        epochs=200,
                                                        initializer="xavier_uniform"),
                 {"loss": 0.15, "epochs": 200})


def digits() -> Project:
    return _real("digits", [64, 32, 10], "Digits 64-32-10", "8x8 handwritten digits: the "
                 "postal-code problem that made backpropagation famous.",
                 TrainingSettings(loss="softmax_ce", optimizer="adam", learning_rate=0.005,
                                  batch_size=32, epochs=60, initializer="xavier_uniform"),
                 {"loss": 0.1, "epochs": 60})


def wine() -> Project:
    return _real("wine", [13, 8, 3], "Wine 13-8-3", "Three cultivars from 13 chemical "
                 "measurements.", TrainingSettings(loss="softmax_ce", optimizer="adam",
                                                   learning_rate=0.01, batch_size=16, epochs=150,
                                                   initializer="xavier_uniform"),
                 {"loss": 0.1, "epochs": 150})


def breast_cancer() -> Project:
    return _real("breast_cancer", [30, 8, 1], "Breast cancer 30-8-1", "Benign or malignant from "
                 "30 tumour features.", TrainingSettings(loss="bce", optimizer="adam",
                                                         learning_rate=0.005, batch_size=32,
                                                         epochs=100,
                                                         initializer="xavier_uniform"),
                 {"loss": 0.1, "epochs": 100})


REAL_TEMPLATES: dict[str, Template] = {
    "iris": Template("Iris 4-8-3 (scikit-learn data)", iris),
    "wine": Template("Wine 13-8-3 (scikit-learn data)", wine),
    "breast_cancer": Template("Breast cancer 30-8-1 (scikit-learn data)", breast_cancer),
    "digits": Template("Digits 64-32-10 (scikit-learn data)", digits),
}
