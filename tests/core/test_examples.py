"""Every example in assets/examples trains headless to the loss it states, within its epochs,
and the files are exactly what the recipes in core.templates produce."""
from pathlib import Path

import pytest

from core.data.dataset import make_dataset
from core.project import load_project
from core.templates import EXAMPLES, TEMPLATES
from core.training.trainer import Trainer

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_reaches_its_stated_loss(name):
    path = EXAMPLES_DIR / f"{name}.json"
    project = load_project(path)
    assert project.goal and project.title and project.description
    data = make_dataset(project.data, path.parent)
    trainer = Trainer(project.network, data, project.training)
    first = trainer.evaluate().train_loss
    final = trainer.run(epochs=project.goal["epochs"])
    assert final.train_loss <= project.goal["loss"] < first, (final, first)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_file_matches_its_recipe(name):
    assert load_project(EXAMPLES_DIR / f"{name}.json").same_as(EXAMPLES[name]())


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_build_trainable_projects(name):
    project = TEMPLATES[name].build()
    trainer = Trainer(project.network, make_dataset(project.data), project.training)
    before = trainer.evaluate().train_loss
    assert trainer.run(epochs=5).train_loss < before
