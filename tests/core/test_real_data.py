"""The real data sets scikit-learn ships: loaded offline, and their templates reach the
accuracy the issue asks for (digits at least 90%, iris at least 93% on the test part)."""
import numpy as np
import pytest

pytest.importorskip("sklearn")

from core.data.dataset import make_dataset  # noqa: E402
from core.templates import REAL_TEMPLATES  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

REQUIRED = {"digits": 0.90, "iris": 0.93, "wine": 0.9, "breast_cancer": 0.9}


@pytest.mark.parametrize("name", sorted(REAL_TEMPLATES))
def test_template_reaches_its_accuracy(name):
    project = REAL_TEMPLATES[name].build()
    data = make_dataset(project.data)
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    assert len(data.x_train) + len(data.x_test) == len(bunch.data)
    assert data.input_names == [str(f) for f in bunch.feature_names]
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-9)  # standardised
    trainer = Trainer(project.network, data, project.training)
    final = trainer.run(epochs=project.goal["epochs"])
    assert final.test_accuracy >= REQUIRED[name]
    assert final.train_loss <= project.goal["loss"]
