"""The hold-out: seeded, saved once, reused, and never silently redrawn."""

import json

import numpy as np
import pytest

from msdnet_tf.data import holdout
from msdnet_tf.data.errors import DataError


def test_indices_are_seeded_distinct_sorted():
    a = holdout.holdout_indices(1000, 100, seed=3)
    assert len(a) == 100 and len(np.unique(a)) == 100 and np.all(np.diff(a) > 0)
    assert a.min() >= 0 and a.max() < 1000 and a.dtype == np.int64
    np.testing.assert_array_equal(a, holdout.holdout_indices(1000, 100, seed=3))
    assert not np.array_equal(a, holdout.holdout_indices(1000, 100, seed=4))
    assert len(holdout.holdout_indices(10, 0, seed=0)) == 0


@pytest.mark.parametrize("size", [-1, 10, 11])
def test_size_out_of_range(size):
    with pytest.raises(DataError, match="data.holdout_size"):
        holdout.holdout_indices(10, size, seed=0)


def test_saved_then_reused(tmp_path):
    first = holdout.load_or_create_holdout(tmp_path, "digits", 1497, 300, 0)
    saved = json.loads((tmp_path / holdout.HOLDOUT_FILE).read_text())
    assert {k: saved[k] for k in ("dataset", "num_train", "size", "seed")} == {
        "dataset": "digits", "num_train": 1497, "size": 300, "seed": 0}
    assert saved["indices"] == first.tolist()
    # The saved file wins over a fresh draw (e.g. after a NumPy change).
    saved["indices"] = list(range(300))
    (tmp_path / holdout.HOLDOUT_FILE).write_text(json.dumps(saved))
    again = holdout.load_or_create_holdout(tmp_path, "digits", 1497, 300, 0)
    np.testing.assert_array_equal(again, np.arange(300))


@pytest.mark.parametrize("change,key", [
    ({"seed": 1}, "data.holdout_seed=0"), ({"size": 200}, "data.holdout_size=300"),
    ({"dataset": "cifar10"}, "data.dataset=digits"), ({"num_train": 1000}, "num_train")])
def test_mismatch_is_an_error(tmp_path, change, key):
    holdout.load_or_create_holdout(tmp_path, "digits", 1497, 300, 0)
    args = {"dataset": "digits", "num_train": 1497, "size": 300, "seed": 0, **change}
    with pytest.raises(DataError, match=key) as e:
        holdout.load_or_create_holdout(tmp_path, args["dataset"], args["num_train"],
                                       args["size"], args["seed"])
    assert "holdout.json" in str(e.value) and "new workdir" in str(e.value)


def test_corrupted_file(tmp_path):
    (tmp_path / holdout.HOLDOUT_FILE).write_text("{not json")
    with pytest.raises(DataError, match="hold-out file .* is not valid JSON"):
        holdout.load_or_create_holdout(tmp_path, "digits", 1497, 300, 0)
    bad = {"dataset": "digits", "num_train": 10, "size": 2, "seed": 0, "indices": [3, 3]}
    (tmp_path / holdout.HOLDOUT_FILE).write_text(json.dumps(bad))
    with pytest.raises(DataError, match="inconsistent"):
        holdout.load_or_create_holdout(tmp_path, "digits", 10, 2, 0)


def test_no_workdir_draws_without_saving(tmp_path):
    a = holdout.load_or_create_holdout(None, "digits", 100, 10, 0)
    np.testing.assert_array_equal(a, holdout.holdout_indices(100, 10, 0))
    assert not list(tmp_path.iterdir())
