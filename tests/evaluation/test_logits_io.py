"""logits.npz: round trip, and clear errors for bad files."""

import numpy as np
import pytest

from msdnet_tf.evaluation import EvaluationError, load_logits, save_logits

from .helpers import logits_arrays


def test_round_trip(tmp_path):
    arrays = logits_arrays(np.random.default_rng(0))
    path = save_logits(tmp_path / "logits.npz", **arrays, exit_params=[1e5, 2e5, 3e5],
                       model="msdnet-cifar100-abc123")
    data = load_logits(path)
    assert data.num_exits == 3 and data.num_classes == 10
    assert data.val_logits.dtype == np.float32
    np.testing.assert_array_equal(data.val_logits, arrays["val_logits"])
    np.testing.assert_array_equal(data.test_labels, arrays["test_labels"])
    assert data.exit_flops.tolist() == arrays["exit_flops"].tolist()
    assert data.exit_params.tolist() == [1e5, 2e5, 3e5]
    assert data.model == "msdnet-cifar100-abc123"


def test_optional_keys_absent(tmp_path):
    data = load_logits(save_logits(tmp_path / "l.npz", **logits_arrays(np.random.default_rng(1))))
    assert data.exit_params is None and data.model is None


def _write_raw(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def _bad(arrays, **changes):
    arrays = dict(arrays)
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    return arrays


@pytest.mark.parametrize("changes, message", [
    (dict(test_labels=None, exit_flops=None), "missing test_labels, exit_cumulative_flops"),
    (dict(test_logits=np.zeros((3, 50, 7), np.float32)),
     "val_logits and test_logits disagree on exits or classes"),
    (dict(test_logits=np.zeros((2, 50, 10), np.float32)),
     "val_logits and test_logits disagree"),
    (dict(val_logits=np.zeros((60, 10), np.float32)),
     r"val_logits must be a float array \[K, N, C\]"),
    (dict(val_logits=np.zeros((3, 60, 10), np.int32)), "val_logits must be a float array"),
    (dict(val_labels=np.arange(59)), "val_labels has 59 labels but the logits have 60 samples"),
    (dict(test_labels=np.full(50, 10)), r"test_labels holds label 10, outside \[0, 10\)"),
    (dict(test_labels=np.full(50, -1)), r"test_labels holds label -1"),
    (dict(val_labels=np.zeros(60, np.float32)), "val_labels must be a 1-D integer array"),
    (dict(exit_flops=np.array([1.0, 2.0])), "exit_cumulative_flops must be 3 numbers, one per exit"),
    (dict(exit_flops=np.array([3.0, 2.0, 1.0])), "exit_cumulative_flops must be cumulative"),
    (dict(exit_params=np.array([1.0, np.nan, 2.0])), "exit_cumulative_params must be finite"),
    (dict(model=np.array(["a", "b"])), "model must be a single string"),
])
def test_bad_contents_name_file_and_problem(tmp_path, changes, message):
    arrays = _bad(logits_arrays(np.random.default_rng(2)), **changes)
    path = _write_raw(tmp_path, **arrays)
    with pytest.raises(EvaluationError, match=message) as e:
        load_logits(path)
    assert str(e.value).startswith(f"logits file {path}: ")
    assert "\n" not in str(e.value)


def test_non_finite_logits(tmp_path):
    arrays = logits_arrays(np.random.default_rng(3))
    arrays["test_logits"][1, 4, 2] = np.nan
    with pytest.raises(EvaluationError, match="test_logits of exit_1 contains NaN"):
        load_logits(_write_raw(tmp_path, **arrays))


def test_save_refuses_bad_arrays(tmp_path):
    arrays = logits_arrays(np.random.default_rng(4))
    arrays["val_labels"] = arrays["val_labels"] + 10
    with pytest.raises(EvaluationError, match="val_labels holds label"):
        save_logits(tmp_path / "x.npz", **arrays)
    assert not (tmp_path / "x.npz").exists()


def test_unreadable_files(tmp_path):
    with pytest.raises(EvaluationError, match="does not exist"):
        load_logits(tmp_path / "nope.npz")
    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    with pytest.raises(EvaluationError, match=f"logits file {text} is not an .npz archive"):
        load_logits(text)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(EvaluationError, match="single .npy array, not an .npz archive"):
        load_logits(single)


def test_file_keys_and_the_names_older_files_used(tmp_path):
    arrays = logits_arrays(np.random.default_rng(2))
    path = save_logits(tmp_path / "l.npz", **arrays, exit_params=[1e5, 2e5, 3e5])
    with np.load(path) as npz:
        assert "exit_cumulative_flops" in npz.files and "exit_cumulative_params" in npz.files
        assert "exit_flops" not in npz.files
    old = _write_raw(tmp_path, **arrays, exit_params=np.array([1e5, 2e5, 3e5]))
    data = load_logits(old)
    assert data.exit_flops.tolist() == arrays["exit_flops"].tolist()
    assert data.exit_params.tolist() == [1e5, 2e5, 3e5]
