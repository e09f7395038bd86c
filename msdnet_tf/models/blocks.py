"""Building blocks every family shares, as plain functions over a layer factory.

Every block takes `make`, a callable `make(cls, name, **kwargs)` that returns
the layer called `name`: the model builder creates it, the sub-graph builders
(`exit_model`, `stage_models`) fetch the already built one, so deployment
graphs share the trained layers instead of copying weights.

The conv units (ConvBasic, the bottleneck ConvBN) and the classifier are the
MSDNet reference's; RANet reuses them unchanged.
"""

import math

import keras
from keras import layers

BN_MOMENTUM = 0.9  # the reference's running-average momentum 0.1
BN_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="msdnet_tf")
class BatchNormalization(layers.BatchNormalization):
    """keras.layers.BatchNormalization whose training step is faster on TensorFlow.

    Keras 3 normalises with separate moments and elementwise ops (and their
    gradients). Here a training step runs TF's FusedBatchNormV3 (one op forward,
    one backward) when the channel count is a multiple of 16, and otherwise
    `packed_batch_norm`, which views the activations as rows of a multiple of 16
    values: oneDNN's fused kernel is 2-5x slower per element for channel counts
    like 6, 22 or 70, which most of this network's BN layers have. Same math
    as Keras (two-pass batch variance; the moving variance gets the biased
    variance), measured in benchmarks/results/train_throughput_notes.md and
    checked against Keras BN in tests/models/test_batchnorm.py.

    Used only when training on the TF backend with 4D channels-last inputs,
    per-replica statistics, gamma and beta; everything else, inference
    included, runs Keras's own code. Like Keras, it computes in float32 for
    float16/bfloat16 inputs.
    """

    # Class attribute so that benchmarks can time the fused kernel alone.
    packed = True

    def _fused(self, inputs, training, mask):
        return bool(training and self.trainable and mask is None
                    and keras.backend.backend() == "tensorflow"
                    and not self.synchronized and not self.renorm and self.center and self.scale
                    and len(inputs.shape) == 4 and self.axis in (-1, 3)
                    and keras.backend.standardize_dtype(inputs.dtype)
                    in ("float32", "bfloat16", "float16"))

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = tf.cast(inputs, "float32")
        channels = x.shape[-1]
        if self.packed and channels % 16:
            outputs, mean, variance = packed_batch_norm(x, self.gamma, self.beta, self.epsilon)
        else:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, self.gamma, self.beta, epsilon=self.epsilon, data_format="NHWC",
                is_training=True)
            # The kernel returns the unbiased (n / (n - 1)) variance; Keras keeps the biased.
            shape = tf.shape(x)
            n = tf.cast(shape[0] * shape[1] * shape[2], "float32")
            variance *= (n - 1.0) / n
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="msdnet_tf")
class Conv2D(layers.Conv2D):
    """keras.layers.Conv2D whose 1x1 training step is faster on TensorFlow.

    A 1x1 stride-1 convolution is a matrix product over the N*H*W pixel rows, and so
    are both of its gradients. oneDNN's Conv2DBackpropFilter runs these at 1.5-7.5x
    the time of one MatMul for this network's shapes (32x32 maps of 40-64 channels
    to 6, 8x8 maps of 332 channels to 164), so a training step computes the 1x1
    gradients as MatMuls (`pointwise_conv`); the forward stays the convolution op,
    so outputs are unchanged bit for bit. Measured in
    benchmarks/results/train_throughput_notes.md, checked against Keras's own
    gradients in tests/models/test_conv.py.

    Used only when training on the TF backend with channels-last inputs, a 1x1
    kernel, stride 1, no dilation and one group; everything else, inference
    included, runs Keras's own code.
    """

    # Class attribute so that benchmarks can time Keras's own gradient.
    pointwise_matmul = True

    def _pointwise(self, training):
        return bool(training and self.pointwise_matmul
                    and keras.backend.backend() == "tensorflow"
                    and tuple(self.kernel_size) == (1, 1) and tuple(self.strides) == (1, 1)
                    and tuple(self.dilation_rate) == (1, 1) and self.groups == 1
                    and self.data_format == "channels_last")

    def call(self, inputs, training=None):
        if not self._pointwise(training):
            return super().call(inputs)
        outputs = pointwise_conv(inputs, keras.ops.convert_to_tensor(self.kernel))
        if self.use_bias:
            outputs = keras.ops.add(outputs, self.bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs


def pointwise_conv(x, kernel):
    """1x1 stride-1 NHWC convolution of `x` by `kernel` [1, 1, C_in, C_out], whose
    gradients are two MatMuls over the pixel rows: dx = dy W^T, dW = X^T dy.

    The forward is TF's Conv2D op itself. `kernel` is a tensor, not a variable: a
    tf.custom_gradient function that reads variables must take them as a `variables`
    argument of its gradient when run eagerly.
    """
    import tensorflow as tf

    kernel = tf.convert_to_tensor(kernel)  # a read outside the custom gradient (see above)
    c_in, c_out = kernel.shape[2], kernel.shape[3]

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv2d(x, kernel, strides=1, padding="VALID")

        def grad(dy):
            dy_rows = tf.reshape(dy, [-1, c_out])
            dx = tf.matmul(dy_rows, tf.reshape(kernel, [c_in, c_out]), transpose_b=True)
            dw = tf.matmul(tf.reshape(x, [-1, c_in]), dy_rows, transpose_a=True)
            return tf.reshape(dx, tf.shape(x)), tf.reshape(dw, kernel.shape)

        return y, grad

    return conv(x, kernel)


def packed_batch_norm(x, gamma, beta, epsilon):
    """Training-mode batch norm of float32 NHWC `x` -> (y, batch mean, biased variance).

    Views x as rows of W = g * C values, W the smallest multiple of 16 that C
    divides (x is padded with rows whose statistics are removed again when
    N*H*W is not a multiple of g), so that every elementwise op and column
    reduction runs on vector-aligned rows; a column sum of width W folds to
    per-channel sums by a [g, C] reshape. The gradient is BN's closed form,
    with the batch statistics treated as functions of x.
    """
    import tensorflow as tf

    # Read the variables here, outside the custom gradient: a tf.custom_gradient function
    # that reads variables itself must take them as a `variables` argument of its gradient
    # when run eagerly (model(x, training=True) outside a tf.function, fit(run_eagerly=True)).
    # Gradients reach gamma and beta through these reads in every mode.
    gamma = tf.convert_to_tensor(gamma, "float32")
    beta = tf.convert_to_tensor(beta, "float32")
    channels = x.shape[-1]
    g = 16 // math.gcd(channels, 16)
    width = g * channels

    def channel_sums(rows):  # [R, W] -> [C]: column sums folded by a [g, C] reshape
        return tf.reduce_sum(tf.reshape(tf.reduce_sum(rows, 0), [g, channels]), 0)

    def tile(v):  # [C] -> [W]
        return tf.tile(v, [g])

    @tf.custom_gradient
    def bn(x, gamma, beta):
        shape = tf.shape(x)
        flat = tf.reshape(x, [-1, channels])
        m_static = flat.shape[0]
        m = tf.shape(flat)[0]
        padded = m_static is None or m_static % g != 0
        pad = (-m) % g
        count = tf.cast(m, "float32")

        def to_rows(t):
            t = tf.reshape(t, [-1, channels])
            return tf.reshape(tf.pad(t, [[0, pad], [0, 0]]) if padded else t, [-1, width])

        def from_rows(t):
            t = tf.reshape(t, [-1, channels])
            return tf.reshape(t[:m] if padded else t, shape)

        rows = to_rows(x)
        mean = channel_sums(rows) / count
        centred = rows - tile(mean)
        # Padded rows are zeros: each adds mean^2 to the centred sum of squares.
        sum_sq = channel_sums(tf.square(centred))
        if padded:
            sum_sq -= tf.cast(pad, "float32") * tf.square(mean)
        variance = sum_sq / count
        inv = tf.math.rsqrt(variance + epsilon)
        y = from_rows(centred * tile(inv * gamma) + tile(beta))

        def grad(dy, dmean, dvariance):
            # dmean/dvariance: the moving-statistics updates carry no gradient.
            del dmean, dvariance
            dy_rows = to_rows(dy)
            dbeta = channel_sums(dy_rows)
            dgamma = channel_sums(dy_rows * centred) * inv
            # dx = gamma * inv * (dy - dbeta / n - xhat * dgamma / n), xhat = centred * inv
            k = gamma * inv
            dx = dy_rows * tile(k) - (centred * tile(k * inv * dgamma / count)
                                      + tile(k * dbeta / count))
            return from_rows(dx), dgamma, dbeta

        return (y, mean, variance), grad

    return bn(x, gamma, beta)


def he_normal_fan_out():
    """The authors' conv init: normal with std sqrt(2 / (k * k * C_out))."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def torch_linear_init():
    """uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), the default of the Lua/PyTorch Linear
    (and of PyTorch's Conv2d weight: fan_in = kh * kw * C_in)."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def torch_bias_init(fan_in):
    """uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default bias of a Conv2d/Linear."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def apply_conv_bn_relu(make, x, filters, kernel, stride, name, sync_bn=False, use_bias=False,
                       kernel_initializer=None):
    """Conv (no bias) -> BN -> ReLU, padded symmetrically like the reference.

    Stride-1 3x3 convs use "same" padding, which is symmetric there. Strided
    convs get explicit symmetric zero padding: Keras "same" would pad 0 before
    and 1 after, which shifts every window. The conv starts He-normal (fan-out)
    unless `kernel_initializer` says otherwise.
    """
    pad = (kernel - 1) // 2
    padding = "valid"
    if pad and stride == 1:
        padding = "same"
    elif pad:
        x = make(layers.ZeroPadding2D, f"{name}_pad", padding=pad)(x)
    x = make(
        Conv2D, f"{name}_conv", filters=filters, kernel_size=kernel, strides=stride,
        padding=padding, use_bias=use_bias,
        kernel_initializer=kernel_initializer or he_normal_fan_out(),
    )(x)
    x = make(BatchNormalization, f"{name}_bn", momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
             synchronized=sync_bn)(x)
    return make(layers.ReLU, f"{name}_relu")(x)


def apply_conv_bn(make, x, n_in, n_out, down, bottleneck, bn_width, name, sync_bn=False):
    """ConvBN of the paper: optional 1x1 bottleneck, then a 3x3 conv."""
    if bottleneck:
        n_inner = min(n_in, bn_width * n_out)
        x = apply_conv_bn_relu(make, x, n_inner, 1, 1, f"{name}_1x1", sync_bn)
    return apply_conv_bn_relu(make, x, n_out, 3, 2 if down else 1, f"{name}_3x3", sync_bn)


def apply_imagenet_stem(make, image, filters, name, sync_bn=False, kernel_initializer=None,
                        bias_initializer="zeros"):
    """Conv 7x7/2 (pad 3, with bias) -> BN -> ReLU -> max-pool 3x3/2 (pad 1): 224 -> 56.

    The conv starts He-normal (fan-out) with a zero bias unless the initialisers say otherwise.
    """
    x = make(layers.ZeroPadding2D, f"{name}_pad", padding=3)(image)
    x = make(Conv2D, f"{name}_conv", filters=filters, kernel_size=7, strides=2,
             use_bias=True, kernel_initializer=kernel_initializer or he_normal_fan_out(),
             bias_initializer=bias_initializer)(x)
    x = make(BatchNormalization, f"{name}_bn", momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
             synchronized=sync_bn)(x)
    x = make(layers.ReLU, f"{name}_relu")(x)
    # Zero padding equals the reference's -inf padding here: inputs are >= 0 after ReLU.
    x = make(layers.ZeroPadding2D, f"{name}_pool_pad", padding=1)(x)
    return make(layers.MaxPooling2D, f"{name}_pool", pool_size=3, strides=2)(x)


def apply_classifier_features(make, x, k, stem, pool_side, sync_bn=False):
    """Exit k up to its Dense layer: two strided ConvBasic and the 2x2 average pool -> [N, C].

    With `make.head_pool == "global"` (see `msdnet_tf.models.options`) the pool
    is global at every map size; the reference's 2x2 pool is the same on a 2x2 map.
    """
    width = 128 if stem == "cifar" else x.shape[-1]
    x = apply_conv_bn_relu(make, x, width, 3, 2, f"exit{k}_c1", sync_bn)
    x = apply_conv_bn_relu(make, x, width, 3, 2, f"exit{k}_c2", sync_bn)
    if pool_side == 2 or getattr(make, "head_pool", "fixed") == "global":
        # Equal to a 2x2 average pool on a 2x2 map, and fully accelerated in int8.
        return make(layers.GlobalAveragePooling2D, f"exit{k}_pool")(x)
    x = make(layers.AveragePooling2D, f"exit{k}_pool", pool_size=2)(x)
    return make(layers.Flatten, f"exit{k}_flatten")(x)


def apply_classifier_dense(make, features, k, num_classes):
    """The Dense layer of exit k, named exit_k like the output; float32 logits."""
    return make(layers.Dense, f"exit_{k}", units=num_classes, dtype="float32",
                kernel_initializer=torch_linear_init(), bias_initializer="zeros")(features)


def apply_classifier(make, x, k, stem, num_classes, pool_side, sync_bn=False):
    """Exit k on the tensor it reads: two strided ConvBasic, 2x2 average pool, Dense."""
    features = apply_classifier_features(make, x, k, stem, pool_side, sync_bn)
    return apply_classifier_dense(make, features, k, num_classes)
