"""Turns the output of LiteRT's `benchmark_model` into latency.json, per cascade exit.

    python tflite/benchmark_parse.py --manifest OUT/manifest.json --logs LOGS \
        --device "Pixel 7" --threads 4 --output latency.json

LOGS holds one log per run of the tool (tflite/benchmark_android.sh writes them):
`stage_<k>.log` for `--graph=cascade.tflite --signature_to_run_for=stage_<k>` (every
k, required) and `exit_<k>.log` for `--graph=exit_<k>.tflite` (optional). The tool times
one signature at a time, so the cost of answering at exit k, `path_ms`, is the sum of
the stage medians 0..k (the phone's host-side overhead is not in it); `truncated_ms` is
the median of exit_k.tflite when it was measured. Times are the medians of the tool's
timed runs (`median=` in the per-run statistics line), or, for builds that print no
percentiles, their mean (`Inference (avg)`); the file says which. Standard library only,
so it runs without the project's environment.
"""

import argparse
import dataclasses
import json
import math
import re
import sys
from pathlib import Path

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_SUMMARY = re.compile(
    rf"Inference timings in us: Init: (?P<init>{NUMBER}), First inference: (?P<first>{NUMBER}), "
    rf"Warmup \(avg\): (?P<warmup>{NUMBER}), Inference \(avg\): (?P<avg>{NUMBER})")
# Builds from before 2020 print "Average inference timings in us: Warmup: W, Init: I,
# Inference: X" (or "no stats: X").
_LEGACY_SUMMARY = re.compile(
    rf"Average inference timings in us: Warmup: (?P<warmup>{NUMBER}), Init: (?P<init>{NUMBER}), "
    rf"(?:Inference|no stats): (?P<avg>{NUMBER})")
# A per-run statistics line, possibly behind a log prefix ("INFO: ", logcat's "I tflite  : ").
_STATS = re.compile(rf"(?:^|[\s:])count=(?P<count>\d+)(?P<rest>(?:\s+\w+={NUMBER})*)\s*$")
_PAIR = re.compile(rf"(\w+)=({NUMBER})")
_SECTION = re.compile(r"Running benchmark for at least")
_SIGNATURE = re.compile(r"Signature to run(?: for)?: \[(?P<sig>[^\]]*)\]")


class BenchmarkParseError(ValueError):
    """Output that is not a finished benchmark_model run; the message says what is missing."""


@dataclasses.dataclass(frozen=True)
class RunStats:
    """One `count=N first=.. curr=.. min=.. max=.. avg=.. std=.. [p5= median= p95=]` line (us)."""

    count: int
    values: dict

    def get(self, key):
        return self.values.get(key)


@dataclasses.dataclass(frozen=True)
class BenchmarkRun:
    """What one benchmark_model run printed; times in microseconds."""

    init_us: float
    inference_avg_us: float
    warmup_avg_us: float
    first_us: float | None
    warmup: RunStats | None
    runs: RunStats | None
    signature: str | None

    def median_ms(self):
        """(median or mean of the timed runs in ms, which statistic it is)."""
        if self.runs is not None and self.runs.get("median") is not None:
            return self.runs.get("median") / 1e3, "median"
        return self.inference_avg_us / 1e3, "avg"

    def p95_ms(self):
        p95 = self.runs.get("p95") if self.runs is not None else None
        return None if p95 is None else p95 / 1e3


def _stats(line):
    m = _STATS.search(line)
    if m is None or "Timings (microseconds)" in line or "Memory (bytes)" in line:
        return None  # op-profiling summaries use the same key=value form
    values = {k: float(v) for k, v in _PAIR.findall(m.group("rest"))}
    return RunStats(int(m.group("count")), values)


def parse(text):
    """Parses one run's output (stdout and stderr together); BenchmarkParseError if unfinished."""
    sections, stats, summary, legacy, signature = 0, {}, None, None, None
    for line in text.splitlines():
        if summary is None and legacy is None:
            if _SECTION.search(line):
                sections += 1
                continue
            s = _stats(line)
            if s is not None:
                stats[max(sections, 1)] = s  # the last stats line of each section counts
                continue
        m = _SIGNATURE.search(line)
        if m:
            signature = m.group("sig") or None
        summary = summary or _SUMMARY.search(line)
        legacy = legacy or _LEGACY_SUMMARY.search(line)
    if summary is None and legacy is None:
        tail = "\n".join(text.strip().splitlines()[-5:])
        raise BenchmarkParseError("no 'Inference timings in us' line: the run did not finish "
                                  f"(wrong flag, missing file, unsupported op?). Last lines:\n{tail}")
    found = summary or legacy
    warmup = stats.get(1) if len(stats) > 1 else None
    runs = stats.get(max(stats)) if stats else None
    return BenchmarkRun(
        init_us=float(found.group("init")), inference_avg_us=float(found.group("avg")),
        warmup_avg_us=float(found.group("warmup")),
        first_us=float(summary.group("first")) if summary else None,
        warmup=warmup, runs=runs, signature=signature)


def latency_json(manifest, stages, exits=None, device=None, threads=None, accelerator="cpu"):
    """latency.json content from parsed stage runs (and exit_k runs when given)."""
    k = manifest["num_exits"]
    if len(stages) != k:
        raise BenchmarkParseError(f"{len(stages)} stage runs for a model with {k} exits")
    statistics = set()
    rows, path = [], 0.0
    for i, run in enumerate(stages):
        stage_ms, stat = run.median_ms()
        statistics.add(stat)
        if not (math.isfinite(stage_ms) and stage_ms > 0):
            raise BenchmarkParseError(f"stage_{i}: the tool reported {stage_ms} ms")
        path += stage_ms
        row = {"exit": i, "stage_ms": stage_ms, "stage_p95_ms": run.p95_ms(), "path_ms": path,
               "path_p95_ms": None, "truncated_ms": None, "truncated_p95_ms": None,
               "cumulative_flops": manifest["exits"][i]["cumulative_flops"]}
        if exits and exits[i] is not None:
            row["truncated_ms"], stat = exits[i].median_ms()
            statistics.add(stat)
            row["truncated_p95_ms"] = exits[i].p95_ms()
        rows.append(row)
    return {
        "device": device, "threads": threads, "mode": manifest["mode"],
        "model": manifest.get("model"), "accelerator": accelerator,
        "reps": stages[0].runs.count if stages[0].runs else None,
        "statistic": "median" if statistics == {"median"} else
        "avg (this benchmark_model prints no median)",
        "path_method": "sum of the stage times 0..k (benchmark_model times one signature)",
        "source": "benchmark_model via tflite/benchmark_android.sh",
        "exits": rows,
    }


def read_logs(logs, num_exits):
    """(stage runs, exit runs or None each) from a directory of stage_<k>.log / exit_<k>.log."""
    logs = Path(logs)
    stages, exits = [], []
    for i in range(num_exits):
        path = logs / f"stage_{i}.log"
        if not path.is_file():
            raise BenchmarkParseError(f"{path} is missing: run benchmark_model on every stage")
        try:
            stages.append(parse(path.read_text(errors="replace")))
        except BenchmarkParseError as e:
            raise BenchmarkParseError(f"{path}: {e}") from None
        exit_log = logs / f"exit_{i}.log"
        exits.append(parse(exit_log.read_text(errors="replace")) if exit_log.is_file() else None)
    return stages, exits


def main(argv=None):
    p = argparse.ArgumentParser(prog="tflite/benchmark_parse.py",
                                description=__doc__.strip().splitlines()[0])
    p.add_argument("--manifest", required=True, help="the model's manifest.json")
    p.add_argument("--logs", required=True, help="directory of stage_<k>.log / exit_<k>.log")
    p.add_argument("--device", help="e.g. the phone's model name")
    p.add_argument("--threads", type=int)
    p.add_argument("--accelerator", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--output", required=True, help="latency.json to write")
    args = p.parse_args(argv)
    try:
        manifest = json.loads(Path(args.manifest).read_text())
        stages, exits = read_logs(args.logs, manifest["num_exits"])
        data = latency_json(manifest, stages, exits, args.device, args.threads, args.accelerator)
    except (OSError, KeyError, json.JSONDecodeError, BenchmarkParseError) as e:
        print(f"tflite/benchmark_parse.py: error: {e}", file=sys.stderr)
        return 2
    Path(args.output).write_text(json.dumps(data, indent=1) + "\n")
    for row in data["exits"]:
        trunc = "" if row["truncated_ms"] is None else f"  exit_{row['exit']}.tflite " \
                                                        f"{row['truncated_ms']:.3f} ms"
        print(f"exit_{row['exit']}: stage {row['stage_ms']:.3f} ms, path {row['path_ms']:.3f} ms"
              f"{trunc}")
    print(f"wrote {args.output} ({data['statistic']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
