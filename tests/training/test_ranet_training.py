"""RANet through the unchanged trainer: a strategy, mixed precision, resume."""

import json
import math
import sys

import numpy as np
import pytest

from tests.conftest import RANET_TINY

from .helpers import TIMEOUT, read_history, run

RANET_DIGITS = [f"model.{k}={json.dumps(v)}" for k, v in
                {"family": "ranet", **RANET_TINY}.items()] + [
    "data.dataset=digits", "train.batch_size=32", "eval.batch_size=300",
    "train.steps_per_epoch=3"]


def _train(workdir, *overrides):
    cmd = [sys.executable, "-m", "msdnet_tf.train", "--workdir", str(workdir), "--quiet"]
    for text in [*RANET_DIGITS, *overrides]:
        cmd += ["--override", text]
    proc = run(cmd, TIMEOUT)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _check_float32_ranet(workdir):
    import keras

    import msdnet_tf

    model = keras.models.load_model(workdir / "model.keras")
    assert isinstance(model, msdnet_tf.RANet)
    assert all(w.dtype == "float32" for w in model.weights)
    outputs = model(np.zeros((2, 32, 32, 3), np.float32), training=False)
    assert sorted(outputs) == [f"exit_{k}" for k in range(4)]
    assert all(np.isfinite(np.asarray(v)).all() and v.dtype == "float32"
               for v in outputs.values())


@pytest.mark.slow  # about 50 s alone; MirroredStrategy resume is also covered for MSDNet
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mirrored_mixed_precision_run_resumes(tmp_path, policy):
    """One epoch under MirroredStrategy and mixed precision, then resumed for a second."""
    _train(tmp_path, "train.strategy=mirrored", f"train.mixed_precision={policy}",
           "train.epochs=1")
    _train(tmp_path, "train.strategy=mirrored", f"train.mixed_precision={policy}",
           "train.epochs=2")
    history = read_history(tmp_path)
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(math.isfinite(h["loss"]) and len(h["val_top1"]) == 4 for h in history)
    _check_float32_ranet(tmp_path)
