"""The validation hold-out: training images set aside, fixed by a seed and saved.

The hold-out is drawn from the *full* training split (before `data.train_limit`),
so a quick run and a full run with the same seed share it. The first run in a
workdir saves it to `holdout.json`; later runs reuse the saved indices (so a
NumPy upgrade cannot silently change it) and refuse a config that disagrees.
"""

import json
import os
from pathlib import Path

import numpy as np
from absl import logging

from msdnet_tf.data.errors import DataError

HOLDOUT_FILE = "holdout.json"


def holdout_indices(num_train, size, seed):
    """`size` distinct indices in [0, num_train), drawn with `seed`, sorted (int64)."""
    if not 0 <= size < num_train:
        raise DataError(
            f"data.holdout_size must be in [0, {num_train}) for a training split of "
            f"{num_train} images; set data.holdout_size. Received: data.holdout_size={size}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(num_train)[:size]).astype(np.int64)


def _record(dataset, num_train, size, seed):
    return {"dataset": dataset, "num_train": int(num_train), "size": int(size), "seed": int(seed)}


def _read(path):
    from msdnet_tf import files

    hint = "delete it to draw the hold-out again, or restore it from a backup"
    try:
        saved = files.read_json(path, "hold-out file", hint)
    except files.FileProblem as e:
        raise DataError(str(e)) from None
    try:
        record = _record(saved["dataset"], saved["num_train"], saved["size"], saved["seed"])
        indices = np.asarray(saved["indices"], np.int64)
    except (ValueError, KeyError, TypeError, OverflowError) as e:
        raise DataError(f"{path} is not a valid hold-out file ({e}); delete it to draw the "
                        "hold-out again, or restore it from a backup") from None
    ok = (indices.ndim == 1 and len(indices) == record["size"]
          and np.all((indices >= 0) & (indices < record["num_train"]))
          and len(np.unique(indices)) == len(indices))
    if not ok:
        raise DataError(f"{path} holds inconsistent indices (wrong count, duplicates or out of "
                        f"range); delete it to draw the hold-out again")
    return record, np.sort(indices)


def _write(path, record, indices):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**record, "indices": indices.tolist()}))
    os.replace(tmp, path)  # Atomic: concurrent workers write identical files.


def load_or_create_holdout(workdir, dataset, num_train, size, seed):
    """The hold-out indices of `dataset`, saved in / reused from `workdir/holdout.json`.

    With `workdir=None` the indices are drawn and not saved. A saved file whose
    dataset, num_train, size or seed differ from the request raises DataError.
    """
    if workdir is None:
        logging.info("No workdir: hold-out of %d drawn with seed %d, not saved.", size, seed)
        return holdout_indices(num_train, size, seed)
    path = Path(workdir) / HOLDOUT_FILE
    wanted = _record(dataset, num_train, size, seed)
    if os.path.lexists(path):
        saved, indices = _read(path)
        if saved != wanted:
            diff = ", ".join(f"{k}: saved {saved[k]!r} vs now {wanted[k]!r}"
                             for k in wanted if saved[k] != wanted[k])
            raise DataError(
                f"{path} does not match the config ({diff}). Set data.holdout_size="
                f"{saved['size']} and data.holdout_seed={saved['seed']} (and data.dataset="
                f"{saved['dataset']}) to reuse it, or use a new workdir (or delete {path}) "
                "to draw a new hold-out")
        logging.info("Reusing the hold-out of %d images from %s.", size, path)
        return indices
    indices = holdout_indices(num_train, size, seed)
    _write(path, wanted, indices)
    logging.info("Saved a hold-out of %d of %d %s training images to %s.", size, num_train,
                 dataset, path)
    return indices
