"""tflite/benchmark_parse.py on real benchmark_model output, quoted from where it was published.

Each sample names its source. They span the tool's output formats: with and without the
`INFO: ` log prefix, with the p5/median/p95 percentiles (newer builds) and without
(older builds), with op profiling tables after the summary, the CPU and the GPU delegate
on phones over adb, and the pre-2020 "Average inference timings" summary.
"""

import importlib.util
import json

import pytest

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("benchmark_parse",
                                               REPO / "tflite" / "benchmark_parse.py")
bp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bp)

# Texas Instruments Processor SDK documentation, "TensorFlow Lite (LiteRT)", section "How to
# run benchmark using XNNPACK delegate" (TensorFlow Lite 2.20 benchmark_model on an AM62x):
# https://github.com/TexasInstruments/processor-sdk-doc/blob/HEAD/source/linux/Foundational_Components/Machine_Learning/tflite.rst
TI_XNNPACK = """\
INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Graph: [/usr/share/oob-demo-assets/models/ssd_mobilenet_v2_coco.tflite]
INFO: Signature to run: []
INFO: Use xnnpack: [1]
INFO: Loaded model /usr/share/oob-demo-assets/models/ssd_mobilenet_v2_coco.tflite
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
INFO: XNNPACK delegate created.
INFO: Explicitly applied XNNPACK delegate, and the model graph will be partially executed by the delegate w/ 1 delegate kernels.
INFO: The input model file size (MB): 67.3128
INFO: Initialized session in 614.333ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=1 curr=905463 p5=905463 median=905463 p95=905463
INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=900416 curr=898333 min=898007 max=906121 avg=899641 std=1549 p5=898333 median=899281 p95=904305
INFO: Inference timings in us: Init: 614333, First inference: 905463, Warmup (avg): 905463, Inference (avg): 899641
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=146.363 overall=150.141
"""

# Same page, section "How to run benchmark using CPU delegate" (XNNPACK off), the lines
# from the first "Running benchmark" on: the mean of the timed runs in scientific notation.
TI_CPU = """\
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=1 curr=1357602 p5=1357602 median=1357602 p95=1357602

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=1249964 curr=1240143 min=1238588 max=1252566 avg=1.24027e+06 std=2565 p5=1238753 median=1239807 p95=1247415

INFO: Inference timings in us: Init: 5579, First inference: 1357602, Warmup (avg): 1.3576e+06, Inference (avg): 1.24027e+06
"""

# A phone, GPU delegate, over adb: tensorflow/tensorflow issue #43541 "NNAPI Delegate BUG",
# comment by yizhaoyanbo (android_arm_benchmark_model --use_gpu=true):
# https://github.com/tensorflow/tensorflow/issues/43541
PHONE_GPU = """\
STARTING!
Log parameter values verbosely: [0]
Min num runs: [50]
Num threads: [4]
Min warmup runs: [1]
Graph: [/data/local/tmp/tflite/denoising_32bit.tflite]
Enable op profiling: [1]
#threads used for CPU inference: [4]
Use gpu: [1]
Loaded model /data/local/tmp/tflite/denoising_32bit.tflite
INFO: Initialized TensorFlow Lite runtime.
INFO: Created TensorFlow Lite delegate for GPU.
INFO: Initialized OpenCL-based API.
INFO: Created 1 GPU delegate kernels.
Explicitly applied GPU delegate, and the model graph will be completely executed by the delegate.
The input model file size (MB): 7.07479
Initialized session in 870.557ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=4 first=130565 curr=120829 min=117370 max=130565 avg=122373 std=4930

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=119212 curr=118055 min=113737 max=124776 avg=119375 std=1948

Inference timings in us: Init: 870557, First inference: 130565, Warmup (avg): 122373, Inference (avg): 119375
"""

# A phone, CPU, over adb, with op profiling: tensorflow/tensorflow issue #42507 "Timing
# discrepancy between tflite benchmark tool and android" (first post, by anidh):
# https://github.com/tensorflow/tensorflow/issues/42507
PHONE_CPU_PROFILING = """\
STARTING!
Duplicate flags: num_threads
Log parameter values verbosely: [0]
Num threads: [4]
Graph: [/data/local/tmp/espcn_harmonic_2x_slim_w_cl.tflite]
Enable op profiling: [1]
#threads used for CPU inference: [4]
Loaded model /data/local/tmp/espcn_harmonic_2x_slim_w_cl.tflite
The input model file size (MB): 0.004448
Initialized session in 0.855ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=15 first=49060 curr=33682 min=32825 max=49060 avg=34825.1 std=3930

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=32891 curr=33978 min=32641 max=34005 avg=33209.4 std=450

Inference timings in us: Init: 855, First inference: 49060, Warmup (avg): 34825.1, Inference (avg): 33209.4
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Peak memory footprint (MB): init=0 overall=12.8672
Profiling Info for Benchmark Initialization:
============================== Run Order ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
"""

# Op profiling, whose per-op summaries repeat the `count=` form after the run: the
# meta-tensorflow-lite documentation, doc/tensorflow-lite-benchmark.md (benchmark_model on
# qemuriscv64, mobilenet_v1_1.0_224, --enable_op_profiling=true), abridged to the lines
# around the timings:
# https://github.com/NobuoTsukamoto/meta-tensorflow-lite/blob/HEAD/doc/tensorflow-lite-benchmark.md
RISCV_PROFILING = """\
Initialized session in 17.187ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=1 curr=3512391

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=2990275 curr=2913402 min=2727568 max=3189954 avg=2.95034e+06 std=109798

Inference timings in us: Init: 17187, First inference: 3512391, Warmup (avg): 3.51239e+06, Inference (avg): 2.95034e+06
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Memory footprint delta from the start of the tool (MB): init=4.21094 overall=46.0859
Profiling Info for Benchmark Initialization:
Timings (microseconds): count=1 curr=1356
Memory (bytes): count=0
1 nodes observed

Operator-wise Profiling Info for Regular Benchmark Runs:
Timings (microseconds): count=50 first=2989660 curr=2912978 min=2727203 max=3189476 avg=2.9499e+06 std=109770
Memory (bytes): count=0
31 nodes observed
"""

# The pre-2020 summary line ("no stats"), on a phone over adb: yuenshome/yuenshome.github.io
# issue #77 "tflite benchmark" (a log of benchmark runs by ysh329):
# https://github.com/yuenshome/yuenshome.github.io/issues/77
LEGACY_NO_STATS = """\
Loaded model /data/local/tmp/tflite/tfmodel/mobilenet_v1_1.0_224_quant.tflite
resolved reporter
Initialized session in 9.933ms
Running benchmark for at least 4 iterations and at least 0.5 seconds
count=7 first=127425 curr=66709 min=66709 max=127425 avg=76605.9 std=20944

Running benchmark for at least 10 iterations and at least 1 seconds
count=15 first=66753 curr=66800 min=66699 max=66838 avg=66767.6 std=39

Average inference timings in us: Warmup: 76605.9, Init: 9933, no stats: 66767.6
"""

# The op-profiling example of the official tool documentation, which shows only the
# profiler's summary and the legacy summary line: google-ai-edge/LiteRT,
# tflite/tools/benchmark/README.md, "Profiling model operators":
# https://github.com/google-ai-edge/LiteRT/blob/HEAD/tflite/tools/benchmark/README.md
LITERT_README_PROFILING = """\
Number of nodes executed: 31
Timings (microseconds): count=50 first=79449 curr=81350 min=77385 max=88213 avg=79732 std=1929
Memory (bytes): count=0
31 nodes observed


Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9
"""

# A run that failed (no summary), e.g. a signature the model does not have.
FAILED = """\
INFO: STARTING!
INFO: Graph: [/data/local/tmp/cascade.tflite]
ERROR: Signature stage_9 not found in the model.
"""


def test_reads_percentiles_and_summary_of_newer_builds():
    run = bp.parse(TI_XNNPACK)
    assert run.init_us == 614333 and run.first_us == 905463
    assert run.inference_avg_us == 899641 and run.warmup_avg_us == 905463
    assert run.warmup.count == 1 and run.warmup.get("median") == 905463
    assert run.runs.count == 50
    assert run.runs.get("median") == 899281 and run.runs.get("p95") == 904305
    assert run.median_ms() == (899.281, "median")
    assert run.p95_ms() == 904.305
    assert run.signature is None  # "Signature to run: []"


def test_reads_scientific_notation():
    run = bp.parse(TI_CPU)
    assert run.inference_avg_us == 1.24027e6 and run.warmup_avg_us == 1.3576e6
    assert run.runs.get("avg") == 1.24027e6
    assert run.median_ms() == (1239.807, "median")


@pytest.mark.parametrize("text, runs, avg_ms, warmup_count", [
    (PHONE_GPU, 50, 119.375, 4),
    (PHONE_CPU_PROFILING, 50, 33.2094, 15),
    (RISCV_PROFILING, 50, 2950.34, 1),
])
def test_falls_back_to_the_mean_without_percentiles(text, runs, avg_ms, warmup_count):
    run = bp.parse(text)
    assert run.runs.count == runs
    assert run.warmup.count == warmup_count
    ms, stat = run.median_ms()
    assert stat == "avg" and ms == pytest.approx(avg_ms)
    assert run.p95_ms() is None


def test_op_profiling_summaries_are_not_run_statistics():
    run = bp.parse(RISCV_PROFILING)
    assert run.runs.get("first") == 2990275  # the tool's line, not the profiler's 2989660
    run = bp.parse(LITERT_README_PROFILING)
    assert run.runs is None and run.warmup is None
    assert run.inference_avg_us == 79760.9 and run.init_us == 38467 and run.first_us is None


def test_reads_the_legacy_summary():
    run = bp.parse(LEGACY_NO_STATS)
    assert run.inference_avg_us == 66767.6 and run.warmup_avg_us == 76605.9
    assert run.runs.count == 15 and run.warmup.count == 7


def test_logcat_prefix():
    # The benchmark APK logs through logcat: "<date> <pid> <tid> I tflite  : <message>".
    lines = [f"05-31 10:31:13.023 21767 21767 I tflite  : {line[6:]}"
             for line in TI_XNNPACK.splitlines()]
    run = bp.parse("\n".join(lines))
    assert run.runs.get("median") == 899281 and run.init_us == 614333


def test_unfinished_runs_are_an_error_that_shows_the_output():
    with pytest.raises(bp.BenchmarkParseError, match="Signature stage_9 not found"):
        bp.parse(FAILED)


MANIFEST = {"num_exits": 3, "mode": "int8", "model": "0a4a3adc6e479ff7",
            "exits": [{"exit": k, "cumulative_flops": f} for k, f in
                      enumerate([1e6, 2.5e6, 4e6])]}


def test_latency_json_sums_stage_medians_into_paths(tmp_path):
    for k, text in enumerate([TI_XNNPACK, TI_CPU, TI_XNNPACK]):
        (tmp_path / f"stage_{k}.log").write_text(text)
    (tmp_path / "exit_1.log").write_text(TI_CPU)
    stages, exits = bp.read_logs(tmp_path, 3)
    data = bp.latency_json(MANIFEST, stages, exits, device="AM62x", threads=4)
    assert data["statistic"] == "median" and data["reps"] == 50 and data["mode"] == "int8"
    paths = [e["path_ms"] for e in data["exits"]]
    assert paths == pytest.approx([899.281, 899.281 + 1239.807, 2 * 899.281 + 1239.807])
    assert data["exits"][1]["truncated_ms"] == 1239.807
    assert data["exits"][0]["truncated_ms"] is None
    assert data["exits"][2]["stage_p95_ms"] == 904.305
    assert data["exits"][2]["cumulative_flops"] == 4e6


def test_cli_writes_what_evaluate_reads(tmp_path):
    from msdnet_tf.evaluation import load_latency

    logs = tmp_path / "logs"
    logs.mkdir()
    for k, text in enumerate([PHONE_CPU_PROFILING, PHONE_GPU, LEGACY_NO_STATS]):
        (logs / f"stage_{k}.log").write_text(text)
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    out = tmp_path / "latency.json"
    assert bp.main(["--manifest", str(tmp_path / "manifest.json"), "--logs", str(logs),
                    "--device", "phone", "--threads", "4", "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["statistic"].startswith("avg")
    profile = load_latency(out, num_exits=3)
    assert profile.path_ms == pytest.approx((33.2094, 33.2094 + 119.375,
                                             33.2094 + 119.375 + 66.7676))


def test_cli_names_the_missing_log(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    (tmp_path / "stage_0.log").write_text(TI_CPU)
    assert bp.main(["--manifest", str(tmp_path / "manifest.json"), "--logs", str(tmp_path),
                    "--output", str(tmp_path / "l.json")]) == 2
    assert "stage_1.log is missing" in capsys.readouterr().err
