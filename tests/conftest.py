import json
import os
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
