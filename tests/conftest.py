import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"

# A tiny network exercising every block type: a transition, pruning, both ConvBN kinds.
TINY = dict(stem="cifar", num_blocks=3, step_mode="even", step=1, base=2, num_channels=8,
            growth_rate=4, growth_factors=[1, 2, 4], bottleneck_factors=[1, 2, 4],
            bottleneck=True, reduction=0.5, prune="max", num_classes=10, image_size=32)

# A tiny RANet: three sub-networks on 8/16/32 maps, fusion blocks with and without
# down-sampling and transitions, 4 exits.
RANET_TINY = dict(stem="cifar", num_classes=10, image_size=32, num_blocks=2, block_step=1,
                  step=2, step_mode="even", num_channels=4, growth_rate=4,
                  growth_factors=[2, 1, 1], bottleneck_factors=[2, 1, 1], scale_list=[1, 2, 3],
                  compress_factor=0.25, reduction=0.5, bottleneck=True, bn_after=True)


def reference_file(name):
    """A file of ../shared/reference, or skip the test when it is absent."""
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference test vectors not found at {path}")
    return path


def reference_json(name):
    return json.loads(reference_file(name).read_text())


@pytest.fixture(scope="session")
def tiny_model():
    from msdnet_tf.models import MSDNet

    return MSDNet(**TINY)


# A tiny MSDNet on digits for the tests that run the real CLIs (tests/runtime, tests/reliability).
TINY_DIGITS = [
    "model.num_blocks=3", "model.step=1", "model.base=1", "model.num_channels=8",
    "model.growth_rate=4", "model.num_classes=10", "data.dataset=digits", "train.epochs=2",
    "train.steps_per_epoch=25", "train.batch_size=32", "train.lr_boundaries=[0.5]",
]
CLI_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_cli(*args, check=True, timeout=600):
    """`python ARGS...` from the repository root; a CompletedProcess (text)."""
    result = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=CLI_ENV,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def converted_run(tmp_path_factory):
    """(workdir, float conversion): TINY_DIGITS trained by the train CLI, evaluated with a
    FLOPs budget (thresholds.json, budgeted.json, logits.npz), converted by tflite/convert.py.
    Shared by the session: copy before changing anything in it."""
    root = tmp_path_factory.mktemp("converted_run")
    workdir, out = root / "run", root / "float"
    overrides = [a for o in TINY_DIGITS for a in ("--override", o)]
    run_cli("-m", "msdnet_tf.train", "--workdir", workdir, "--quiet", *overrides)
    counts = json.loads((workdir / "results.json").read_text())
    budget = 0.5 * (counts["exit_cumulative_flops"][0] + counts["exit_cumulative_flops"][-1])
    run_cli("-m", "msdnet_tf.evaluate", "--workdir", workdir, "--budget-flops", budget)
    run_cli("tflite/convert.py", "--workdir", workdir, "--mode", "float", "--output", out)
    return workdir, out
