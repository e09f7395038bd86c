"""thresholds.json: round trip and validation."""

import json
import math

import pytest

from msdnet_tf.evaluation import EvaluationError, load_thresholds, save_thresholds


def test_round_trip_with_infinities(tmp_path):
    path = save_thresholds(tmp_path / "thresholds.json", [0.9, math.inf, 0.5, -math.inf],
                           budget={"metric": "flops", "requested": 5e7}, model="abc")
    raw = json.loads(path.read_text())
    assert raw["thresholds"] == [0.9, "inf", 0.5, "-inf"]
    assert raw["num_exits"] == 4 and raw["criterion"] == "max_softmax" and raw["model"] == "abc"
    t = load_thresholds(path, num_exits=4, model="abc")
    assert t.thresholds == (0.9, math.inf, 0.5, -math.inf)
    assert t.budget == {"metric": "flops", "requested": 5e7}


def test_model_check(tmp_path):
    path = save_thresholds(tmp_path / "t.json", [0.5, -math.inf], model="abc")
    with pytest.raises(EvaluationError, match=r"was made for model 'abc', not 'xyz'"):
        load_thresholds(path, model="xyz")
    unnamed = save_thresholds(tmp_path / "u.json", [0.5, -math.inf])
    assert load_thresholds(unnamed, model="xyz").model is None


def test_wrong_number_of_exits(tmp_path):
    path = save_thresholds(tmp_path / "t.json", [0.5, 0.6, -math.inf])
    with pytest.raises(EvaluationError, match="holds thresholds for 3 exits but the model has 5"):
        load_thresholds(path, num_exits=5)


def _write(tmp_path, **changes):
    data = {"exits": 3, "thresholds": [0.7, "inf", "-inf"], "criterion": "max_softmax",
            "budget": None, "model": None}
    data.update(changes)
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("changes, message", [
    (dict(exits=4), "'thresholds' must be a list of 4 values"),
    (dict(exits="3"), "'exits' must be a positive integer"),
    (dict(thresholds=[0.7, "high", "-inf"]), "threshold of exit_1 must be a probability"),
    (dict(thresholds=[1.5, "inf", "-inf"]), "threshold of exit_0 must be a probability"),
    (dict(thresholds=[True, "inf", "-inf"]), "threshold of exit_0"),
    (dict(thresholds=["-inf", "inf", "-inf"]), "threshold of exit_0"),
    (dict(thresholds=[0.7, 0.5, 0.2]), "the last exit \\(exit_2\\) must be \"-inf\""),
    (dict(criterion="entropy"), "criterion must be 'max_softmax'"),
    (dict(model=3), "'model' must be a string or null"),
    (dict(budget=[1]), "'budget' must be an object or null"),
])
def test_malformed_files(tmp_path, changes, message):
    path = _write(tmp_path, **changes)
    with pytest.raises(EvaluationError, match=message) as e:
        load_thresholds(path)
    assert str(e.value).startswith(f"thresholds file {path}: ")


def test_missing_keys_and_bad_json(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"exits": 2}))
    with pytest.raises(EvaluationError, match="missing thresholds, criterion"):
        load_thresholds(path)
    path.write_text('{"exits": 2, "thresholds": [NaN, "-inf"], "criterion": "max_softmax"}')
    with pytest.raises(EvaluationError, match=f"thresholds file {path} is not valid JSON"):
        load_thresholds(path)
    path.write_text("[1, 2]")
    with pytest.raises(EvaluationError, match="must hold a JSON object"):
        load_thresholds(path)
    with pytest.raises(EvaluationError, match="does not exist"):
        load_thresholds(tmp_path / "none.json")


def test_save_refuses_invalid(tmp_path):
    with pytest.raises(EvaluationError, match="must be \"-inf\""):
        save_thresholds(tmp_path / "t.json", [0.5, 0.4])
    with pytest.raises(ValueError, match="NaN"):
        save_thresholds(tmp_path / "t.json", [math.nan, -math.inf])


def test_reads_files_that_call_the_count_exits(tmp_path):
    t = load_thresholds(_write(tmp_path), num_exits=3)
    assert t.num_exits == 3
    with pytest.raises(EvaluationError, match="'thresholds' must be a list of 4 values"):
        load_thresholds(_write(tmp_path, exits=4))
