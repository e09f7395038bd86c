"""One side of a switchable model through the TFLite converter equals the Keras graph at that side."""

import numpy as np
import pytest

from msdnet_tf.export import graphs
from msdnet_tf.export.convert import convert
from msdnet_tf.export.runner import TFLiteModel, run_cascade_batch
from msdnet_tf.models import MSDNet
from msdnet_tf.models.ranet.model import RANet
from msdnet_tf.models.resolution import ConditionedConv2D, is_batch_norm
from tests.conftest import RANET_TINY, TINY

TWO_SCALES = {**TINY, "growth_factors": [1, 2], "bottleneck_factors": [1, 2], "image_size": 16}


def _side_equals_keras(model, r, r_other):
    """Sets r's BN statistics and the conditioned kernels apart, converts the cascade at r
    and compares it with the switchable graph at r (and with r_other's BN, which differs)."""
    rng = np.random.default_rng(0)
    view = model.at_resolution(r)
    for layer in view.layers:  # statistics and kernels that make the side matter
        if is_batch_norm(layer):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if i in (0, 3) else
                               rng.normal(0, 0.3, w.shape) for i, w in
                               enumerate(layer.get_weights())])
        elif isinstance(layer, ConditionedConv2D):
            layer.kernel_a.assign(0.2 * rng.normal(size=layer.kernel_a.shape))
    served = model.serving_model(r)
    tflite = TFLiteModel(convert(graphs.stage_signatures(served), served.variables, "float"))
    x = rng.normal(size=(3, r, r, 3)).astype("float32")
    logits = run_cascade_batch(tflite, x)
    keras_logits = view(x, training=False)
    other = model.serving_model(r, bn_from=r_other)(x, training=False)
    for k in range(model.num_exits):
        expected = np.asarray(keras_logits[f"exit_{k}"])
        np.testing.assert_allclose(logits[k], expected, atol=1e-4)
        assert np.abs(np.asarray(other[f"exit_{k}"]) - expected).max() > 1e-2


def test_per_resolution_tflite_equals_keras():
    model = MSDNet(**TWO_SCALES, head_pool="global", resolutions=[16, 12],
                   resolution_conditioned=True)
    _side_equals_keras(model, 12, 16)


# About 16 s; the MSDNet twin above runs by default.
@pytest.mark.slow
def test_per_resolution_tflite_equals_keras_ranet():
    # Sub-networks on 4/8/16 maps at 16, on 3/6/12 at 12 (its own resize sizes).
    model = RANet(**{**RANET_TINY, "image_size": 16}, head_pool="global", resolutions=[16, 12],
                  resolution_conditioned=True)
    _side_equals_keras(model, 12, 16)
