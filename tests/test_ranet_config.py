"""The RANet `model` section: family switch, the spec's invalid configurations as one-line
errors that name the key, and the shipped RANet configs."""

import subprocess
import sys

import pytest

from msdnet_tf import config as config_lib
from msdnet_tf.config import ConfigError, load_config
from tests.conftest import REPO

RANET = "model.family=ranet"


def test_family_switch_gives_the_published_cifar100_network():
    cfg = load_config(None, [RANET])
    assert cfg.model.family == "ranet" and cfg.model.scale_list == [1, 2, 3, 3]
    assert config_lib.num_exits(cfg) == 8
    assert config_lib.model_kwargs(cfg)["compress_factor"] == 0.25


@pytest.mark.parametrize("name, exits", [("cifar10_ranet", 8), ("cifar100_ranet", 8),
                                         ("imagenet_ranet", 8), ("quickstart_ranet", 4)])
def test_shipped_ranet_configs(name, exits):
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.model.family == "ranet" and config_lib.num_exits(cfg) == exits


# The spec's "Valid configurations", one override each, and the key the error must name.
INVALID = [
    ("model.growth_factors=[4,2,1]", "growth_factors"),  # lengths differ from scale_list
    ("model.bottleneck_factors=[4,2,1,1,1]", "bottleneck_factors"),
    ("model.scale_list=[2,2,3,3]", "scale_list"),  # does not start at 1
    ("model.scale_list=[1,3,3,3]", "scale_list"),  # grows by more than 1
    ("model.scale_list=[1,2,3,2]", "scale_list"),  # decreases
    ("model.scale_list=[1,1,2,3]", "scale_list"),  # a second 1
    ("model.scale_list=[1,2,3,4]", "scale_list"),  # 4 levels on 32x32: a 4x4 coarsest map
    ("model.step=1", "step"),  # a one-layer fusion block fails in the reference
    ("model.growth_rate=1", "compress_factor"),  # floor(1 * 2 * 0.25) = 0 channels
    ("model.block_step=0", "block_step"),
    ("model.bottleneck=false", "bottleneck"),
    ("model.bn_after=false", "bn_after"),
    ("model.step_mode=lin_grow", "step_mode"),
    ("model.stem=mnist", "stem"),
]


@pytest.mark.parametrize("override, key", INVALID, ids=[o for o, _ in INVALID])
def test_invalid_configurations_are_one_line_errors_naming_the_key(override, key):
    with pytest.raises(ConfigError) as info:
        load_config(None, [RANET, override])
    message = str(info.value)
    assert message.startswith(f"model.{key} ") and "\n" not in message
    assert f"Received: model.{key}=" in message


def test_keys_of_the_other_family_say_whose_they_are():
    with pytest.raises(ConfigError, match="model.scale_list .* is a key of model.family ranet"):
        load_config(None, ["model.scale_list=[1,2,3]"])
    with pytest.raises(ConfigError, match="model.base .* is a key of model.family msdnet"):
        load_config(None, [RANET, "model.base=2"])


def test_cli_error_is_one_line_with_exit_code_2():
    result = subprocess.run(
        [sys.executable, "-m", "msdnet_tf.summary", "--config", "configs/cifar100_ranet.yaml",
         "--override", "model.step=1"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("msdnet_tf.")]
    assert len(lines) == 1 and lines[0].startswith("msdnet_tf.summary: error: model.step ")
