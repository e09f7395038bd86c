"""The training optimizer: momentum SGD with coupled weight decay, in two formulations.

Both are heavy-ball momentum with the same fixed points; they differ in where
the learning rate enters (train.momentum_style):

- "torch" (torch.optim.SGD, what the reference port trains with):
      v <- m * v + g            w <- w - lr * v
  (Nesterov: w <- w - lr * (g + m * v)). The velocity is a sum of gradients; the
  current lr scales all of it, so a step decay takes effect at once.
- "keras" (keras.optimizers.SGD):
      v <- m * v - lr * g       w <- w + v
  (Nesterov: w <- w + m * v - lr * g). The velocity holds past steps already
  scaled by the lr they were taken with, so after a decay from lr to lr / 10 the
  first steps still move by the old lr's momentum (it fades as m^t).

With a constant lr the two give the same weights (v_keras = -lr * v_torch).

Weight decay is PyTorch's coupled L2: g <- g + wd * w before the momentum update,
on every trainable variable (`coupled_weight_decay`; Keras's own `weight_decay`
argument is the decoupled AdamW kind, which is another algorithm).

On the TensorFlow backend each variable is updated by one fused kernel
(ResourceApplyMomentum / ResourceApplyKerasMomentum, which compute exactly the
formulas above) instead of half a dozen elementwise ops: the CIFAR-100 network has
hundreds of variables, and on a small CPU every op has a fixed cost.
"""

import keras

MOMENTUM_STYLES = ("torch", "keras")


class _CoupledSGD(keras.optimizers.SGD):
    _torch_style = True

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False,
                 coupled_weight_decay=0.0, **kwargs):
        super().__init__(learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)
        self.coupled_weight_decay = float(coupled_weight_decay)

    def update_step(self, gradient, variable, learning_rate):
        if keras.backend.backend() == "tensorflow" and self.momentum:
            return self._fused_update(gradient, variable, learning_rate)
        from keras import ops

        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self.coupled_weight_decay:
            gradient = ops.add(gradient, ops.multiply(
                variable, ops.cast(self.coupled_weight_decay, variable.dtype)))
        if self.momentum == 0:
            self.assign_sub(variable, ops.multiply(gradient, learning_rate))
            return None
        momentum = ops.cast(self.momentum, variable.dtype)
        v = self.momentums[self._get_variable_index(variable)]
        if self._torch_style:
            self.assign(v, ops.add(ops.multiply(v, momentum), gradient))
            step = ops.add(gradient, ops.multiply(v, momentum)) if self.nesterov else v
            self.assign_sub(variable, ops.multiply(step, learning_rate))
        else:
            self.assign(v, ops.subtract(ops.multiply(v, momentum),
                                        ops.multiply(gradient, learning_rate)))
            step = (ops.subtract(ops.multiply(v, momentum), ops.multiply(gradient, learning_rate))
                    if self.nesterov else v)
            self.assign_add(variable, step)
        return None

    def _fused_update(self, gradient, variable, learning_rate):
        import tensorflow as tf

        var = variable.value if isinstance(variable, keras.Variable) else variable
        v = self.momentums[self._get_variable_index(variable)]
        accum = v.value if isinstance(v, keras.Variable) else v
        dtype = var.dtype
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)
        gradient = tf.cast(gradient, dtype)
        if self.coupled_weight_decay:
            gradient = gradient + tf.cast(self.coupled_weight_decay, dtype) * var
        apply = (tf.raw_ops.ResourceApplyMomentum if self._torch_style
                 else tf.raw_ops.ResourceApplyKerasMomentum)
        return apply(var=var.handle, accum=accum.handle, lr=tf.cast(learning_rate, dtype),
                     grad=gradient, momentum=tf.cast(self.momentum, dtype),
                     use_nesterov=self.nesterov)

    def get_config(self):
        return {**super().get_config(), "coupled_weight_decay": self.coupled_weight_decay}


@keras.saving.register_keras_serializable(package="msdnet_tf")
class TorchSGD(_CoupledSGD):
    """keras.optimizers.SGD with torch.optim.SGD's update (dampening 0).

    v <- m * v + g, w <- w - lr * v; with nesterov, w <- w - lr * (g + m * v).
    The first step has v = g, as in PyTorch. `coupled_weight_decay` is PyTorch's
    `weight_decay` (g <- g + wd * w first), so `model.compile(optimizer=TorchSGD(
    0.1, momentum=0.9, coupled_weight_decay=1e-4))` trains with the reference's
    optimizer in `fit`. Same variables as Keras's SGD (one velocity per trainable
    variable); the velocities mean different things (see this module's docstring).
    """

    _torch_style = True


@keras.saving.register_keras_serializable(package="msdnet_tf")
class KerasSGD(_CoupledSGD):
    """keras.optimizers.SGD's update with PyTorch's coupled weight decay added.

    v <- m * v - lr * g, w <- w + v (nesterov: w <- w + m * v - lr * g), with
    g <- g + wd * w first.
    """

    _torch_style = False


def make_sgd(learning_rate, momentum, nesterov=False, style="torch", weight_decay=0.0):
    """Momentum SGD of `style` ("torch" or "keras") with coupled `weight_decay`."""
    if style not in MOMENTUM_STYLES:
        raise ValueError(f"momentum style must be one of {', '.join(MOMENTUM_STYLES)}. "
                         f"Received: style={style!r}")
    cls = TorchSGD if style == "torch" else KerasSGD
    return cls(learning_rate, momentum=float(momentum), nesterov=nesterov,
               coupled_weight_decay=weight_decay)


def from_config(train_cfg):
    """The trainer's optimizer for a `TrainConfig`: make_sgd with the configured lr,
    momentum, Nesterov, momentum style and coupled weight decay, wrapped in a
    LossScaleOptimizer under mixed_float16. Not built: build it in the strategy's scope.
    """
    t = train_cfg
    optimizer = make_sgd(t.learning_rate, t.momentum, t.nesterov, t.momentum_style,
                         t.weight_decay)
    if t.mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
