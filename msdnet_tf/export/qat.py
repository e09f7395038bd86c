"""Quantisation-aware fine-tuning (TFMOT, tf_keras) and int8 conversion, in its own process.

    python -m msdnet_tf.export.qat --config RESOLVED.yaml --workdir RUN \\
        --weights WEIGHTS.npz --output OUT [--int8-io] [--in-graph-exit]

Started by `msdnet_tf.export.qat_runner` (`tflite/convert.py --mode qat`), never
imported by a Keras 3 process: TFMOT works only with tf_keras, and importing it
turns `tf.keras` into tf_keras. TF_USE_LEGACY_KERAS=1 is set before TensorFlow
is imported.

1. Rebuild the model's graph with tf_keras layers, through the same family
   graph and block functions and layer names, and copy the trained
   Keras 3 weights in by layer name (WEIGHTS.npz, written by the runner, also
   holds reference logits: the copy must reproduce them).
2. `quantize_model` (layers TFMOT does not know bring their own QuantizeConfig),
   then set every activation range from calibration images:
   TFMOT starts them at [-6, 6] and moves them by an EMA of decay 0.999,
   far too slowly for a fine-tuning of a few hundred steps.
3. Fine-tune export.qat_epochs epochs (SGD, export.qat_learning_rate, augmented
   training data) with BatchNorm frozen (inference mode), so that training
   optimises the function that is deployed.
4. Cut the exit and stage graphs out of the trained QAT model by replaying its
   layers (same weights and fake-quant ranges) and convert them to int8.
"""

import os
import sys

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError("msdnet_tf.export.qat must run in its own process "
                      "(python -m msdnet_tf.export.qat), not inside a Keras 3 program")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import argparse  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(prog="msdnet_tf.export.qat", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="the resolved config of the export")
    p.add_argument("--workdir", required=True, help="the training run (hold-out, data cache)")
    p.add_argument("--weights", required=True, help="npz of the Keras 3 weights by layer")
    p.add_argument("--output", required=True)
    p.add_argument("--int8-io", action="store_true")
    p.add_argument("--in-graph-exit", action="store_true")
    return p


if __name__ == "__main__":
    build_parser().parse_args()  # --help and argument errors answer before TensorFlow loads


from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from msdnet_tf.cli import UserError  # noqa: E402

# Keras-3-only arguments of the block functions; tf_keras uses its defaults
# (initialisers do not matter: the trained weights are copied in).
_DROPPED_KWARGS = ("synchronized", "kernel_initializer", "bias_initializer")
_RANGE_WEIGHTS = ("output", "post_activation")
QUANT_PREFIX = "quant_"
PARITY_TOLERANCE = 1e-4


class TfKerasFactory:
    """`make(cls, name, **kwargs)` of the blocks, creating the tf_keras layer of that class name.

    A custom layer class of ours names its tf_keras twin with a `tf_keras_class()`
    classmethod; every other class is looked up by name in `tf_keras.layers`. BN runs in
    inference mode, so ISC heads get their BN folded into the Dense before it
    (`models.heads.fold_isc_bn_weights`).
    """

    fold_isc_bn = True

    def __init__(self, head_pool="fixed"):
        self.head_pool = head_pool  # the classifiers' pooling (msdnet_tf.models.options)

    def __call__(self, cls, name, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in _DROPPED_KWARGS}
        if cls.__name__ == "BatchNormalization":
            kwargs["trainable"] = False  # Inference mode during QAT (see module docstring).
        twin = getattr(cls, "tf_keras_class", None)
        layer_class = twin() if twin is not None else getattr(tf_keras.layers, cls.__name__)
        return layer_class(name=name, **kwargs)


def build_float_model(cfg):
    """(tf_keras model, boundaries): boundaries[k] = {name: layer name} carried after exit k."""
    from msdnet_tf import config as config_lib
    from msdnet_tf.models import base, family, options

    graph_class = family.get(cfg.model.family).model_class.graph_class
    arch, shared = options.split(config_lib.model_kwargs(cfg))
    if shared["resolutions"] or shared["resolution_conditioned"]:
        raise UserError("mode qat is not available for resolution-switchable models (use "
                        "int8: post-training quantisation per resolution)")
    factory = TfKerasFactory(shared["head_pool"])
    graph = graph_class(arch, False, factory)
    size = arch["image_size"]
    image = tf_keras.Input((size, size, 3), name="image")
    outputs, carried = base.apply_graph(graph, image, config_lib.exit_heads(cfg), factory,
                                        arch["num_classes"])
    boundaries = [{key: _layer_of(t) for key, t in c.items()} for c in carried]
    return tf_keras.Model(image, outputs, name=cfg.model.family), boundaries


def _layer_of(tensor):
    return tensor._keras_history.layer.name  # pylint: disable=protected-access


def load_weights(model, weights):
    """Copies `weights` ({"layer/i": array}) in by layer name and checks the reference logits."""
    from msdnet_tf.models.heads import fold_isc_bn_weights

    weights = fold_isc_bn_weights(dict(weights))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([weights[f"{layer.name}/{i}"] for i in range(len(layer.weights))])
    out = model(weights["__ref__/image"], training=False)
    diff = max(float(np.abs(out[key].numpy() - weights[f"__ref__/{key}"]).max()) for key in out)
    if not diff <= PARITY_TOLERANCE:
        raise RuntimeError(f"the tf_keras copy differs from the Keras 3 model by {diff:.3g}")
    return diff


def keep_input_order():
    """Makes TFMOT's graph transformer match a layer's inputs in call order.

    TFMOT 0.8.1 looks the input layers of a pattern match up in the order the
    model config lists layers, not in the order the layer is called with
    (tensorflow/model-optimization#1179): a Concatenate whose first input was
    built after another one gets its inputs swapped in the QAT model. MSDNet's
    concatenations never hit it (their inputs are built in call order); RANet's
    block-end concatenations do.
    """
    from tensorflow_model_optimization.python.core.quantization.keras.graph_transformations import (  # noqa: E501
        model_transformer)

    transformer = model_transformer.ModelTransformer
    if getattr(transformer, "_msdnet_tf_input_order", False):
        return

    def get_layers(self, layer_names):
        by_name = {layer["config"]["name"]: layer for layer in self._config["layers"]}
        return [by_name[name] for name in layer_names if name in by_name]

    transformer._get_layers = get_layers  # pylint: disable=protected-access
    transformer._msdnet_tf_input_order = True  # pylint: disable=protected-access


def quantize(model):
    """TFMOT's `quantize_model`, plus the layers TFMOT does not know.

    A tf_keras layer class of ours that TFMOT's registry lacks (e.g. RANet's
    align_corners resize) says how to quantise it with a `quantize_config()`
    method returning a TFMOT QuantizeConfig; those layers are annotated with it
    first. A model without such layers goes through `quantize_model` unchanged.
    """
    from tensorflow_model_optimization.quantization import keras as tfmot_keras

    keep_input_order()
    custom = {}

    def annotate(layer):
        make_config = getattr(layer, "quantize_config", None)
        if make_config is None:
            return layer
        config = make_config()
        custom.update({type(layer).__name__: type(layer), type(config).__name__: type(config)})
        return tfmot_keras.quantize_annotate_layer(layer, quantize_config=config)

    if not any(hasattr(layer, "quantize_config") for layer in model.layers):
        return tfmot_keras.quantize_model(model)
    annotated = tf_keras.models.clone_model(model, clone_function=annotate)
    with tfmot_keras.quantize_scope(custom):
        return tfmot_keras.quantize_model(annotated)


def _range_weights(layer):
    """{"min"|"max": variable} of a QAT layer's activation quantizer, or {}."""
    found = {}
    for v in layer.weights:
        short = v.name.split("/")[-1].split(":")[0]
        for prefix in _RANGE_WEIGHTS + (layer.name,):
            if short in (f"{prefix}_min", f"{prefix}_max"):
                found[short.rsplit("_", 1)[1]] = v
    return found


def init_ranges(float_model, qat_model, images):
    """Sets each activation range to the min/max (with 0) its tensor takes on `images`."""
    layers = {l.name: _range_weights(l) for l in qat_model.layers}
    layers = {name: w for name, w in layers.items() if w}
    probes = [float_model.input if name == "quantize_layer"
              else float_model.get_layer(name[len(QUANT_PREFIX):]).output for name in layers]
    values = tf_keras.Model(float_model.input, probes).predict(images, batch_size=64, verbose=0)
    for (name, weights), value in zip(layers.items(), values):
        weights["min"].assign(np.full(weights["min"].shape, min(float(value.min()), 0.0)))
        weights["max"].assign(np.full(weights["max"].shape, max(float(value.max()), 0.0)))
    return len(layers)


def fine_tune(qat_model, bundle, cfg, steps_per_epoch):
    """export.qat_epochs epochs of SGD on the summed cross-entropy of every exit."""
    num_exits = len(qat_model.outputs)
    keys = [f"exit_{k}" for k in range(num_exits)]
    data = bundle.train_dataset(cfg.train.batch_size).map(
        lambda x, y: (x, {key: y for key in keys}))
    loss = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    qat_model.compile(tf_keras.optimizers.SGD(cfg.export.qat_learning_rate,
                                              momentum=cfg.train.momentum),
                      loss={key: loss for key in keys})
    history = qat_model.fit(data, epochs=cfg.export.qat_epochs, steps_per_epoch=steps_per_epoch,
                            verbose=2)
    return history.history


def refresh_weight_ranges(qat_model, images):
    """One training-mode pass: weight ranges follow the final weights (LastValueQuantizer)."""
    qat_model(images, training=True)


def _is_keras_tensor(value):
    return hasattr(value, "_keras_history")


def replay(model, feeds, targets):
    """Re-applies `model`'s layers from new tensors; returns {key: tensor of layer targets[key]}.

    feeds: {layer name: tensor} replacing that layer's output. Layers (with
    their weights and quantizer state) are shared, not copied; layers that do
    not depend on the feeds are skipped.
    """
    values = {}
    for depth in sorted(model._nodes_by_depth, reverse=True):  # pylint: disable=protected-access
        for node in model._nodes_by_depth[depth]:  # pylint: disable=protected-access
            name = node.layer.name
            if name in feeds:
                values[id(node.outputs)] = feeds[name]
                continue
            args = (node.call_args, node.call_kwargs)
            tensors = [t for t in tf.nest.flatten(args) if _is_keras_tensor(t)]
            if not tensors or not all(id(t) in values for t in tensors):
                continue
            call_args, call_kwargs = tf.nest.map_structure(
                lambda t: values[id(t)] if _is_keras_tensor(t) else t, args)
            values[id(node.outputs)] = node.layer(*call_args, **call_kwargs)
    return {key: values[id(model.get_layer(name).output)] for key, name in targets.items()}


def _q(name):
    return QUANT_PREFIX + name


def deployment_models(qat_model, boundaries, image_size):
    """(exit models, stage models) at batch size 1, cut out of the trained QAT model."""
    num_exits = len(boundaries)

    def image_input():
        return tf_keras.Input((image_size, image_size, 3), batch_size=1, name="image")

    exits = []
    for k in range(num_exits):
        image = image_input()
        out = replay(qat_model, {"image": image}, {"logits": _q(f"exit_{k}")})
        exits.append(tf_keras.Model(image, out["logits"], name=f"exit_{k}"))
    stages, previous = [], None
    for b in range(num_exits):
        if previous is None:
            inputs = image_input()
            feeds = {"image": inputs}
        else:
            inputs = {key: tf_keras.Input(qat_model.get_layer(_q(name)).output.shape[1:],
                                          batch_size=1, name=key)
                      for key, name in previous.items()}
            feeds = {_q(previous[key]): tensor for key, tensor in inputs.items()}
        targets = {"logits": _q(f"exit_{b}")}
        if b < num_exits - 1:
            targets.update({key: _q(name) for key, name in boundaries[b].items()})
        stages.append(tf_keras.Model(inputs, replay(qat_model, feeds, targets), name=f"stage_{b}"))
        previous = boundaries[b]
    return exits, stages


def write_files(qat_model, exits, stages, out, image_size, int8_io, in_graph_exit, progress):
    from msdnet_tf.export import graphs
    from msdnet_tf.export.convert import convert, keras_signature

    out = Path(out)
    for k, model in enumerate(exits):
        progress(f"  qat: exit_{k}.tflite")
        data = convert([keras_signature("serving_default", model)], model.variables, "qat",
                       int8_io=int8_io)
        (out / f"exit_{k}.tflite").write_bytes(data)
    progress(f"  qat: cascade.tflite ({len(stages)} signatures)")
    signatures = [keras_signature(f"stage_{k}", s) for k, s in enumerate(stages)]
    (out / "cascade.tflite").write_bytes(convert(signatures, qat_model.variables, "qat"))
    if in_graph_exit:
        progress("  qat: early_exit.tflite")
        signature = graphs.early_exit_signature(stages, image_size)
        (out / "early_exit.tflite").write_bytes(convert([signature], qat_model.variables, "qat"))


def steps_per_epoch(cfg, bundle):
    return (cfg.export.qat_steps_per_epoch or cfg.train.steps_per_epoch
            or bundle.steps_per_epoch(cfg.train.batch_size))


def run(cfg, workdir, weights_path, out, int8_io=False, in_graph_exit=False, progress=None):
    """Steps 1-4 of the module docstring; `progress(message)` reports each step."""
    import tensorflow_model_optimization as tfmot

    from msdnet_tf import config as config_lib
    from msdnet_tf import data as data_lib
    from msdnet_tf.export import calibration as cal

    arch = config_lib.model_kwargs(cfg)
    model, boundaries = build_float_model(cfg)
    progress = progress or (lambda message: None)
    diff = load_weights(model, np.load(weights_path))
    progress(f"  qat: tf_keras copy of the model (max |logit diff| {diff:.1e})")
    qat_model = quantize(model)
    bundle = data_lib.build_from_config(cfg, workdir)
    images = cal.calibration_images(bundle, cfg.export.calibration_images)
    count = init_ranges(model, qat_model, images)
    progress(f"  qat: {count} activation ranges set from {len(images)} training images")
    if cfg.export.qat_epochs:
        steps = steps_per_epoch(cfg, bundle)
        progress(f"  qat: fine-tuning {cfg.export.qat_epochs} x {steps} steps of "
                 f"{cfg.train.batch_size}")
        fine_tune(qat_model, bundle, cfg, steps)
    refresh_weight_ranges(qat_model, images[:cfg.train.batch_size])
    exits, stages = deployment_models(qat_model, boundaries, arch["image_size"])
    write_files(qat_model, exits, stages, out, arch["image_size"], int8_io, in_graph_exit,
                progress)


def main(argv=None):
    args = build_parser().parse_args(argv)
    from msdnet_tf import config as config_lib

    cfg = config_lib.load_config(args.config)
    run(cfg, args.workdir, args.weights, args.output, args.int8_io, args.in_graph_exit,
        progress=lambda message: print(message, flush=True))


if __name__ == "__main__":
    main()
