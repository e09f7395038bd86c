"""The logits file: every exit's logits on the hold-out and the test set.

`logits.npz` holds
- `val_logits`  float [K, N_val, C]: the hold-out (thresholds are found here),
- `val_labels`  int [N_val],
- `test_logits` float [K, N_test, C], `test_labels` int [N_test],
- `exit_cumulative_flops`  float64 [K]: cumulative FLOPs of exit k (spec
  counting rules),
- optionally `exit_cumulative_params` [K] and `model`, a string naming or
  hashing the model, copied into thresholds.json so that a consumer can check
  the thresholds belong to its model.
Files written before these keys had their current names call them
`exit_flops` / `exit_params`; both are read.

Whoever produces the file (an evaluation of a trained model, a test) writes it
with `save_logits`, which applies the same checks as `load_logits`.
"""

import dataclasses
from pathlib import Path

import numpy as np

from msdnet_tf.evaluation.common import EvaluationError

REQUIRED_KEYS = ("val_logits", "val_labels", "test_logits", "test_labels",
                 "exit_cumulative_flops")
OPTIONAL_KEYS = ("exit_cumulative_params", "model")
LEGACY_KEYS = {"exit_flops": "exit_cumulative_flops", "exit_params": "exit_cumulative_params"}


@dataclasses.dataclass(frozen=True)
class LogitsSet:
    """A validated logits file. Exits are indexed 0..K-1 (exit_0 ... exit_{K-1})."""

    val_logits: np.ndarray
    val_labels: np.ndarray
    test_logits: np.ndarray
    test_labels: np.ndarray
    exit_flops: np.ndarray
    exit_params: np.ndarray | None = None
    model: str | None = None
    source: str = "logits"

    @property
    def num_exits(self):
        return self.val_logits.shape[0]

    @property
    def num_classes(self):
        return self.val_logits.shape[2]


def _fail(source, problem):
    raise EvaluationError(f"logits file {source}: {problem}")


def _check_logits(source, key, x):
    if x.ndim != 3 or x.dtype.kind != "f":
        _fail(source, f"{key} must be a float array [K, N, C]. "
                      f"Received: dtype={x.dtype}, shape={x.shape}")
    if min(x.shape) < 1:
        _fail(source, f"{key} must have at least one exit, sample and class. "
                      f"Received: shape={x.shape}")
    # One exit at a time: a full-size boolean copy of ImageNet logits is 250 MB.
    for k in range(x.shape[0]):
        if not np.isfinite(x[k]).all():
            _fail(source, f"{key} of exit_{k} contains NaN or infinite values")


def _check_labels(source, key, labels, n, num_classes):
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        _fail(source, f"{key} must be a 1-D integer array. "
                      f"Received: dtype={labels.dtype}, shape={labels.shape}")
    if labels.shape[0] != n:
        _fail(source, f"{key} has {labels.shape[0]} labels but the logits have {n} samples")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        _fail(source, f"{key} holds label {bad}, outside [0, {num_classes}) "
                      f"(the logits have {num_classes} classes)")


def _check_per_exit(source, key, values, num_exits, cumulative):
    if values.ndim != 1 or values.shape[0] != num_exits or values.dtype.kind not in "iuf":
        _fail(source, f"{key} must be {num_exits} numbers, one per exit. "
                      f"Received: dtype={values.dtype}, shape={values.shape}")
    values = values.astype(np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        _fail(source, f"{key} must be finite and non-negative. Received: {values.tolist()}")
    if cumulative and (np.diff(values) < 0).any():
        _fail(source, f"{key} must be cumulative (non-decreasing over the exits). "
                      f"Received: {values.tolist()}")
    return values


def _check_model(source, model):
    if model is None:
        return None
    model = np.asarray(model)
    if model.ndim != 0 or model.dtype.kind not in "US":
        _fail(source, f"model must be a single string. "
                      f"Received: dtype={model.dtype}, shape={model.shape}")
    value = model.item()
    value = value.decode() if isinstance(value, bytes) else str(value)
    if not value:
        _fail(source, "model must be a non-empty string (leave the key out if unknown)")
    return value


def validate_logits(arrays, source="logits"):
    """Checks a mapping of arrays (the keys above) and returns a `LogitsSet`."""
    renamed = {LEGACY_KEYS[k]: v for k, v in arrays.items() if k in LEGACY_KEYS}
    arrays = {**renamed, **{k: v for k, v in arrays.items() if k not in LEGACY_KEYS}}
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        _fail(source, f"missing {', '.join(missing)} (required: {', '.join(REQUIRED_KEYS)})")
    val, test = np.asarray(arrays["val_logits"]), np.asarray(arrays["test_logits"])
    _check_logits(source, "val_logits", val)
    _check_logits(source, "test_logits", test)
    if (val.shape[0], val.shape[2]) != (test.shape[0], test.shape[2]):
        _fail(source, f"val_logits and test_logits disagree on exits or classes. "
                      f"Received: val_logits {val.shape}, test_logits {test.shape}")
    num_exits, num_classes = val.shape[0], val.shape[2]
    val_labels, test_labels = np.asarray(arrays["val_labels"]), np.asarray(arrays["test_labels"])
    _check_labels(source, "val_labels", val_labels, val.shape[1], num_classes)
    _check_labels(source, "test_labels", test_labels, test.shape[1], num_classes)
    flops = _check_per_exit(source, "exit_cumulative_flops",
                            np.asarray(arrays["exit_cumulative_flops"]), num_exits, cumulative=True)
    params = arrays.get("exit_cumulative_params")
    if params is not None:
        params = _check_per_exit(source, "exit_cumulative_params", np.asarray(params), num_exits,
                                 cumulative=True)
    return LogitsSet(
        val_logits=val, val_labels=val_labels.astype(np.int64),
        test_logits=test, test_labels=test_labels.astype(np.int64),
        exit_flops=flops, exit_params=params,
        model=_check_model(source, arrays.get("model")), source=str(source),
    )


def load_logits(path):
    """Loads and validates a logits file; EvaluationError names the file and problem."""
    from msdnet_tf import files

    path = Path(path)
    known = REQUIRED_KEYS + OPTIONAL_KEYS + tuple(LEGACY_KEYS)
    try:
        arrays = files.load_npz(path, "logits file", keys=known)
    except files.FileProblem as e:
        raise EvaluationError(str(e)) from None
    return validate_logits(arrays, source=path)


def save_logits(path, *, val_logits, val_labels, test_logits, test_labels, exit_flops,
                exit_params=None, model=None):
    """Validates and writes a logits file (uncompressed .npz); returns its path.

    exit_flops / exit_params: cumulative per-exit FLOPs / parameters, written as
    `exit_cumulative_flops` / `exit_cumulative_params`.
    """
    arrays = dict(val_logits=val_logits, val_labels=val_labels, test_logits=test_logits,
                  test_labels=test_labels, exit_cumulative_flops=exit_flops)
    if exit_params is not None:
        arrays["exit_cumulative_params"] = exit_params
    if model is not None:
        arrays["model"] = np.asarray(str(model))
    data = validate_logits(arrays, source=path)
    out = {"val_logits": np.asarray(data.val_logits, np.float32),
           "val_labels": data.val_labels,
           "test_logits": np.asarray(data.test_logits, np.float32),
           "test_labels": data.test_labels, "exit_cumulative_flops": data.exit_flops}
    if data.exit_params is not None:
        out["exit_cumulative_params"] = data.exit_params
    if data.model is not None:
        out["model"] = np.asarray(data.model)
    from msdnet_tf.workdir import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **out)
    return path
