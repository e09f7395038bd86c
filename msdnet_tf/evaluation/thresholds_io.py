"""thresholds.json: the chosen cascade thresholds, read by deployment code.

    {"num_exits": K, "thresholds": [T_0, ..., T_{K-1}], "criterion": "max_softmax",
     "budget": {...what was asked and achieved...}, "model": "<name or hash>" | null}

Files written before this key was named `num_exits` call it `exits`; both are read.
A resolution-switchable model's file also names the input side the thresholds
belong to, `"resolution": R` (absent: the model's only, or largest, side).

A sample leaves at the first exit k whose max softmax probability is >= T_k.
"inf" (nobody leaves there) and "-inf" (the last exit, which takes everyone)
are written as JSON strings. The module itself uses only the standard library.
"""

import dataclasses
import math

from msdnet_tf.evaluation.common import (
    EvaluationError, decode_float, encode_float, read_json, write_json,
)

CRITERION = "max_softmax"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """A validated thresholds.json; `thresholds[k]` belongs to exit_k."""

    thresholds: tuple
    criterion: str = CRITERION
    budget: dict | None = None
    model: str | None = None
    resolution: int | None = None

    @property
    def num_exits(self):
        return len(self.thresholds)


def save_thresholds(path, thresholds, budget=None, model=None, resolution=None):
    """Writes thresholds.json (checked like `load_thresholds`); returns the path."""
    data = {
        "num_exits": len(thresholds),
        "thresholds": [encode_float(t) for t in thresholds],
        "criterion": CRITERION,
        "budget": budget,
        "model": model,
    }
    if resolution is not None:
        data["resolution"] = int(resolution)
    _validate(data, path)
    return write_json(path, data)


def _fail(path, problem):
    raise EvaluationError(f"thresholds file {path}: {problem}")


def _validate(data, path):
    if not isinstance(data, dict):
        _fail(path, f"must be a JSON object. Received: {type(data).__name__}")
    count_key = "num_exits" if "num_exits" in data or "exits" not in data else "exits"
    missing = [k for k in (count_key, "thresholds", "criterion") if k not in data]
    if missing:
        _fail(path, f"missing {', '.join(missing)}")
    exits = data[count_key]
    if isinstance(exits, bool) or not isinstance(exits, int) or exits < 1:
        _fail(path, f"'{count_key}' must be a positive integer. Received: {exits!r}")
    raw = data["thresholds"]
    if not isinstance(raw, list) or len(raw) != exits:
        _fail(path, f"'thresholds' must be a list of {exits} values (one per exit). "
                    f"Received: {raw!r}")
    values = []
    for k, value in enumerate(raw):
        t = decode_float(value)
        if t is None or math.isnan(t) or (math.isfinite(t) and not 0.0 <= t <= 1.0) or (
                t == -math.inf and k != exits - 1):
            _fail(path, f"threshold of exit_{k} must be a probability in [0, 1] or \"inf\""
                        f" (\"-inf\" only at the last exit). Received: {value!r}")
        values.append(t)
    if values[-1] != -math.inf:
        _fail(path, f"the threshold of the last exit (exit_{exits - 1}) must be \"-inf\" so "
                    f"that every sample leaves somewhere. Received: {raw[-1]!r}")
    if data["criterion"] != CRITERION:
        _fail(path, f"criterion must be {CRITERION!r}. Received: {data['criterion']!r}")
    budget, model = data.get("budget"), data.get("model")
    if budget is not None and not isinstance(budget, dict):
        _fail(path, f"'budget' must be an object or null. Received: {budget!r}")
    if model is not None and not isinstance(model, str):
        _fail(path, f"'model' must be a string or null. Received: {model!r}")
    resolution = data.get("resolution")
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int)
                                   or resolution < 1):
        _fail(path, f"'resolution' must be a positive integer or absent. Received: {resolution!r}")
    return Thresholds(thresholds=tuple(values), criterion=CRITERION, budget=budget, model=model,
                      resolution=resolution)


def load_thresholds(path, num_exits=None, model=None):
    """Reads and validates thresholds.json.

    num_exits: when given, the file must hold exactly that many thresholds.
    model: when given and the file names a model, the two must be equal (a
        file that names no model cannot be checked and is accepted).
    Raises EvaluationError naming the file and the problem.
    """
    data = read_json(path, "thresholds file")
    result = _validate(data, path)
    if num_exits is not None and result.num_exits != num_exits:
        _fail(path, f"holds thresholds for {result.num_exits} exits but the model has "
                    f"{num_exits}")
    if model is not None and result.model is not None and result.model != model:
        _fail(path, f"was made for model {result.model!r}, not {model!r}")
    return result
