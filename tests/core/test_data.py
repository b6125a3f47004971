"""Generators, split, standardisation and the CSV loader."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data.csv_file import csv_preview, load_csv
from core.data.dataset import DataError, make_dataset, split
from core.data.generators import GENERATORS, REAL_DATA, generate
from core.settings import DataSettings


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_seeded_and_shaped(name):
    x, y, task, inputs, targets = generate(name, 60, 0.1, seed=3, classes=4)
    again = generate(name, 60, 0.1, seed=3, classes=4)
    other = generate(name, 60, 0.1, seed=4, classes=4)
    assert np.array_equal(x, again[0]) and np.array_equal(y, again[1])
    assert not np.array_equal(x, other[0])
    rows = len(x) if name in REAL_DATA else 60  # real data sets come whole
    assert x.shape == (rows, GENERATORS[name].n_inputs) == (rows, len(inputs))
    assert y.shape[1] == len(targets) and task == GENERATORS[name].task
    if task == "classification" and y.shape[1] == 1:
        # The truth tables' own balance; the breast-cancer data is 357 benign of 569.
        share = {"and": 0.25, "or": 0.75, "breast_cancer": 357 / 569}.get(name, 0.5)
        assert set(np.unique(y)) == {0.0, 1.0} and y.mean() == pytest.approx(share, abs=0.05)


def test_logic_tables_without_noise():
    for name, table in (("xor", [0, 1, 1, 0]), ("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1])):
        x, y, *_ = generate(name, 4, 0.0, 0)
        assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y[:, 0].tolist() == table


def test_geometry():
    x, y, *_ = generate("circles", 400, 0.0, 1)
    r = np.hypot(x[:, 0], x[:, 1])
    assert r[y[:, 0] == 1].max() < r[y[:, 0] == 0].min()
    x, y, *_ = generate("sine", 100, 0.0, 1)
    np.testing.assert_allclose(y[:, 0], np.sin(x[:, 0]))
    x, y, *_ = generate("blobs", 300, 0.1, 1, classes=3)
    assert y.shape == (300, 3) and np.all(y.sum(axis=1) == 1)
    for k in range(3):  # each class sits around its own centre
        centre = x[y[:, k] == 1].mean(axis=0)
        assert np.linalg.norm(centre - 2 * np.array([np.cos(2 * np.pi * k / 3),
                                                     np.sin(2 * np.pi * k / 3)])) < 0.1


def test_split_is_disjoint_and_sized():
    x = np.arange(100.0)[:, None]
    xtr, ytr, xte, yte = split(x, x, 0.25, seed=0)
    assert len(xte) == 25 and len(xtr) == 75
    assert sorted(np.concatenate([xtr, xte])[:, 0]) == list(range(100))
    assert split(x, x, 0.0, 0)[2].shape == (0, 1)


def test_standardisation_is_fitted_on_the_training_part_only():
    d = make_dataset(DataSettings(generator="plane", samples=200, test_fraction=0.3,
                                  standardize=True, seed=2))
    raw = make_dataset(DataSettings(generator="plane", samples=200, test_fraction=0.3, seed=2))
    np.testing.assert_allclose(d.mean, raw.x_train.mean(axis=0))
    np.testing.assert_allclose(d.std, raw.x_train.std(axis=0))
    np.testing.assert_allclose(d.x_test, (raw.x_test - raw.x_train.mean(0)) / raw.x_train.std(0))
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0, atol=1e-12)


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_one_hot_classes(tmp_path):
    path = write(tmp_path, "a,b,label\n1,2,cat\n3,4,dog\n5,6,bird\n7,8,cat\n")
    x, y, inputs, targets, classes = load_csv(path, ["a", "b"], ["label"], "classification")
    assert x.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert classes == ["bird", "cat", "dog"] and targets == classes
    assert y.tolist() == [[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]]
    two = write(tmp_path, "a,label\n1,10\n2,2\n3,10\n", "two.csv")
    x, y, _, _, classes = load_csv(two, ["a"], ["label"], "classification")
    assert classes == ["2", "10"] and y[:, 0].tolist() == [1, 0, 1]
    assert csv_preview(path, 2) == (["a", "b", "label"], [["1", "2", "cat"], ["3", "4", "dog"]])


@pytest.mark.parametrize("text, columns, message", [
    ("a,b,y\n1,2,3\n4,x,6\n", (["a", "b"], ["y"]), "data.csv line 3, column 'b': 'x' is not a number"),
    ("a,b,y\n1,2,3\n4,5\n", (["a", "b"], ["y"]), "data.csv line 3 has 2 fields; the header has 3"),
    ("a,b,y\n1,2,3\n4,5,6\n", (["a", "c"], ["y"]), "no column 'c'; its columns are: a, b, y"),
    ("a,b,y\n1,2,3\n4,nan,6\n", (["a", "b"], ["y"]), "'nan' is not a finite number"),
    ("a,b,y\n1,2,3\n", (["a", "b"], ["y"]), "1 data row(s); at least 2"),
    ("", (["a"], ["y"]), "is empty"),
    ("a,y\n1,u\n2,u\n", (["a"], ["y"]), "only one class ('u')"),
    ("a,y\n1,\n2,u\n", (["a"], ["y"]), "line 2, column 'y': the class label is empty"),
])
def test_csv_refusals_name_line_and_column(tmp_path, text, columns, message):
    path = write(tmp_path, text)
    task = "classification" if "class" in message else "regression"
    with pytest.raises(DataError) as info:
        load_csv(path, *columns, task)
    assert message in str(info.value)


def test_csv_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(DataError, match="No such file"):
        load_csv(tmp_path / "nope.csv", ["a"], ["y"], "regression")
    bad = tmp_path / "latin.csv"
    bad.write_bytes(b"a,y\n\xe9,1\n2,3\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_csv(bad, ["a"], ["y"], "regression")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab,;\"\n\r 1.5-e\x00x")), max_size=200))
def test_junk_csv_loads_or_raises_data_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("junk") / "junk.csv"
    path.write_text(text)
    try:
        x, y, *_ = load_csv(path, ["a"], ["b"], "regression")
        assert np.isfinite(x).all() and np.isfinite(y).all()
    except DataError:
        pass


def test_make_dataset_from_csv_relative_to_the_project(tmp_path):
    write(tmp_path, "u,v,t\n0,1,0.5\n1,0,0.25\n1,1,1\n0,0,0\n")
    d = make_dataset(DataSettings(source="csv", csv_path="data.csv", input_columns=["u", "v"],
                                  target_columns=["t"], task="regression", test_fraction=0.25),
                     tmp_path)
    assert len(d.x_train) == 3 and len(d.x_test) == 1 and d.input_names == ["u", "v"]
