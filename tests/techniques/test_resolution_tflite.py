"""One side of a switchable model through the TFLite converter equals the Keras graph at that side."""

import numpy as np

from msdnet_tf.export import graphs
from msdnet_tf.export.convert import convert
from msdnet_tf.export.runner import TFLiteModel, run_cascade_batch
from msdnet_tf.models import MSDNet
from msdnet_tf.models.resolution import ConditionedConv2D, is_batch_norm
from tests.conftest import TINY

TWO_SCALES = {**TINY, "growth_factors": [1, 2], "bottleneck_factors": [1, 2], "image_size": 16}


def test_per_resolution_tflite_equals_keras():
    model = MSDNet(**TWO_SCALES, head_pool="global", resolutions=[16, 12],
                   resolution_conditioned=True)
    rng = np.random.default_rng(0)
    view = model.at_resolution(12)
    for layer in view.layers:  # statistics and kernels that make the side matter
        if is_batch_norm(layer):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if i in (0, 3) else
                               rng.normal(0, 0.3, w.shape) for i, w in
                               enumerate(layer.get_weights())])
        elif isinstance(layer, ConditionedConv2D):
            layer.kernel_a.assign(0.2 * rng.normal(size=layer.kernel_a.shape))
    served = model.serving_model(12)
    tflite = TFLiteModel(convert(graphs.stage_signatures(served), served.variables, "float"))
    x = rng.normal(size=(3, 12, 12, 3)).astype("float32")
    logits = run_cascade_batch(tflite, x)
    keras_logits = view(x, training=False)
    other = model.serving_model(12, bn_from=16)(x, training=False)
    for k in range(3):
        expected = np.asarray(keras_logits[f"exit_{k}"])
        np.testing.assert_allclose(logits[k], expected, atol=1e-4)
        assert np.abs(np.asarray(other[f"exit_{k}"]) - expected).max() > 1e-2
