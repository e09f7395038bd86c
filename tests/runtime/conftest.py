import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

TINY_DIGITS = [
    "model.num_blocks=3", "model.step=1", "model.base=1", "model.num_channels=8",
    "model.growth_rate=4", "model.num_classes=10", "data.dataset=digits", "train.epochs=2",
    "train.steps_per_epoch=25", "train.batch_size=32", "train.lr_boundaries=[0.5]",
]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(*args, check=True, timeout=600):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=ENV,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A tiny MSDNet trained on digits, evaluated with a FLOPs budget, converted to float."""
    root = tmp_path_factory.mktemp("harness")
    workdir, out = root / "run", root / "float"
    overrides = [a for o in TINY_DIGITS for a in ("--override", o)]
    run("-m", "msdnet_tf.train", "--workdir", workdir, "--quiet", *overrides)
    counts = __import__("json").loads((workdir / "results.json").read_text())
    budget = 0.5 * (counts["exit_cumulative_flops"][0] + counts["exit_cumulative_flops"][-1])
    run("-m", "msdnet_tf.evaluate", "--workdir", workdir, "--budget-flops", budget)
    run("tflite/convert.py", "--workdir", workdir, "--mode", "float", "--output", out)
    return workdir, out
