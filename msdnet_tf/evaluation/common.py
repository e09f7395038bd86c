"""Shared pieces of the evaluation package: its error type and JSON floats.

JSON has no infinity, and the thresholds of the budgeted evaluation are often
infinite (+inf: nobody exits there; -inf: the last exit takes everyone), so
infinities are written as the strings "inf" / "-inf" in every file we write.
"""

import json
import math


class EvaluationError(ValueError):
    """Bad evaluation input (logits, latency or thresholds file, budget).

    The message names the file (when there is one) and the problem; the CLI
    prints it as one line.
    """


def encode_float(x):
    """A float for JSON: finite floats as they are, infinities as "inf"/"-inf"."""
    x = float(x)
    if math.isnan(x):
        raise ValueError("NaN cannot be written to an evaluation file")
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def decode_float(value):
    """Inverse of `encode_float`; returns None for anything that is not a number
    (booleans included) so the caller can report the value it received."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    return None


def write_json(path, data):
    """Writes `data` (already JSON-safe) atomically with a trailing newline; returns the path."""
    from msdnet_tf.workdir import atomic_write_text

    return atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def read_json(path, what):
    """Reads a JSON object from `path`; EvaluationError names the file otherwise."""
    from msdnet_tf import files

    try:
        return files.read_json(path, what)
    except files.FileProblem as e:
        raise EvaluationError(str(e)) from None
