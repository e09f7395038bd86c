"""The tf_keras twin of `layers.AlignCornersResize`, for quantisation-aware training only.

Imported by the QAT process (TF_USE_LEGACY_KERAS=1) through
`AlignCornersResize.tf_keras_class()`, never next to Keras 3.
"""

import tf_keras

from msdnet_tf.models.ranet.layers import align_corners_resize


class AlignCornersResize(tf_keras.layers.Layer):
    """Same op as the Keras 3 layer; `quantize_config` tells TFMOT how to quantise it."""

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(s) for s in size)

    def call(self, inputs):
        return align_corners_resize(inputs, self.size)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": list(self.size)}

    def quantize_config(self):
        """No weights; the output keeps the input's quantisation, as TFLite's int8
        RESIZE_BILINEAR does (one scale for input and output)."""
        from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
            default_8bit_quantize_registry as registry)

        return registry.Default8BitQuantizeConfig([], [], False)
