"""Cascaded early exit on LiteRT: run cascade.tflite stage by stage, stop when confident.

    cascade = Cascade.load("out/float", threads=2)
    decision = cascade.classify(image, thresholds=[0.9, 0.8, 0.7, -inf])

Stage k takes the feature maps stage k - 1 returned (by name) and returns
`logits`; the image exits at the first k whose max softmax probability is
>= thresholds[k] (the evaluation's rule, computed in float64), or, with a
deadline, at the last stage whose measured cost still fits. No layer runs twice.
"""

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from msdnet_tf.cli import UserError
from msdnet_tf.evaluation.scores import max_softmax
from msdnet_tf.runtime.manifest import load_manifest


class RuntimeModelError(UserError):
    """A .tflite file or manifest that cannot be run as described."""


@dataclasses.dataclass(frozen=True)
class Decision:
    exit: int
    pred: int
    confidence: float
    latency_ms: float
    stage_ms: tuple


def open_interpreter(path, threads=None):
    """A LiteRT interpreter for `path`, or a RuntimeModelError naming the file."""
    from ai_edge_litert.interpreter import Interpreter

    from msdnet_tf import files

    path = Path(path)
    try:
        files.regular_file(path, "model file", "convert first: python tflite/convert.py "
                                               "--workdir DIR --output OUT")
    except files.FileProblem as e:
        raise RuntimeModelError(str(e)) from None
    from msdnet_tf import _quiet

    try:
        with _quiet.filtered_stderr():  # LiteRT's XNNPACK notice
            interpreter = Interpreter(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise RuntimeModelError(f"{path} is not a valid .tflite model ({files.reason(e)}): "
                                "convert again") from None
    return interpreter


def _spec(detail):
    params = detail["quantization_parameters"]
    quant = None
    if len(params["scales"]):
        quant = {"scale": float(params["scales"][0]), "zero_point": int(params["zero_points"][0])}
    return {"shape": [int(d) for d in detail["shape"]], "dtype": np.dtype(detail["dtype"]).name,
            "quantization": quant}


def _same_quant(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a["zero_point"] == b["zero_point"] and math.isclose(a["scale"], b["scale"],
                                                               rel_tol=1e-6)


def check_signature(interpreter, signature, entry, path):
    """The signature's tensors are those the manifest entry declares (names, shapes, dtypes,
    quantization); LiteRT would otherwise resize or reinterpret inputs silently."""
    found = interpreter.get_signature_list()
    if signature not in found:
        raise RuntimeModelError(f"{path} has no signature {signature} (it has "
                                f"{', '.join(sorted(found))}): manifest and model differ")
    runner = interpreter.get_signature_runner(signature)
    for side, details in (("inputs", runner.get_input_details()),
                          ("outputs", runner.get_output_details())):
        want = {t["name"]: t for t in entry[side]}
        if sorted(details) != sorted(want):
            raise RuntimeModelError(
                f"{path} signature {signature} has {side} {sorted(details)}; the manifest says "
                f"{sorted(want)}: manifest and model differ")
        for name, detail in details.items():
            got, t = _spec(detail), want[name]
            if got["shape"] != t["shape"] or got["dtype"] != t["dtype"] or \
                    not _same_quant(got["quantization"], t.get("quantization")):
                raise RuntimeModelError(
                    f"{path} signature {signature} {side[:-1]} {name} is {got['dtype']} "
                    f"{got['shape']} (quantization {got['quantization']}); the manifest says "
                    f"{t['dtype']} {t['shape']} (quantization {t.get('quantization')}): manifest "
                    "and model differ")
    return runner


def quantize(x, quant):
    q = np.round(x / quant["scale"]) + quant["zero_point"]
    return np.clip(q, -128, 127).astype(np.int8)


def _dequantize(x, quant):
    if quant is None:
        return x.astype(np.float32)
    return ((x.astype(np.float32) - quant["zero_point"]) * quant["scale"]).astype(np.float32)


class Cascade:
    """The stages of one converted model, ready to classify preprocessed images."""

    def __init__(self, manifest, models_dir, threads=None):
        self.manifest, self.models_dir = manifest, Path(models_dir)
        self.num_exits = manifest["num_exits"]
        path = self.models_dir / manifest["cascade"]["file"]
        self.interpreter = open_interpreter(path, threads)
        self.runners = self._check_signatures(path)
        stages = manifest["cascade"]["stages"]
        self._in_quant = {s["signature"]: {t["name"]: t.get("quantization") for t in s["inputs"]}
                          for s in stages}
        self._logit_quant = [next(t.get("quantization") for t in s["outputs"]
                                  if t["name"] == "logits") for s in stages]
        self.exit_flops = [e["cumulative_flops"] for e in manifest["exits"]]

    @classmethod
    def load(cls, models_dir, threads=None, resolution=None):
        """The cascade of a converted directory (of one input side of a switchable model)."""
        return cls(load_manifest(models_dir, resolution=resolution), models_dir, threads)

    def _check_signatures(self, path):
        stages = self.manifest["cascade"]["stages"]
        self._in_shape = [{t["name"]: tuple(t["shape"]) for t in s["inputs"]} for s in stages]
        return [check_signature(self.interpreter, s["signature"], s, path) for s in stages]

    def stage(self, k, inputs):
        """Runs stage k on {name: array}; returns its outputs {name: array}."""
        sig = self.manifest["cascade"]["stages"][k]["signature"]
        feed = {}
        for name, value in inputs.items():
            want = self._in_shape[k].get(name)
            if want is None or tuple(np.shape(value)) != want:
                raise RuntimeModelError(f"{sig} takes {name} {list(want) if want else 'nothing'}"
                                        f"; received {list(np.shape(value))}")
            quant = self._in_quant[sig].get(name)
            feed[name] = quantize(value, quant) if quant else value
        return self.runners[k](**feed)

    def logits(self, k, outputs):
        return _dequantize(outputs["logits"], self._logit_quant[k])

    def classify(self, image, thresholds=None, deadline_ms=None, stage_costs_ms=None):
        """One preprocessed image [1, S, S, 3] float32 -> Decision.

        thresholds: one per exit (last -inf); None runs to the deadline or the end.
        deadline_ms with stage_costs_ms: go on to stage k + 1 only while the time
        spent plus its measured cost still fits the deadline (anytime mode).
        """
        start = time.perf_counter()
        feats, stage_ms = {"image": image}, []
        for k in range(self.num_exits):
            t0 = time.perf_counter()
            out = self.stage(k, feats)
            logits = self.logits(k, out)
            conf = float(max_softmax(logits)[0])
            stage_ms.append(1e3 * (time.perf_counter() - t0))
            last = k == self.num_exits - 1
            if not last and thresholds is not None and conf >= thresholds[k]:
                break
            if not last and deadline_ms is not None:
                spent = 1e3 * (time.perf_counter() - start)
                if spent + stage_costs_ms[k + 1] > deadline_ms:
                    break
            out.pop("logits")
            feats = out
        latency = 1e3 * (time.perf_counter() - start)
        return Decision(k, int(np.argmax(logits[0])), conf, latency, tuple(stage_ms))

    def all_logits(self, image):
        """Logits of every exit (all stages run): [K, C]. For checks and simulation."""
        feats, rows = {"image": image}, []
        for k in range(self.num_exits):
            out = self.stage(k, feats)
            rows.append(self.logits(k, out)[0])
            out.pop("logits")
            feats = out
        return np.stack(rows)


def parse_thresholds(values, num_exits):
    """Floats (and 'inf'/'-inf' strings) -> float64 array with the last one -inf."""
    out = np.array([float(v) for v in values], dtype=np.float64)
    if len(out) != num_exits:
        raise UserError(f"{len(out)} thresholds for a model with {num_exits} exits")
    if out[-1] != -math.inf:
        raise UserError("the last threshold must be -inf (every image exits at the end)")
    return out
