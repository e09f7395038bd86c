"""The `model` config keys of an MSDNet (docs: ../shared/docs/msdnet-spec.md)."""

import dataclasses

from msdnet_tf.models.msdnet import plan


@dataclasses.dataclass
class ModelConfig:
    family: str = "msdnet"
    stem: str = "cifar"
    num_blocks: int = 10
    step_mode: str = "even"
    step: int = 2
    base: int = 4
    num_channels: int = 16
    growth_rate: int = 6
    growth_factors: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 4])
    bottleneck_factors: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 4])
    bottleneck: bool = True
    reduction: float = 0.5
    prune: str = "max"
    num_classes: int = 100
    image_size: int = 32


CHOICES = {"stem": ("cifar", "imagenet"), "step_mode": ("even", "lin_grow"),
           "prune": ("max", "min")}

# Initial weights (`train.init`), the first the default. "torch_default": PyTorch's
# defaults, what the reference port trains from (its initialiser never runs):
# uniform +-1/sqrt(fan_in) kernels and biases. "he_normal": the authors' Lua code
# (He-normal fan-out convs, zero biases). BatchNorm gamma 1, beta 0 either way.
INITS = ("torch_default", "he_normal")


def validate(**kwargs):
    """The family's keys plus head_pool (see `msdnet_tf.models.options`)."""
    plan.validate_model_kwargs(**kwargs)


def num_exits(**kwargs):
    return kwargs["num_blocks"]
