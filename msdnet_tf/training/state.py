"""Atomic, resumable training state: one file holds weights, optimizer and history.

`latest.npz` is written to a temporary name and renamed, so a run killed at
any instant leaves either the previous or the new complete state. It holds
every model variable (BN statistics included), every optimizer variable
(iterations, momentum), the finished epoch count, the best validation
accuracy so far and the history records; `history.jsonl` is rewritten from it
on resume, so a killed epoch never leaves a line behind.

Reading is split in two so that a run can check everything before it writes
anything: `read_state` reads and checks the file itself (damage is a one-line
`FileProblem`), `restore` puts it into a model and optimizer (a checkpoint that
does not fit them raises `StateMismatch`).
"""

import json
import os
from pathlib import Path

import numpy as np

from msdnet_tf import files
from msdnet_tf.cli import UserError
from msdnet_tf.workdir import atomic_path, atomic_write_text

STATE_FILE = "latest.npz"
BEST_WEIGHTS = "best.weights.h5"
WHAT = "training state"
DAMAGED_HINT = ("restore it from a backup, or delete it to train this workdir from epoch 0 "
                "(or use a new --workdir)")


class StateMismatch(UserError):
    """A readable checkpoint that does not fit the model or optimizer of this run."""

    def __init__(self, path, detail):
        self.path, self.detail = Path(path), detail
        super().__init__(f"{path} {detail}")


def save_state(directory, model, optimizer, meta):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{i}": np.asarray(v) for i, v in enumerate(model.weights)}
    arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_path(directory / STATE_FILE) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def _meta(arrays, path):
    if "meta" not in arrays:
        raise files.FileProblem(WHAT, path, "is not a training state (it has no meta record)",
                                DAMAGED_HINT)
    try:
        meta = json.loads(bytes(np.asarray(arrays["meta"], np.uint8)).decode())
        ok = (isinstance(meta, dict) and isinstance(meta.get("epoch"), int)
              and meta["epoch"] >= 0 and isinstance(meta.get("history"), list)
              and isinstance(meta.get("best_val_top1"), (int, float))
              and isinstance(meta.get("best_epoch"), int))
    except (ValueError, TypeError, RecursionError):
        ok = False
    if not ok:
        raise files.FileProblem(WHAT, path, "has a damaged meta record", DAMAGED_HINT)
    return meta


def read_state(directory):
    """{"path", "meta", "arrays"} of `directory`/latest.npz, or None when there is none."""
    path = Path(directory) / STATE_FILE
    if not os.path.lexists(path):
        return None
    arrays = files.load_npz(path, WHAT, DAMAGED_HINT)
    meta = _meta(arrays, path)
    for key in arrays:
        prefix, _, index = key.partition("/")
        if key != "meta" and (prefix not in ("model", "optimizer") or not index.isdigit()):
            raise files.FileProblem(WHAT, path, f"is not a training state (it holds {key!r})",
                                    DAMAGED_HINT)
    return {"path": path, "meta": meta, "arrays": arrays}


def restore(state, model, optimizer):
    """Assigns a `read_state` result to `model` and `optimizer`; returns its meta."""
    _assign(model.weights, state["arrays"], "model", state["path"])
    _assign(optimizer.variables, state["arrays"], "optimizer", state["path"])
    return state["meta"]


def load_state(directory, model, optimizer):
    """Restores model and optimizer from `directory`; returns meta, or None if no state."""
    state = read_state(directory)
    return None if state is None else restore(state, model, optimizer)


def _assign(variables, data, prefix, path):
    saved = sum(1 for k in data if k.startswith(prefix + "/"))
    if saved != len(variables):
        raise StateMismatch(path, f"holds {saved} {prefix} variables, this run has "
                                  f"{len(variables)}")
    values = []
    for i, v in enumerate(variables):
        value = data.get(f"{prefix}/{i}")
        if value is None:
            raise StateMismatch(path, f"has no {prefix} variable {i} ({v.path})")
        if tuple(value.shape) != tuple(v.shape):
            raise StateMismatch(path, f"holds {prefix} variable {v.path} with shape "
                                      f"{tuple(value.shape)}, this run has {tuple(v.shape)}")
        if value.dtype.kind not in "fiub":
            raise StateMismatch(path, f"holds {prefix} variable {v.path} as {value.dtype}")
        values.append(value)
    for v, value in zip(variables, values):  # Only once everything fits.
        v.assign(value)


def save_best_weights(directory, model):
    with atomic_path(Path(directory) / BEST_WEIGHTS) as tmp:
        model.save_weights(tmp)


def write_history(path, records):
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
