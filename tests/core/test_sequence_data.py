"""Sequence data: CSV sequences, the split by sequence, standardisation over existing steps, and
the two settings (data.sequence_column, data.sequence_length)."""
import json
import re
from itertools import groupby
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data import padding

from core.data.csv_file import load_csv_sequences
from core.data.dataset import make_dataset, split
from core.data.generators import GENERATORS
from core.data.sequences import SEQUENCE_GENERATORS
from core.errors import DataError, ProjectError, SettingsError
from core.project import loads_project
from core.settings import DataSettings
from core.templates import TEMPLATES

# Three sequences: a (3 rows), b (1 row), c (2 rows); t is a column the loader never reads.
HAND = """seq,t,x1,x2,y
a,0,1,-1,10
a,1,2,-2,20
a,2,3,-3,30
b,0,4,-4,40
c,0,5,-5,50
c,1,6,-6,60
"""


def write(tmp_path, text, name="seq.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_rows_group_into_padded_masked_sequences(tmp_path):
    x, y, mask, inputs, targets, classes = load_csv_sequences(
        write(tmp_path, HAND), ["x1", "x2"], ["y"], "regression", "seq")
    assert inputs == ["x1", "x2"] and targets == ["y"] and classes is None
    assert x.shape == (3, 3, 2) and y.shape == (3, 3, 1)
    assert mask.tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    assert x[:, :, 0].tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 0]]
    assert x[:, :, 1].tolist() == [[-1, -2, -3], [-4, 0, 0], [-5, -6, 0]]
    assert y[:, :, 0].tolist() == [[10, 20, 30], [40, 0, 0], [50, 60, 0]]


def test_csv_sequences_keep_file_order_and_first_appearance(tmp_path):
    # Names that would sort otherwise (z before a; 10 before 9): order is the file's.
    text = "id,v,label\nz,1,no\nz,2,yes\n10,3,yes\n9,4,no\n9,5,no\n9,6,yes\n"
    x, y, mask, _, targets, classes = load_csv_sequences(
        write(tmp_path, text), ["v"], ["label"], "classification", "id")
    assert x[:, :, 0].tolist() == [[1, 2, 0], [3, 0, 0], [4, 5, 6]]
    assert classes == ["no", "yes"] and targets == ["label"]  # two classes: one 0/1 column
    assert y[:, :, 0].tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert mask.sum(axis=1).tolist() == [2, 1, 3]


@pytest.mark.parametrize("text, column, message", [
    (HAND, "run", r"^seq.csv has no column 'run'; its columns are: seq, t, x1, x2, y$"),
    (HAND, "x1", r"^column 'x1' is the sequence column and an input$"),
    (HAND, "y", r"^column 'y' is the sequence column and a target$"),
    ("seq,x1,y\na,1,1\nb,2,2\na,3,3\n", "seq",
     r"^seq.csv line 4, column 'seq': sequence 'a' began on line 2 and comes back after other "
     r"rows; a sequence's rows must be together$"),
    ("seq,x1,y\na,1,1\n ,2,2\n", "seq", r"^seq.csv line 3, column 'seq': the sequence name is "
     r"empty$"),
    ("seq,x1,y\n1,1,1\n2,2,2\n3,3,3\n", "seq",
     r"^seq.csv: every sequence in column 'seq' has one row; the sequence column names the "),
    ("seq,x1,y\na,1,1\na,oops,2\n", "seq", r"^seq.csv line 3, column 'x1': 'oops' is not a "
     r"number$"),
])
def test_bad_csv_sequences_are_refused_in_one_line(tmp_path, text, column, message):
    with pytest.raises(DataError, match=message) as caught:
        load_csv_sequences(write(tmp_path, text), ["x1"], ["y"], "regression", column)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_a_table_never_has_its_names_quoted(tmp_path):
    secret = "seq,x1,y\nhunter2,1,1\nother,2,2\nhunter2,3,3\n"
    with pytest.raises(DataError) as caught:
        load_csv_sequences(write(tmp_path, secret, "id_rsa"), ["x1"], ["y"], "regression", "seq")
    assert "hunter2" not in str(caught.value) and "the value" in str(caught.value)


def _csv_settings(path, **kw):
    return DataSettings(source="csv", csv_path=str(path), input_columns=["x1", "x2"],
                        target_columns=["y"], task="regression", sequence_column="seq", **kw)


def _numbered_sequences(tmp_path, n=30):
    """Sequence i has 1 + i % 5 rows; row t holds x1 = 100 i + t and x2 = (i + 1) * (t + 1)."""
    rows = ["seq,x1,x2,y"]
    for i in range(n):
        rows += [f"s{i},{100 * i + t},{(i + 1) * (t + 1)},{t}" for t in range(1 + i % 5)]
    return write(tmp_path, "\n".join(rows) + "\n")


def test_split_keeps_sequences_whole(tmp_path):
    data = make_dataset(_csv_settings(_numbered_sequences(tmp_path), test_fraction=0.3, seed=4))
    assert data.is_sequence and len(data.x_train) == 21 and len(data.x_test) == 9
    seen = []
    for x, mask in ((data.x_train, data.mask_train), (data.x_test, data.mask_test)):
        for seq, m in zip(x, mask):
            i = int(seq[0, 0]) // 100
            length = 1 + i % 5
            assert m.tolist() == [True] * length + [False] * (5 - length)
            assert seq[m, 0].tolist() == [100 * i + t for t in range(length)]  # all of it
            seen.append(i)
    assert sorted(seen) == list(range(30))
    # The same sequences go to the test part as rows would in a feed-forward split.
    ids = np.arange(30.0)[:, None]
    test_ids = sorted(int(s[0, 0]) // 100 for s in data.x_test)
    assert test_ids == sorted(split(ids, ids, 0.3, 4)[2][:, 0])


def test_standardisation_ignores_padded_steps(tmp_path):
    path = _numbered_sequences(tmp_path)
    raw = make_dataset(_csv_settings(path, test_fraction=0.3, seed=4))
    data = make_dataset(_csv_settings(path, test_fraction=0.3, seed=4, standardize=True))
    # Independently: the rows of the file that belong to training sequences.
    train_ids = {int(s[0, 0]) // 100 for s in raw.x_train}
    rows = np.array([[100 * i + t, (i + 1) * (t + 1)] for i in sorted(train_ids)
                     for t in range(1 + i % 5)], dtype=float)
    np.testing.assert_allclose(data.mean, rows.mean(axis=0))
    np.testing.assert_allclose(data.std, rows.std(axis=0))
    padded_mean = raw.x_train.reshape(-1, 2).mean(axis=0)  # what counting padding would give
    assert not np.allclose(data.mean, padded_mean)
    for x, mask in ((data.x_train, data.mask_train), (data.x_test, data.mask_test)):
        assert not x[~mask].any()  # padding stays zero
    np.testing.assert_allclose(data.x_train[data.mask_train].mean(axis=0), 0, atol=1e-12)
    raw_test = raw.x_test[raw.mask_test]
    np.testing.assert_allclose(data.x_test[data.mask_test], (raw_test - rows.mean(0)) / rows.std(0))


def test_generated_sequences_through_the_settings():
    data = make_dataset(DataSettings(generator="adding", samples=50, sequence_length=30,
                                     test_fraction=0.2, standardize=True, seed=1))
    assert data.is_sequence and data.x_train.shape == (40, 30, 2)
    assert data.x_test.shape == (10, 30, 2)
    assert data.n_inputs == 2 and data.n_targets == 1 and data.mask_train.all()
    assert data.describe() == ("40 training and 10 test sequences of 30 steps, 2 input(s), "
                               "1 target(s), regression")
    parity = make_dataset(DataSettings(generator="parity", samples=10))
    assert parity.task == "classification" and parity.class_names == ["0", "1"]
    assert make_dataset(DataSettings(generator="reber", samples=40)).describe().startswith(
        "32 training and 8 test sequences of ")


def test_feed_forward_data_has_no_masks():
    data = make_dataset(DataSettings(generator="xor", samples=8))
    assert not data.is_sequence and data.mask_train is None and data.mask_test is None
    assert data.describe() == ("6 training and 2 test samples, 2 input(s), 1 target(s), "
                               "classification")


def test_the_sequence_settings_are_written_only_when_set_and_round_trip():
    assert not {"sequence_column", "sequence_length"} & DataSettings().to_dict().keys()
    settings = DataSettings.from_dict({"generator": "echo", "sequence_length": 50})
    assert settings.sequence_length == 50 and settings.sequence_column is None
    assert settings.to_dict()["sequence_length"] == 50
    assert DataSettings.from_dict(settings.to_dict()) == settings
    csv = DataSettings.from_dict({"source": "csv", "sequence_column": "run"})
    assert csv.to_dict()["sequence_column"] == "run"
    assert DataSettings.from_dict(csv.to_dict()) == csv


@pytest.mark.parametrize("data, message", [
    ({"sequence_column": ""}, "data.sequence_column must be a column name or null"),
    ({"sequence_column": 3}, "data.sequence_column must be a column name or null"),
    ({"sequence_length": 1}, "data.sequence_length must be between 2 and 100000, not 1"),
    ({"sequence_length": 2.5}, "data.sequence_length must be a whole number"),
    ({"sequence_length": "20"}, "data.sequence_length must be a whole number"),
])
def test_bad_sequence_settings_are_refused_in_one_line(data, message):
    with pytest.raises(SettingsError) as caught:
        DataSettings.from_dict(data)
    assert str(caught.value) == message


def test_a_project_on_sequences_saves_and_opens_and_old_files_open_unchanged():
    project = next(iter(TEMPLATES.values())).build()
    old = project.to_dict()
    assert not {"sequence_column", "sequence_length"} & old["data"].keys()
    assert loads_project(json.dumps(old), "old.json").data == project.data
    project.data = DataSettings(generator="reber", samples=64, sequence_length=40)
    text = json.dumps(project.to_dict())
    again = loads_project(text, "reber.json")
    assert again.data == project.data and json.dumps(again.to_dict()) == text
    with pytest.raises(ProjectError, match=r"^x.json: data.sequence_length must be between 2 and "):
        loads_project(text.replace('"sequence_length": 40', '"sequence_length": 0'), "x.json")


def test_the_file_format_lists_every_generator():
    """docs/file-format.md's generator row names exactly the generators, sequences included."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "file-format.md").read_text()
    row = re.search(r"^\| `generator` \| ([^|]+) \|", doc, re.M).group(1)
    assert re.findall(r"`([a-z_0-9]+)`", row) == [*GENERATORS, *SEQUENCE_GENERATORS]


def test_a_feature_reading_a_column_a_sequence_generator_lacks_is_refused_on_open():
    doc = TEMPLATES["circles_features"].build().to_dict()  # inputs x1² and x2²
    doc["data"] = {"generator": "adding"}  # two columns: value, marker
    assert loads_project(json.dumps(doc), "f.json").data.generator == "adding"
    doc["data"] = {"generator": "echo"}  # one column
    with pytest.raises(ProjectError, match=r"^f.json: the input feature x2² reads column x2, "
                                           r"but the data has 1 input column\(s\)$"):
        loads_project(json.dumps(doc), "f.json")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "7", "x y"]),
                          st.lists(st.integers(-99, 99), min_size=1, max_size=6)),
                min_size=1, max_size=8))
def test_csv_grouping_matches_itertools_groupby(tmp_path_factory, runs):
    """Any file whose sequences' rows are adjacent: the loader's grouping against groupby's."""
    names = [f"{name}{i}" for i, (name, _) in enumerate(runs)]  # adjacent runs never share one
    lines = ["seq,v,y"] + [f"{n},{v},{2 * v}" for n, (_, values) in zip(names, runs)
                           for v in values]
    if all(len(values) == 1 for _, values in runs):
        lines.append(f"{names[-1]},0,0")  # at least one sequence of two rows
    path = write(tmp_path_factory.mktemp("g"), "\n".join(lines) + "\n")
    rows = [line.split(",") for line in lines[1:]]
    expected = [[float(r[1]) for r in group] for _, group in groupby(rows, key=lambda r: r[0])]
    x, y, mask, *_ = load_csv_sequences(path, ["v"], ["y"], "regression", "seq")
    assert [list(seq[m, 0]) for seq, m in zip(x, mask)] == expected
    assert [list(seq[m, 0]) for seq, m in zip(y, mask)] == [[2 * v for v in e] for e in expected]
    assert mask.shape[1] == max(map(len, expected))


def test_padding_past_the_step_limit_is_refused_before_it_is_made(tmp_path, monkeypatch):
    monkeypatch.setattr(padding, "MAX_STEPS", 9)
    path = write(tmp_path, HAND)
    assert load_csv_sequences(path, ["x1"], ["y"], "regression", "seq")[0].shape == (3, 3, 1)
    path = write(tmp_path, HAND + "d,0,7,-7,70\n")  # 4 sequences x 3 steps
    with pytest.raises(DataError, match=r"^seq.csv: 4 sequences x 3 steps is 12 time steps; at "
                                        r"most 9 are allowed$"):
        load_csv_sequences(path, ["x1"], ["y"], "regression", "seq")
