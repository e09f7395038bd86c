"""RANet's resize: bilinear interpolation with align_corners=True, as the reference runs it.

The reference calls `F.interpolate(x, size, mode="bilinear", align_corners=True)`
to up-sample 2x and to down-sample 2:1. Along an axis of input length n and
output length m > 1, output o reads src = o * (n - 1) / (m - 1) (scale and src
in float32): out[o] = (1 - t) * in[i0] + t * in[i1], i0 = floor(src),
i1 = min(i0 + 1, n - 1), t = src - i0. Keras' `Resizing` and TF2's
`tf.image.resize` use half-pixel centres and cannot do this; TensorFlow's
ResizeBilinear kernel with align_corners=True computes exactly this formula
in float32 and converts to the TFLite RESIZE_BILINEAR op (align_corners=true),
which XNNPACK runs in float and int8 (benchmarks/results/ranet_resize.md has
the comparison with constant interpolation matmuls that led to this choice).

`interpolation_matrix` / `resize_reference` are the spec's formula in NumPy,
the yardstick of the tests.
"""

import numpy as np

import keras


def interpolation_matrix(n, m):
    """[m, n] float32 weights of an align_corners resize from length n to m (float32 math)."""
    weights = np.zeros((m, n), np.float32)
    if m == 1:
        weights[0, 0] = 1.0
        return weights
    scale = np.float32(n - 1) / np.float32(m - 1)
    for o in range(m):
        src = np.float32(scale * np.float32(o))
        i0 = int(np.floor(src))
        i1 = min(i0 + 1, n - 1)
        t = np.float32(src - np.float32(i0))
        weights[o, i0] += np.float32(1.0) - t
        weights[o, i1] += t
    return weights


def resize_reference(x, size):
    """NHWC `x` resized to `size` (h, w) with the spec's formula, in float32."""
    a_h = interpolation_matrix(x.shape[1], size[0])
    a_w = interpolation_matrix(x.shape[2], size[1])
    y = np.einsum("oh,nhwc->nowc", a_h, np.asarray(x, np.float32))
    return np.einsum("pw,nowc->nopc", a_w, y).astype(np.float32)


def align_corners_resize(x, size):
    """TensorFlow's ResizeBilinear with align_corners=True (float32 out) cast back to x's dtype."""
    import tensorflow as tf

    y = tf.raw_ops.ResizeBilinear(images=x, size=list(size), align_corners=True,
                                  half_pixel_centers=False)
    return tf.cast(y, x.dtype)


@keras.saving.register_keras_serializable(package="msdnet_tf")
class AlignCornersResize(keras.layers.Layer):
    """Bilinear resize of NHWC maps to `size` = (height, width) with align_corners=True.

    Free in the reference's FLOP count (`reference_flops`); its tf_keras twin
    (`tf_keras_class`) serves quantisation-aware training.
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(s) for s in size)

    def call(self, inputs):
        return align_corners_resize(inputs, self.size)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": list(self.size)}

    def reference_flops(self):
        """Multiply-adds the reference's op counter gives it: none (a functional op)."""
        return 0

    @classmethod
    def tf_keras_class(cls):
        from msdnet_tf.models.ranet import layers_tf_keras

        return layers_tf_keras.AlignCornersResize
