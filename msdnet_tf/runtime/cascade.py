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

    path = Path(path)
    if not path.is_file():
        raise RuntimeModelError(f"model file {path} does not exist (convert first: "
                                "python tflite/convert.py --workdir DIR --output OUT)")
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise RuntimeModelError(f"{path} is not a valid .tflite model: {e}") from None
    return interpreter


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
        return cls(load_manifest(models_dir, resolution), models_dir, threads)

    def _check_signatures(self, path):
        found = self.interpreter.get_signature_list()
        runners = []
        for stage in self.manifest["cascade"]["stages"]:
            sig = stage["signature"]
            if sig not in found:
                raise RuntimeModelError(f"{path} has no signature {sig} (it has "
                                        f"{', '.join(sorted(found))}): manifest and model differ")
            want_in = sorted(t["name"] for t in stage["inputs"])
            want_out = sorted(t["name"] for t in stage["outputs"])
            if sorted(found[sig]["inputs"]) != want_in or sorted(found[sig]["outputs"]) != want_out:
                raise RuntimeModelError(
                    f"{path} signature {sig} has inputs {sorted(found[sig]['inputs'])} and "
                    f"outputs {sorted(found[sig]['outputs'])}; the manifest says {want_in} and "
                    f"{want_out}: manifest and model differ")
            runners.append(self.interpreter.get_signature_runner(sig))
        return runners

    def stage(self, k, inputs):
        """Runs stage k on {name: array}; returns its outputs {name: array}."""
        sig = self.manifest["cascade"]["stages"][k]["signature"]
        feed = {}
        for name, value in inputs.items():
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
