"""Keras pieces of resolution-switchable networks, for every family (see `options`).

A switchable model is built from the family's graph once per input side r,
always over one layer factory contract (`make(cls, name, **kwargs)`):
- at r0 (the model's own graph) every layer is created as usual, except that
  with `resolution_conditioned` a Conv2D becomes a `ConditionedConv2D`;
- at r_i, i > 0 (`ResolutionFactory`), a BatchNormalization gets a private
  layer `<name>_r<r>`, a conditioned convolution a `BoundConv` `<name>_r<r>`
  that runs the shared one with the encoding of r, every other layer with
  weights (convolutions, Dense) is the r0 layer itself, and a layer without
  weights (padding, pooling, a resize to a fixed size, ...) is built anew as
  `<name>_r<r>` from the arguments of the graph at r, since its configuration
  may depend on the input side; so is a layer the r0 graph does not have
  (a resize that is the identity at r0 only).
So convolution and Dense weights exist once; BN statistics and affine
parameters once per resolution.
"""

import keras
from keras import layers, ops

from msdnet_tf.models import options


def private_name(name, r):
    """The name of a per-resolution layer of r (not the largest)."""
    return f"{name}_r{r}"


@keras.saving.register_keras_serializable(package="msdnet_tf")
class ConditionedConv2D(layers.Conv2D):
    """Conv2D whose kernel is generated from the resolution: W(e) = e * A + B (SAN).

    `kernel` is B, `kernel_a` is A. A starts at zero, so at initialisation
    W(e) = B for every resolution: the network starts as the ordinary one (He
    init, which trains) and A learns the resolution-dependent part (its
    gradient is e * dL/dW). SAN's own U(-1, 1) init of both banks (PyTorch's
    default for a Linear with fan-in 1) gives kernels hundreds of times larger
    than He init. `encoding` is the e of calls that pass none (the largest
    resolution's).
    """

    def __init__(self, encoding=options.ENCODING_AT_R0, kernel_a_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.encoding = float(encoding)
        self.kernel_a_initializer = keras.initializers.get(kernel_a_initializer)

    def build(self, input_shape):
        shape = self.kernel_size + (input_shape[-1] // self.groups, self.filters)
        self.kernel_a = self.add_weight(name="kernel_a", shape=shape,
                                        initializer=self.kernel_a_initializer, trainable=True,
                                        dtype=self.dtype)
        super().build(input_shape)

    def kernel_at(self, encoding):
        """The plain kernel of resolution encoding e: e * A + B."""
        return ops.add(self.kernel, ops.multiply(ops.cast(encoding, self.kernel_a.dtype),
                                                 self.kernel_a))

    def call(self, inputs, encoding=None):
        e = self.encoding if encoding is None else encoding
        outputs = self.convolution_op(inputs, self.kernel_at(e))
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        return outputs if self.activation is None else self.activation(outputs)

    # Conv2D saves kernel and bias only; save every variable, as a plain Layer does.
    def save_own_variables(self, store):
        layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        layers.Layer.load_own_variables(self, store)

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding,
                "kernel_a_initializer": keras.initializers.serialize(self.kernel_a_initializer)}


class BoundConv(layers.Layer):
    """A shared `ConditionedConv2D` run at another resolution's encoding (no weights of its own).

    The shared layer is not tracked as a sublayer: the model owns (and saves)
    it once, in its r0 graph; a second owner would save it under two paths.
    """

    def __init__(self, conv, encoding, **kwargs):
        super().__init__(**kwargs)
        self.__dict__["conv"] = conv  # untracked, see above
        self.encoding = float(encoding)

    def call(self, inputs):
        return self.conv(inputs, encoding=self.encoding)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)


def is_batch_norm(cls_or_layer):
    cls = cls_or_layer if isinstance(cls_or_layer, type) else type(cls_or_layer)
    return issubclass(cls, layers.BatchNormalization)


def conditioned(cls, kwargs, encoding):
    """(class, kwargs) of a layer the r0 graph creates: Conv2D -> ConditionedConv2D."""
    if issubclass(cls, layers.Conv2D) and not issubclass(cls, ConditionedConv2D):
        return ConditionedConv2D, {**kwargs, "encoding": encoding}
    return cls, kwargs


class ResolutionFactory:
    """`make` for the graph at input side r of a switchable model (see the module docstring).

    shared: {name: layer} of the r0 graph. Private layers are created on first
    use and kept in `private` ({name: layer}).
    """

    def __init__(self, shared, r, r0, head_pool):
        self.shared, self.r, self.r0, self.head_pool = shared, r, r0, head_pool
        self.private = {}

    def _private(self, name, build):
        if name not in self.private:
            self.private[name] = build()
        return self.private[name]

    def __call__(self, cls, name, **kwargs):
        if is_batch_norm(cls):
            own = private_name(name, self.r)
            return self._private(own, lambda: cls(name=own, **kwargs))
        layer = self.shared.get(name)
        own = private_name(name, self.r)
        if layer is None:
            # Not in the r0 graph: feeds no exit (dropped here too), or a layer without
            # weights that only this side needs (e.g. RANet's resize, skipped where it
            # would be the identity).
            return self._private(own, lambda: cls(name=own, **kwargs))
        if isinstance(layer, ConditionedConv2D):
            e = options.encoding(self.r, self.r0)
            return self._private(own, lambda: BoundConv(layer, e, name=own))
        if not layer.weights:  # its arguments may depend on the side (e.g. a resize's size)
            return self._private(own, lambda: cls(name=own, **kwargs))
        return layer
