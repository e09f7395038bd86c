"""TFLite against Keras on real test images: logit error, top-1 agreement and accuracy.

    {"mode": "int8", "images": 1000,
     "exits":   [{"exit": 0, "max_abs_diff": ..., "mean_abs_diff": ..., "top1_agreement": pct,
                  "keras_top1": pct, "tflite_top1": pct, "top1_drop": points}, ...],
     "cascade": [... the same, for cascade.tflite's stages run in sequence ...],
     "early_exit": {...} | null,
     "bar": {"float": ..., "passed": true, "failures": []}}

`QUALITY_BARS` is the acceptance rule per mode; a non-finite TFLite output
fails every mode.
"""

import numpy as np

# Per mode: the largest max |logit difference|, the lowest top-1 agreement (%)
# and the largest accuracy drop (points) accepted at every exit.
QUALITY_BARS = {
    "float": {"max_abs_diff": 1e-4},
    "dynamic": {"min_top1_agreement": 99.0, "max_top1_drop": 1.0},
    "float16": {"min_top1_agreement": 99.5, "max_top1_drop": 0.5},
    "int8": {"min_top1_agreement": 99.0, "max_top1_drop": 1.0},
    "qat": {"max_top1_drop": 0.5},
}


def keras_logits(model, images, batch_size=256):
    """[K, N, C] float32 logits of every exit of a Keras MSDNet."""
    outputs = [model(images[i:i + batch_size], training=False)
               for i in range(0, len(images), batch_size)]
    return np.stack([np.concatenate([np.asarray(o[f"exit_{k}"]) for o in outputs])
                     for k in range(model.num_exits)]).astype(np.float32)


def _pct(mask):
    return round(100.0 * float(np.mean(mask)), 3)


def exit_entry(k, reference, logits, labels):
    """Fidelity of one exit: `reference` (Keras) and `logits` (TFLite) are [N, C]."""
    diff = np.abs(logits.astype(np.float64) - reference)
    keras_top1, tflite_top1 = _pct(reference.argmax(1) == labels), _pct(logits.argmax(1) == labels)
    finite = bool(np.isfinite(logits).all())
    return {
        "exit": k,
        "finite": finite,
        "max_abs_diff": float(diff.max()) if finite else None,
        "mean_abs_diff": float(diff.mean()) if finite else None,
        "top1_agreement": _pct(reference.argmax(1) == logits.argmax(1)),
        "keras_top1": keras_top1,
        "tflite_top1": tflite_top1,
        "top1_drop": round(keras_top1 - tflite_top1, 3),
    }


def entries(reference, logits, labels):
    """Per-exit entries for [K, N, C] Keras and TFLite logits."""
    return [exit_entry(k, reference[k], logits[k], labels) for k in range(len(reference))]


def _failures(name, entry, bar):
    if not entry["finite"]:
        return [f"{name} exit_{entry['exit']}: non-finite TFLite outputs"]
    out = []
    if "max_abs_diff" in bar and entry["max_abs_diff"] > bar["max_abs_diff"]:
        out.append(f"{name} exit_{entry['exit']}: max |logit diff| {entry['max_abs_diff']:.3g} "
                   f"> {bar['max_abs_diff']:g}")
    if entry["top1_agreement"] < bar.get("min_top1_agreement", -1):
        out.append(f"{name} exit_{entry['exit']}: top-1 agreement {entry['top1_agreement']:.2f}% "
                   f"< {bar['min_top1_agreement']:g}%")
    if entry["top1_drop"] > bar.get("max_top1_drop", np.inf):
        out.append(f"{name} exit_{entry['exit']}: accuracy drop {entry['top1_drop']:.2f} points "
                   f"> {bar['max_top1_drop']:g}")
    return out


def check_bar(mode, report):
    """{"mode bar..., "passed": bool, "failures": [messages]} for a fidelity report."""
    bar = QUALITY_BARS[mode]
    failures = []
    for name in ("exits", "cascade"):
        for entry in report.get(name) or []:
            failures += _failures(name, entry, bar)
    return {**bar, "passed": not failures, "failures": failures}


def early_exit_entry(reference, logits, taken, labels, thresholds):
    """In-graph early exit vs the same thresholds applied to Keras logits.

    reference: [K, N, C] Keras logits; logits [N, C] and taken [N] from the file.
    """
    from msdnet_tf import evaluation as ev
    from msdnet_tf.evaluation.common import encode_float

    confidence = np.stack([ev.max_softmax(r) for r in reference])
    expected = ev.assign_exits(confidence, np.asarray(thresholds))
    chosen = reference[expected, np.arange(len(labels))]
    entry = exit_entry(-1, chosen, logits, labels)
    entry.pop("exit")
    return {"thresholds": [encode_float(t) for t in thresholds],
            "exit_agreement": _pct(taken == expected), **entry}
