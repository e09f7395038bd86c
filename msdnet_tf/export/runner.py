"""Running TFLite files with LiteRT (`ai_edge_litert`): signature runners, by name.

Outputs are read by signature name, never by position (the interpreter's
output order is not the Keras order). int8 inputs and outputs are quantised
and dequantised here with the file's own parameters, so callers always pass
and receive float32.
"""

from pathlib import Path

import numpy as np


def _quantization(detail):
    """{"scale": s, "zero_point": z} of an int8 tensor, None for a float one."""
    params = detail["quantization_parameters"]
    if detail["dtype"] == np.float32 or not len(params["scales"]):
        return None
    if len(params["scales"]) != 1:
        raise ValueError(f"tensor {detail['name']} is quantised per axis; only per-tensor "
                         "parameters are supported at a model boundary")
    return {"scale": float(params["scales"][0]), "zero_point": int(params["zero_points"][0])}


def quantize(x, q, dtype):
    info = np.iinfo(dtype)
    scaled = np.round(np.asarray(x, np.float32) / q["scale"]) + q["zero_point"]
    return np.clip(scaled, info.min, info.max).astype(dtype)


def dequantize(x, q):
    return (np.asarray(x, np.float32) - q["zero_point"]) * np.float32(q["scale"])


class TFLiteModel:
    """A .tflite file (path or bytes) with named signatures.

        model = TFLiteModel("cascade.tflite")
        out = model.run("stage_0", image=x)        # {"logits": ..., "scale_0": ...}
    """

    def __init__(self, source, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(source, (str, Path)):
            self.interpreter = Interpreter(model_path=str(source), num_threads=num_threads)
        else:
            self.interpreter = Interpreter(model_content=bytes(source), num_threads=num_threads)
        self.signature_names = list(self.interpreter.get_signature_list())
        self._runners = {}

    def runner(self, signature):
        if signature not in self.signature_names:
            raise KeyError(f"no signature {signature!r}; this file has "
                           f"{', '.join(self.signature_names)}")
        if signature not in self._runners:
            from msdnet_tf import _quiet

            with _quiet.filtered_stderr():  # LiteRT's XNNPACK notice
                self._runners[signature] = self.interpreter.get_signature_runner(signature)
        return self._runners[signature]

    def tensors(self, signature):
        """(inputs, outputs): {name: {"shape", "dtype", "quantization"}} of a signature."""
        runner = self.runner(signature)
        return tuple(
            {name: {"shape": [int(d) for d in detail["shape"]],
                    "dtype": np.dtype(detail["dtype"]).name,
                    "quantization": _quantization(detail)}
             for name, detail in details.items()}
            for details in (runner.get_input_details(), runner.get_output_details()))

    def run(self, signature, **inputs):
        """Runs one signature on float32 arrays; returns outputs by name (int8 dequantised)."""
        runner = self.runner(signature)
        in_details, out_details = runner.get_input_details(), runner.get_output_details()
        feeds = {}
        for name, value in inputs.items():
            detail = in_details[name]
            q = _quantization(detail)
            feeds[name] = np.asarray(value, np.float32) if q is None else quantize(
                value, q, detail["dtype"])
        outputs = runner(**feeds)
        result = {}
        for name, value in outputs.items():
            q = _quantization(out_details[name])
            result[name] = np.asarray(value) if q is None else dequantize(value, q)
        return result


def run_exit_file(model, images):
    """[N, C] logits of an exit file over float images [N, S, S, 3], one image at a time."""
    signature = model.signature_names[0]
    return np.concatenate([model.run(signature, image=x[np.newaxis])["logits"]
                           for x in images])


def run_cascade(model, image):
    """All exits' logits (list of [1, C]) of a cascade file for one image [1, S, S, 3]."""
    logits, feeds = [], {"image": image}
    for k in range(len(model.signature_names)):
        out = model.run(f"stage_{k}", **feeds)
        logits.append(out.pop("logits"))
        feeds = out
    return logits


def run_cascade_batch(model, images):
    """[K, N, C] logits of every stage of a cascade file over float images [N, S, S, 3]."""
    per_image = [run_cascade(model, x[np.newaxis]) for x in images]
    return np.stack([np.concatenate(exits) for exits in zip(*per_image)])
