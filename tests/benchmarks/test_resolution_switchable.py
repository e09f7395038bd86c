"""benchmarks/resolution_switchable.py: statistics over several trainings, the goal check and
its input errors, on hand-made results.json files."""

import json

import pytest

from benchmarks import resolution_switchable as rs

FLOPS = {32: [3e6, 7e6], 16: [1e6, 2e6]}


def _switch(acc32, acc16):
    return {"resolutions": [
        {"resolution": 32, "test_top1": acc32, "exit_cumulative_flops": FLOPS[32]},
        {"resolution": 16, "test_top1": acc16, "exit_cumulative_flops": FLOPS[16]}],
        "epochs": 2, "best_epoch": 2, "switchable_params": 110,
        "exit_cumulative_params": [50, 100], "test_top1": acc32}


def _single(r, acc):
    return {"test_top1": acc, "exit_cumulative_flops": FLOPS[r],
            "exit_cumulative_params": [50, 100]}


def test_stats_of_several_runs_and_of_one():
    s = rs.stats([80.0, 82.0, 84.0])
    assert s["n"] == 3 and s["mean"] == pytest.approx(82.0)
    assert s["sd"] == pytest.approx(2.0)  # sample sd: sqrt((4 + 0 + 4) / 2)
    assert (s["lo"], s["hi"], s["spread"]) == (80.0, 84.0, 4.0)
    one = rs.stats([81.5])
    assert one["sd"] is None and one["spread"] == 0.0 and one["mean"] == 81.5


def test_compare_takes_means_of_both_sides_and_the_standard_error():
    switches = [_switch([80.0, 85.0], [70.0, 75.0]), _switch([82.0, 86.0], [72.0, 75.0])]
    singles = {32: [_single(32, [81.0, 86.0]), _single(32, [83.0, 86.0]),
                    _single(32, [82.0, 86.0])],
               16: [_single(16, [71.5, 74.0])]}
    pairs = {(p["resolution"], p["exit"]): p for p in rs.compare(switches, singles)}
    assert set(pairs) == {(32, 0), (32, 1), (16, 0), (16, 1)}
    p = pairs[(32, 0)]
    assert p["switchable"]["mean"] == pytest.approx(81.0)
    assert p["separate"]["mean"] == pytest.approx(82.0)
    assert p["diff"] == pytest.approx(-1.0)
    # sd 1.414 over 2 runs and sd 1.0 over 3 runs: sqrt(2/2 + 1/3)
    assert p["se"] == pytest.approx((1.0 + 1.0 / 3) ** 0.5)
    assert p["flops"] == 3e6
    # One separate run: the difference, but no standard error.
    assert pairs[(16, 0)]["diff"] == pytest.approx(-0.5) and pairs[(16, 0)]["se"] is None
    assert pairs[(16, 1)]["diff"] == pytest.approx(1.0)


def test_goal_counts_pairs_within_the_tolerance_and_names_the_missed_ones():
    switches = [_switch([80.0, 85.0], [70.0, 75.0]), _switch([82.0, 86.0], [72.0, 75.0])]
    singles = {32: [_single(32, [81.0, 86.0]), _single(32, [83.0, 86.0])],
               16: [_single(16, [71.5, 74.0]), _single(16, [71.0, 74.0])]}
    pairs = rs.compare(switches, singles)
    g = rs.goal(pairs, 0.5)
    # differences: 32/0 -1.0, 32/1 -0.5, 16/0 -0.25, 16/1 +1.0
    assert g["pairs"] == 4 and g["within"] == 3
    assert g["worst"] == pytest.approx(-1.0)
    assert g["mean_diff"] == pytest.approx((-1.0 - 0.5 - 0.25 + 1.0) / 4)
    assert [(p["resolution"], p["exit"]) for p in g["missed"]] == [(32, 0)]
    # spreads, switchable: 2, 1, 2, 0 -> median 1.5; separate: 2, 0, 0.5, 0 -> median 0.25
    assert g["switchable_spread"] == {"median": 1.5, "max": 2.0}
    assert g["separate_spread"] == {"median": 0.25, "max": 2.0}
    lines = rs.goal_lines(pairs, 0.5)
    assert lines[0].startswith("Goal (switchable within 0.5 point")
    assert "3 of 4 pairs" in lines[0] and "missed at 32x32 exit_0: -1.00 ±" in lines[1]


def test_accuracy_table_columns_follow_the_number_of_runs():
    one = [_switch([80.0, 85.0], [70.0, 75.0])]
    rows, worst = rs.accuracy_table(one, {32: [_single(32, [81.0, 84.0])],
                                          16: [_single(16, [70.0, 75.0])]})
    assert rows[0].count("|") == 7 and worst == pytest.approx(-1.0)
    assert rows[2] == "| 32x32 | exit_0 | 3.00 | 80.00 | 81.00 | -1.00 |"
    two = one + [_switch([82.0, 85.0], [70.0, 75.0])]
    rows, worst = rs.accuracy_table(two, {32: [_single(32, [81.0, 84.0]),
                                               _single(32, [83.0, 84.0])],
                                          16: [_single(16, [70.0, 75.0])]})
    assert "± SE" in rows[0] and "switchable, per run" in rows[0]
    assert rows[2] == ("| 32x32 | exit_0 | 3.00 | 81.00 ± 1.41 | 82.00 ± 1.41 | -1.00 | 1.41 "
                       "| 80.00 / 82.00 | 81.00 / 83.00 |")
    # One separate run at 16: no sd and no standard error there.
    assert rows[4] == ("| 16x16 | exit_0 | 1.00 | 70.00 ± 0.00 | 70.00 | +0.00 | - "
                       "| 70.00 / 70.00 | 70.00 |")


def _write(tmp_path, name, results):
    d = tmp_path / name
    d.mkdir()
    (d / "results.json").write_text(json.dumps(results))
    return str(d)


@pytest.mark.parametrize("case, message", [
    ("no_equals", "--single expects R=RUN"),
    ("foreign_size", "24 is not a side of the switchable model (its resolutions: 32, 16)"),
    ("not_switchable", "is not a resolution-switchable run"),
    ("other_setting", "other resolutions or per-exit FLOPs than the first"),
    ("missing", "has no results.json: train it first"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, case, message):
    sw = _write(tmp_path, "sw", _switch([80.0, 85.0], [70.0, 75.0]))
    single = _write(tmp_path, "s32", _single(32, [81.0, 84.0]))
    other = _switch([80.0, 85.0], [70.0, 75.0])
    other["resolutions"][1]["exit_cumulative_flops"] = [1e6, 3e6]
    argv = {"no_equals": ["--switchable", sw, "--single", single],
            "foreign_size": ["--switchable", sw, "--single", f"24={single}"],
            "not_switchable": ["--switchable", single],
            "other_setting": ["--switchable", sw, "--switchable",
                              _write(tmp_path, "sw2", other)],
            "missing": ["--switchable", sw, "--single", f"32={tmp_path / 'nowhere'}"]}[case]
    with pytest.raises(SystemExit) as e:
        rs.main(argv + ["--output", str(tmp_path / "out.md")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
