import subprocess
import sys

import pytest

from msdnet_tf import config as config_lib
from msdnet_tf.config import ConfigError, load_config
from tests.conftest import REPO

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_defaults_are_the_cifar100_anytime_network():
    cfg = load_config()
    assert cfg.model.num_blocks == 10 and cfg.model.growth_factors == [1, 2, 4]
    assert cfg.train.batch_size == 64 and cfg.train.weight_decay == 1e-4


def test_training_defaults_are_the_reference_ports():
    """PyTorch's momentum formulation and initialisation, which the reference trains with
    (benchmarks/results/train_fidelity.md); MSDNet's own default init is the same."""
    from msdnet_tf.models import MSDNet, RANet

    cfg = load_config()
    assert cfg.train.momentum_style == "torch" and cfg.train.init == "default"
    assert MSDNet.check_init(cfg.train.init) == "torch_default" == MSDNet.inits[0]
    assert config_lib.build_model(cfg).init == "torch_default"
    ranet = load_config(overrides=["model.family=ranet"])
    assert RANet.check_init(ranet.train.init) == "reference"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_load_and_document_their_command(path):
    cfg = load_config(path)
    header = path.read_text().splitlines()[:8]
    assert any("python -m msdnet_tf" in line for line in header)
    assert cfg.model.num_classes >= 2 or cfg.data.dataset == "folder"  # 0: from the images


def test_expected_config_files_exist():
    names = {p.stem for p in CONFIGS}
    assert {"cifar10_anytime", "cifar100_anytime", "cifar10_budgeted", "cifar100_budgeted",
            "imagenet_step4", "imagenet_step7", "quickstart", "folder_example"} <= names


def test_model_only_yaml_and_overrides(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("model:\n  num_blocks: 5\n")
    cfg = load_config(path, ["model.growth_factors=[1,2,4]", "train.nesterov=true",
                             "train.learning_rate=1"])
    assert cfg.model.num_blocks == 5
    assert cfg.train.nesterov is True
    assert cfg.train.learning_rate == 1.0 and isinstance(cfg.train.learning_rate, float)


@pytest.mark.parametrize("override, message", [
    ("model.bogus=1", "unknown key model.bogus"),
    ("nosection.key=1", "unknown section 'nosection'"),
    ("model.num_blocks=two", "model.num_blocks must be an integer. Received: "),
    ("model.num_blocks=2.5", "model.num_blocks must be an integer"),
    ("model.bottleneck=1", "model.bottleneck must be true or false"),
    ("model.growth_factors=[1,2]", "model.bottleneck_factors must have one entry per scale"),
    ("model.reduction=0", "model.reduction must be in (0, 1]"),
    ("model.reduction=1.5", "model.reduction must be in (0, 1]"),
    ("model.image_size=8", "model.image_size gives a 2x2 coarsest scale"),
    ("model.stem=resnet", "model.stem must be one of cifar, imagenet"),
    ("train.exit_weights=[1,1]", "train.exit_weights must be empty or have one weight per exit"),
    ("train.resolution_weights=[1,0.5]", "train.resolution_weights needs model.resolutions"),
    ("train.resolution_weights=[1,-1]", "train.resolution_weights must be non-negative"),
    ("train.strategy=horovod", "train.strategy must be one of"),
    ("train.intra_op_threads=-2", "train.intra_op_threads must be -1 (auto), 0 (TensorFlow's"),
    ("train.momentum_style=adam", "train.momentum_style must be one of torch, keras. Received: "
                                  "train.momentum_style='adam'"),
    ("train.init=glorot", "train.init must be one of default, torch_default, he_normal for "
                          "model.family msdnet. Received: train.init='glorot'"),
    ("model.num_blocks", "--override must look like section.key=value"),
])
def test_bad_values_name_the_key_and_value(override, message):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert message in str(info.value)


def test_unknown_key_in_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key train.epoch in .*bad.yaml"):
        load_config(path)


def test_round_trip_through_saved_yaml(tmp_path):
    cfg = load_config(REPO / "configs" / "cifar100_budgeted.yaml")
    config_lib.save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg
    assert config_lib.from_dict(config_lib.to_dict(cfg)) == cfg


def test_cli_reports_one_line_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "msdnet_tf.summary", "--override", "model.growth_factors=[1,2]"],
        capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("msdnet_tf.")]
    assert lines == ["msdnet_tf.summary: error: model.bottleneck_factors must have one entry per "
                     "scale, like growth_factors=[1, 2]. Received: "
                     "model.bottleneck_factors=[1, 2, 4]"]
    assert "Traceback" not in result.stderr


def test_summary_json_is_one_object():
    import json

    result = subprocess.run(
        [sys.executable, "-m", "msdnet_tf.summary", "--config", "configs/cifar100_budgeted.yaml",
         "--json"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"trainable_params", "exit_cumulative_flops", "exit_cumulative_params"}
    assert len(data["exit_cumulative_flops"]) == 7
