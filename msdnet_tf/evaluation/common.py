"""Shared pieces of the evaluation package: its error type and JSON floats.

JSON has no infinity, and the thresholds of the budgeted evaluation are often
infinite (+inf: nobody exits there; -inf: the last exit takes everyone), so
infinities are written as the strings "inf" / "-inf" in every file we write.
"""

import json
import math
from pathlib import Path


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
    """Writes `data` (already JSON-safe) with a trailing newline; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return path


def _reject_constant(name):
    # Python's json accepts NaN/Infinity, which are not JSON; we write "inf".
    raise ValueError(f"{name} is not JSON (write infinities as \"inf\" / \"-inf\")")


def read_json(path, what):
    """Reads a JSON object from `path`; EvaluationError names the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"{what} {path} does not exist")
    try:
        data = json.loads(path.read_text(), parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as e:
        raise EvaluationError(f"{what} {path} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise EvaluationError(
            f"{what} {path} must hold a JSON object. Received: {type(data).__name__}"
        )
    return data
