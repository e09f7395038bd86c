"""The paper's step learning-rate schedules (trainer.learning_rate, 0-based epochs)."""

import pytest

from msdnet_tf import config as config_lib
from msdnet_tf.training.trainer import learning_rate
from tests.conftest import REPO


def schedule(cfg):
    return [learning_rate(cfg.train, e) for e in range(cfg.train.epochs)]


def expected(epochs, boundaries, lrs):
    """lrs[i] from boundaries[i-1] (0-based epoch) up to boundaries[i]."""
    out, edges = [], [0, *boundaries, epochs]
    for lr, start, stop in zip(lrs, edges, edges[1:]):
        out += [lr] * (stop - start)
    return out


@pytest.mark.parametrize("name", ["cifar10_anytime", "cifar10_budgeted", "cifar100_anytime",
                                  "cifar100_budgeted"])
def test_cifar_recipe(name):
    """300 epochs: 0.1 for epochs 1-150, 0.01 for 151-225, 0.001 for 226-300."""
    cfg = config_lib.load_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.train.epochs == 300
    assert schedule(cfg) == pytest.approx(expected(300, [150, 225], [0.1, 0.01, 0.001]))
    assert learning_rate(cfg.train, 149) == pytest.approx(0.1)
    assert learning_rate(cfg.train, 150) == pytest.approx(0.01)
    assert learning_rate(cfg.train, 224) == pytest.approx(0.01)
    assert learning_rate(cfg.train, 225) == pytest.approx(0.001)


def test_default_config_is_the_cifar_recipe():
    cfg = config_lib.load_config()
    assert schedule(cfg) == pytest.approx(expected(300, [150, 225], [0.1, 0.01, 0.001]))


@pytest.mark.parametrize("name", ["imagenet_step4", "imagenet_step7"])
def test_imagenet_recipe(name):
    """90 epochs, boundaries 1/3 and 2/3: lr / 10 at epochs 30 and 60 (0-based).

    The configs write 1/3 as 0.3333333333 (29.999999997 epochs): still epoch 30.
    """
    cfg = config_lib.load_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.train.epochs == 90
    assert schedule(cfg) == pytest.approx(expected(90, [30, 60], [0.1, 0.01, 0.001]))


@pytest.mark.parametrize("boundaries", [[1 / 3, 2 / 3], [0.3333333333, 0.6666666667]])
def test_imagenet_boundaries_however_written(boundaries):
    cfg = config_lib.load_config(overrides=["train.epochs=90",
                                            f"train.lr_boundaries={boundaries}"])
    assert schedule(cfg) == pytest.approx(expected(90, [30, 60], [0.1, 0.01, 0.001]))


def test_decay_and_base_rate_follow_the_config():
    cfg = config_lib.load_config(overrides=["train.epochs=10", "train.learning_rate=0.5",
                                            "train.lr_decay=0.5", "train.lr_boundaries=[0.2]"])
    assert schedule(cfg) == pytest.approx(expected(10, [2], [0.5, 0.25]))


def test_no_boundaries_is_constant():
    cfg = config_lib.load_config(overrides=["train.epochs=5", "train.lr_boundaries=[]"])
    assert schedule(cfg) == pytest.approx([0.1] * 5)
