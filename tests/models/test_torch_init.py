"""`train.init: torch_default` starts from the reference port's own initial weights, bit for bit."""

import os
from pathlib import Path

import numpy as np
import pytest

from msdnet_tf import weights
from msdnet_tf.models import MSDNet, torch_init
from tests.conftest import TINY

torch = pytest.importorskip("torch")

SEEDS = [0, 1, 7, 2 ** 31 - 1, 2 ** 32 + 5]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_stream_is_torch_manual_seeds(seed):
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(22, 37, 3)  # weight, then bias
    plain = torch.nn.Conv2d(5, 6, (1, 3), bias=False)
    linear = torch.nn.Linear(40, 10)
    rng = torch_init.TorchRandom(seed)
    expected = [conv.weight, conv.bias, plain.weight, linear.weight, linear.bias]
    got = [rng.kaiming_uniform((37, 22, 3, 3)), rng.bias(37, 22 * 9),
           rng.kaiming_uniform((6, 5, 1, 3)), rng.kaiming_uniform((10, 40)), rng.bias(10, 40)]
    for g, e in zip(got, expected):
        assert g.dtype == np.float32
        np.testing.assert_array_equal(g, e.detach().numpy())  # every bit
    # and the stream goes on where PyTorch's does
    np.testing.assert_array_equal(rng.uniform((100,), -2.0, 3.0),
                                  torch.empty(100).uniform_(-2.0, 3.0).numpy())


def _standin_state(kwargs, seed):
    from benchmarks.torch_msdnet import TorchMSDNet

    torch.manual_seed(seed)
    net = TorchMSDNet(**kwargs, init="torch_default")
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}


def _assert_same_start(model, state):
    ours = weights.export_state_dict(model)
    assert ours  # conv, BN and Linear tensors of every reachable layer
    for name, value in ours.items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)


@pytest.mark.parametrize("kwargs", [TINY, dict(TINY, num_blocks=3, step_mode="lin_grow", step=1,
                                                base=1, num_classes=10),
                                    dict(TINY, prune="min", num_blocks=3, step=2, base=2),
                                    dict(TINY, stem="imagenet", image_size=112, num_classes=20)],
                         ids=["tiny", "lin_grow", "prune_min", "imagenet_stem"])
@pytest.mark.parametrize("seed", [0, 3])
def test_msdnet_starts_from_the_port_layouts_weights_of_the_same_seed(kwargs, seed):
    """The PyTorch network with the reference port's module layout and construction order
    (benchmarks/torch_msdnet.py, checked against the port itself below when it is at hand),
    built after torch.manual_seed(seed), holds exactly our model's initial weights."""
    model = MSDNet(**kwargs, init="torch_default", init_seed=seed)
    _assert_same_start(model, _standin_state(kwargs, seed))
    # Layers no exit reads are drawn too (they keep the stream in step with the reference).
    if seed == 0 and kwargs is TINY:
        assert model.unreachable_layers


def test_init_seed_changes_the_draws_and_none_follows_keras_seed():
    import keras

    a = MSDNet(**TINY, init_seed=0).get_layer("exit_0").kernel.numpy()
    b = MSDNet(**TINY, init_seed=1).get_layer("exit_0").kernel.numpy()
    assert not np.array_equal(a, b)
    keras.utils.set_random_seed(5)
    c = MSDNet(**TINY).get_layer("exit_0").kernel.numpy()
    keras.utils.set_random_seed(5)
    np.testing.assert_array_equal(MSDNet(**TINY).get_layer("exit_0").kernel.numpy(), c)


def test_the_trainer_builds_from_train_seed():
    from msdnet_tf import config as config_lib

    cfg = config_lib.load_config("configs/quickstart.yaml", ["train.seed=4"])
    model = config_lib.build_model(cfg)
    kwargs = {k: v for k, v in config_lib.model_kwargs(cfg).items()
              if k not in ("head_pool", "resolutions", "resolution_conditioned")}
    _assert_same_start(model, _standin_state(kwargs, 4))


REFERENCE = os.environ.get("MSDNET_REFERENCE")  # a kalviny/MSDNet-PyTorch checkout


@pytest.mark.skipif(not REFERENCE, reason="set MSDNET_REFERENCE to a reference checkout")
@pytest.mark.parametrize("config", ["quickstart", "cifar100_anytime", "cifar10_budgeted"])
def test_same_weights_as_the_reference_port_itself(config):
    import dataclasses

    from benchmarks import reference_port
    from msdnet_tf import config as config_lib

    cfg = config_lib.load_config(Path("configs") / f"{config}.yaml", ["train.seed=2"])
    net = reference_port.build(REFERENCE, seed=2, **dataclasses.asdict(cfg.model))
    _assert_same_start(config_lib.build_model(cfg),
                       {k: v.detach().numpy() for k, v in net.state_dict().items()})
