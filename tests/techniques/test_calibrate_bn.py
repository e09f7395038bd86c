"""Post-hoc BatchNorm calibration: the statistics equal a direct computation; the CLI."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from msdnet_tf import calibrate_bn
from msdnet_tf.models import MSDNet
from tests.conftest import TINY


def _direct_statistics(model, batches, names):
    """Per BN layer: batch-size-weighted averages of the batch mean and biased variance of
    its input, the network running in training mode (earlier BNs use batch statistics)."""
    probe = keras.Model(model.input, [model.get_layer(n).input for n in names])
    forward = tf.function(lambda x: probe(x, training=True))
    sums = {n: [0.0, 0.0] for n in names}
    total = 0
    for images in batches:
        outs = forward(images)
        for n, x in zip(names, outs):
            x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
            sums[n][0] = sums[n][0] + len(images) * x.mean(0)
            sums[n][1] = sums[n][1] + len(images) * x.var(0)
        total += len(images)
    return {n: (m / total, v / total) for n, (m, v) in sums.items()}


def test_calibration_statistics_equal_a_direct_computation():
    model = MSDNet(**TINY, head_pool="global", resolutions=[32, 24]).serving_model(20)
    images = np.random.default_rng(0).normal(size=(10, 20, 20, 3)).astype("float32")
    batches = [images[:4], images[4:8], images[8:]]  # unequal batches: weights matter
    names = ["stem_s0_bn", "l2_s1_down_3x3_bn", "exit2_c2_bn"]
    expected = _direct_statistics(model, batches, names)
    assert calibrate_bn.calibrate(model, batches) == 10
    for n in names:
        bn = model.get_layer(n)
        np.testing.assert_allclose(np.asarray(bn.moving_mean), expected[n][0], rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(np.asarray(bn.moving_variance), expected[n][1], rtol=1e-4,
                                   atol=1e-5)
        assert bn.momentum == 0.9  # restored


def test_cli_writes_a_run_that_serves_the_new_resolution(switch_run, tmp_path, capsys):
    out = tmp_path / "r20"
    assert calibrate_bn.main(["--workdir", str(switch_run), "--resolution", "20", "--images",
                              "64", "--output", str(out)]) == 0
    record = json.loads((out / "calibration.json").read_text())
    assert record["resolution"] == 20 and record["bn_from"] == 24 and record["images"] == 64
    from msdnet_tf.inference import load_run

    cfg, model = load_run(out)
    assert cfg.model.image_size == 20 and model.image_size == 20 and not model.switchable
    assert "serves 20x20" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--resolution", "0"], "argument --resolution: must be an integer >= 1"),
    (["--resolution", "20", "--bn-from", "20"], "--bn-from must be a resolution the model"),
    (["--resolution", "20", "--images", "0"], "argument --images: must be an integer >= 1"),
])
def test_cli_errors(switch_run, args, message, capsys):
    with pytest.raises(SystemExit) as e:
        calibrate_bn.main(["--workdir", str(switch_run), *args])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
