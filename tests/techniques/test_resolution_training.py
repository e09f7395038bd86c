"""Training a resolution-switchable model: one crop at every side, the loss, a CLI run."""

import json

import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf.data import preprocess, preprocessing_spec
from msdnet_tf.data.multiscale import preprocess_resolutions
from msdnet_tf.techniques import resolution as res
from tests.training.helpers import train


def _image(h, w, c, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=np.uint8)


def _pixels(x, spec):
    return (np.asarray(x) * np.asarray(spec["std"]) + np.asarray(spec["mean"])) / \
        spec["pixel_scale"]


def test_the_same_crop_is_resized_to_every_side():
    image, seed = _image(32, 32, 3), tf.constant([3, 7])
    out = preprocess_resolutions("cifar10", image, [32, 24, 16], seed)
    assert [tuple(o.shape) for o in out] == [(32, 32, 3), (24, 24, 3), (16, 16, 3)]
    np.testing.assert_array_equal(out[0], preprocess("cifar10", image, 32, True, seed))
    # The smaller sides are the 32x32 crop (padded, cropped, flipped) resized as the
    # test-time recipe resizes: bilinear with antialiasing.
    spec = preprocessing_spec("cifar10", 24)
    crop = _pixels(out[0], spec)
    for o, s in zip(out[1:], (24, 16)):
        expected = tf.image.resize(crop, [s, s], method="bilinear", antialias=True)
        np.testing.assert_allclose(_pixels(o, spec), expected, atol=2e-3)
    # Inside tf.data (graph mode) too.
    ds = tf.data.Dataset.from_tensors(image).map(
        lambda x: preprocess_resolutions("cifar10", x, [32, 24, 16], seed))
    for a, b in zip(next(iter(ds)), out):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_imagenet_crops_one_box_and_resizes_it_once_per_side():
    image, seed = _image(60, 80, 3, seed=1), tf.constant([5, 9])
    out = preprocess_resolutions("imagenet2012", image, [48, 32], seed)
    for o, s in zip(out, (48, 32)):  # same box and flip as the single-size recipe
        np.testing.assert_allclose(o, preprocess("imagenet2012", image, s, True, seed),
                                   atol=1e-5)


def test_kd_pairs():
    assert res.kd_pairs(3, "none") == []
    assert res.kd_pairs(3, "largest") == [(0, 1), (0, 2)]
    assert res.kd_pairs(3, "dense") == [(0, 1), (0, 2), (1, 2)]


def _np_kl(t, s, temperature):
    def log_softmax(z):
        z = z / temperature
        z = z - z.max(-1, keepdims=True)
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    return temperature ** 2 * (np.exp(log_softmax(t)) * (log_softmax(t) - log_softmax(s))).sum(-1)


@pytest.mark.parametrize("side_weights", [None, [1.0, 0.5, 0.25]])
def test_loss_on_hand_made_logits(side_weights):
    rng = np.random.default_rng(0)
    logits = [[rng.normal(size=(5, 4)).astype("float32") for _ in range(2)] for _ in range(3)]
    labels = np.array([0, 1, 2, 3, 0], np.int32)
    weights, temperature, kd_weight = [1.0, 0.5], 2.0, 0.3
    loss, ce_sums, kd = res.resolution_loss(
        [[tf.constant(z) for z in row] for row in logits], labels, weights,
        res.kd_pairs(3, "dense"), temperature, kd_weight, side_weights)
    v = side_weights or [1.0, 1.0, 1.0]

    def ce(z):
        z = z - z.max(-1, keepdims=True)
        return -(z[np.arange(5), labels] - np.log(np.exp(z).sum(-1)))

    expected_ce = sum(v[r] * w * ce(row[k]).sum()
                      for r, row in enumerate(logits) for k, w in enumerate(weights))
    expected_kd = sum(v[j] * w * _np_kl(logits[i][k], logits[j][k], temperature).sum()
                      for i, j in [(0, 1), (0, 2), (1, 2)] for k, w in enumerate(weights))
    assert float(kd) == pytest.approx(expected_kd, rel=1e-5)
    assert float(loss) == pytest.approx(expected_ce + kd_weight * expected_kd, rel=1e-5)
    assert np.asarray(ce_sums).shape == (3, 2)


def test_distillation_has_no_gradient_to_the_teacher():
    t, s = tf.Variable([[1.0, 2.0, 0.5]]), tf.Variable([[0.2, 0.1, 0.3]])
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_sum(res.distillation(t, s, 1.0))
    assert tape.gradient(loss, t) is None
    assert np.abs(np.asarray(tape.gradient(loss, s))).sum() > 0


@pytest.mark.slow  # about 35 s alone
def test_train_cli_trains_every_resolution(tmp_path):
    workdir = tmp_path / "run"
    train(workdir, "train.epochs=1", "train.steps_per_epoch=2", "model.head_pool=global",
          "model.resolutions=[32,24,16]", "train.resolution_kd=largest")
    results = json.loads((workdir / "results.json").read_text())
    assert [e["resolution"] for e in results["resolutions"]] == [32, 24, 16]
    flops = [e["exit_cumulative_flops"][-1] for e in results["resolutions"]]
    assert flops[0] > flops[1] > flops[2]
    assert results["resolutions"][0]["test_top1"] == results["test_top1"]
    assert results["switchable_params"] > results["exit_cumulative_params"][-1]
    history = json.loads((workdir / "history.jsonl").read_text().splitlines()[-1])
    assert sorted(history["val_top1_by_resolution"]) == ["16", "24", "32"]
    assert history["kd_loss"] > 0


def test_resolution_trainer_holds_the_workdir_lock_and_crops_through_the_spec(tmp_path):
    from msdnet_tf import config as config_lib
    from msdnet_tf.workdir import LocationError
    from tests.conftest import TINY

    overrides = [f"model.{k}={json.dumps(v)}" for k, v in TINY.items()]
    overrides += ["model.head_pool=global", "model.resolutions=[32,16]", "data.dataset=digits",
                  "data.augment=none", "train.batch_size=4", "train.epochs=1"]
    cfg = config_lib.load_config(None, overrides)
    workdir = tmp_path / "run"
    with res.ResolutionTrainer(cfg, workdir) as run:
        assert run.data.train_sizes == (32, 16)
        # The multiscale batches follow the bundle's rule (data.augment=none: the test ops).
        assert run.data.spec_at(16)["train_ops"] == run.data.spec_at(16)["ops"]
        images, _ = next(iter(run.data.train_dataset(4)))
        assert [tuple(x.shape) for x in images] == [(4, 32, 32, 3), (4, 16, 16, 3)]
        with pytest.raises(LocationError, match="in use by process"):
            res.ResolutionTrainer(cfg, workdir)
    with res.ResolutionTrainer(cfg, workdir):  # released at the end of the block
        pass
