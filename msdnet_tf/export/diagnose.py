"""Which layers lose most under int8 post-training quantisation, per exit.

TFLite's QuantizationDebugger runs the int8 model with every quantised tensor
compared against its float value computed from the dequantised inputs of the
same op; `rmse / scale` is the op's own error in units of its quantisation
step (about 0.29 is pure rounding; much more means a range or scale problem,
e.g. a concatenation forcing one scale on inputs of very different ranges).

    report = int8_layer_errors(model, k=3, images=images, top=10)
"""

import csv
import io
import math

import numpy as np
import tensorflow as tf

from msdnet_tf.export import calibration as cal
from msdnet_tf.export import graphs
from msdnet_tf.export.convert import converter


def _rows(debugger):
    text = io.StringIO()
    debugger.layer_statistics_dump(text)
    text.seek(0)
    return list(csv.DictReader(text))


def layer_name(tensor):
    """'exit_0_1/l1_s2_normal_1x1_relu_1/Relu;...' -> 'l1_s2_normal_1x1_relu' (fused ops: last)."""
    parts = tensor.split(";")[0].split("/")
    if len(parts) < 2:  # A signature output, e.g. 'StatefulPartitionedCall:0'.
        return "logits"
    name = parts[1]
    return name[:-2] if name.endswith("_1") else name


def _entry(row):
    scale, mse = float(row["scale"]), float(row["mean_squared_error"])
    return {"layer": layer_name(row["tensor_name"]), "op": row["op_name"],
            "rmse_over_scale": math.sqrt(mse) / scale if scale else math.inf,
            "max_abs_error": float(row["max_abs_error"]), "scale": scale}


def int8_layer_errors(model, k, calibration_images, debug_images, top=10):
    """The `top` ops of exit k's int8 file with the largest rmse / scale, worst first.

    calibration_images calibrate the converter (as `--mode int8` does);
    debug_images ([N, S, S, 3] float) are run through the debug model.
    """
    samples = cal.exit_samples(calibration_images)
    signature = graphs.exit_signature(model, k)
    variables = model.exit_model(k, batch_size=1).variables
    with converter([signature], variables, "int8", samples) as tflite_converter:
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=tflite_converter,
            debug_dataset=lambda: ([np.asarray(x[np.newaxis], np.float32)]
                                   for x in debug_images))
        debugger.run()
    entries = sorted((_entry(row) for row in _rows(debugger)),
                     key=lambda e: e["rmse_over_scale"], reverse=True)
    return entries[:top]
