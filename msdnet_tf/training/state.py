"""Atomic, resumable training state: one file holds weights, optimizer and history.

`latest.npz` is written to a temporary name and renamed, so a run killed at
any instant leaves either the previous or the new complete state. It holds
every model variable (BN statistics included), every optimizer variable
(iterations, momentum), the finished epoch count, the best validation
accuracy so far and the history records; `history.jsonl` is rewritten from it
on resume, so a killed epoch never leaves a line behind.
"""

import json
import os
from pathlib import Path

import numpy as np

STATE_FILE = "latest.npz"
BEST_WEIGHTS = "best.weights.h5"


def atomic_write_text(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_state(directory, model, optimizer, meta):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{i}": np.asarray(v) for i, v in enumerate(model.weights)}
    arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = directory / f".{STATE_FILE}.tmp.npz"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / STATE_FILE)


def load_state(directory, model, optimizer):
    """Restores model and optimizer from `directory`; returns meta, or None if no state."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        _assign(model.weights, data, "model", path)
        _assign(optimizer.variables, data, "optimizer", path)
    return meta


def load_meta(directory):
    """The meta record of `directory`'s state file (epoch, history, ...), or None."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        return json.loads(bytes(data["meta"]).decode())


def _assign(variables, data, prefix, path):
    saved = sum(1 for k in data.files if k.startswith(prefix + "/"))
    if saved != len(variables):
        raise ValueError(f"{path} holds {saved} {prefix} variables, the run has "
                         f"{len(variables)}: the checkpoint is for another model or optimizer")
    for i, v in enumerate(variables):
        value = data[f"{prefix}/{i}"]
        if tuple(value.shape) != tuple(v.shape):
            raise ValueError(f"{path}: {prefix} variable {v.path} has shape {value.shape}, "
                             f"expected {tuple(v.shape)}")
        v.assign(value)


def save_best_weights(directory, model):
    directory = Path(directory)
    tmp = directory / f".tmp.{BEST_WEIGHTS}"
    model.save_weights(tmp)
    os.replace(tmp, directory / BEST_WEIGHTS)


def write_history(path, records):
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
