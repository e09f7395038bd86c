"""The `model` config keys of a RANet (docs: ../shared/docs/ranet-spec.md).

Defaults are the published CIFAR-100 anytime network (the reference's
train_cifar.sh with --data cifar100). Per-sub-network lists run from the
coarsest sub-network, the order they run in.
"""

import dataclasses

from msdnet_tf.models.ranet import plan


@dataclasses.dataclass
class ModelConfig:
    family: str = "ranet"
    stem: str = "cifar"
    num_classes: int = 100
    image_size: int = 32
    num_blocks: int = 2
    block_step: int = 2
    step: int = 4
    step_mode: str = "even"
    num_channels: int = 16
    growth_rate: int = 6
    growth_factors: list[int] = dataclasses.field(default_factory=lambda: [4, 2, 1, 1])
    bottleneck_factors: list[int] = dataclasses.field(default_factory=lambda: [4, 2, 1, 1])
    scale_list: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 3, 3])
    compress_factor: float = 0.25
    reduction: float = 0.5
    bottleneck: bool = True
    bn_after: bool = True


CHOICES = {"stem": plan.STEMS, "step_mode": plan.STEP_MODES}

# Initial weights (`train.init`): "reference", what the reference code trains from (its
# initialiser runs on the sub-networks and classifiers: He-normal fan-out convs, zero
# Linear biases; the stem and the Linear weights keep PyTorch's defaults), which the
# layers' own initialisers reproduce.
INITS = ("reference",)


def validate(**kwargs):
    """The family's keys plus head_pool (see `msdnet_tf.models.options`)."""
    plan.validate_model_kwargs(**kwargs)


def num_exits(**kwargs):
    return plan.num_exits(**kwargs)
