"""Converts a trained MSDNet run into what a phone runs: TFLite files, manifest, fidelity.

    python tflite/convert.py --workdir runs/quickstart --mode int8 --output out/int8
    python tflite/convert.py --workdir runs/quickstart --mode float --mode int8 --output out
    python tflite/convert.py --workdir runs/quickstart --mode all --output out --in-graph-exit
    python tflite/convert.py --workdir runs/quickstart --mode int8 --int8-io --output out/int8io

One mode writes into OUT itself; several modes (or `all`) write OUT/<mode>/ each.
Every folder holds exit_{k}.tflite, cascade.tflite, manifest.json, fidelity.json
(and early_exit.tflite with --in-graph-exit, thresholds.json and budgeted.json
when the run has them, int8_layers.json with --diagnose-int8); see
docs/deployment-format.md. A resolution-switchable run (model.resolutions) also
gets exit_{k}_r<R>.tflite, cascade_r<R>.tflite and fidelity_r<R>.json for every
other side R, each with R's BatchNorm folded in, listed in one manifest.json. Without --mode, export.mode of the config.
Exit code 1 when a mode misses its quality bar with --strict, or when any file
gives non-finite outputs or float files differ from Keras (always).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msdnet_tf import cli  # noqa: E402

MODES = ("float", "dynamic", "float16", "int8", "qat")


def build_parser():
    p = cli.parser("tflite/convert.py", __doc__.strip().splitlines()[0])
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "examples:\n" + "\n".join(
        line for line in __doc__.splitlines() if line.startswith("    python"))
    p.add_argument("--workdir", required=True, metavar="DIR",
                   help="a finished training run (config.yaml + model.keras)")
    p.add_argument("--output", required=True, metavar="OUT", help="output folder")
    p.add_argument("--mode", action="append", choices=MODES + ("all",), metavar="MODE",
                   help=f"{', '.join(MODES)} or all; repeatable (default: export.mode)")
    p.add_argument("--int8-io", action=argparse.BooleanOptionalAction, default=None,
                   help="int8 image input and logits in the exit files of the integer modes "
                        "(default: export.int8_io); the cascade keeps float32 interfaces")
    p.add_argument("--in-graph-exit", action="store_true",
                   help="also write early_exit.tflite (TFLite IF ops, thresholds as an input)")
    p.add_argument("--diagnose-int8", action="store_true",
                   help="with --mode int8: also write int8_layers.json, the ops that lose "
                        "most per exit (TFLite QuantizationDebugger)")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 when a mode misses its quality bar")
    cli.add_config_args(p)
    return p


def _modes(args, cfg):
    modes = args.mode or [cfg.export.mode]
    if "all" in modes:
        return list(MODES)
    return list(dict.fromkeys(modes))


def _summary(report):
    lines = ["      exit  max|diff|  agree%  keras%  tflite%  (exit files | cascade)"]
    for e, c in zip(report["exits"], report["cascade"]):
        lines.append(f"      {e['exit']:>4}  {e['max_abs_diff'] or float('nan'):9.2e}  "
                     f"{e['top1_agreement']:6.2f}  {e['keras_top1']:6.2f}  "
                     f"{e['tflite_top1']:7.2f}  | {c['max_abs_diff'] or float('nan'):9.2e}  "
                     f"{c['top1_agreement']:6.2f}  {c['tflite_top1']:6.2f}")
    left = {name: d["not_delegated"] for name, d in report["xnnpack"].items()
            if not d["xnnpack_fully_delegated"]}
    lines.append("      XNNPACK: " + ("every file fully delegated" if not left else
                                      f"not fully delegated: {left}"))
    bar = report["bar"]
    lines.append("      quality bar: " + ("passed" if bar["passed"] else
                                          "MISSED - " + "; ".join(bar["failures"])))
    return "\n".join(lines)


def _print_worst(report):
    for name, layers in report["exits"].items():
        worst = ", ".join(f"{e['layer']} {e['rmse_over_scale']:.2f}" for e in layers[:3])
        print(f"      {name} worst int8 ops (rmse/scale): {worst}")


def _fatal(mode, report):
    """Non-finite outputs, or float files that differ from Keras: the files are wrong."""
    entries = report["exits"] + report["cascade"]
    float_mismatch = mode == "float" and not report["bar"]["passed"]
    return any(not e["finite"] for e in entries) or float_mismatch


@cli.main_wrapper
def main(argv=None):
    args = build_parser().parse_args(argv)
    cli.quiet_tensorflow()
    from msdnet_tf import workdir

    workdir.check_output_dir(args.output, "--output")  # before the work, not after it
    from msdnet_tf.export.pipeline import load_for_export
    from msdnet_tf.export.resolutions import make_exporter, summary_rows

    start = time.time()
    print(f"loading {args.workdir}", flush=True)
    cfg, model = load_for_export(args.workdir, args.config, args.override)
    modes = _modes(args, cfg)
    exporter = make_exporter(args.workdir, cfg, model, progress=lambda m: print(m, flush=True))
    output, failed = Path(args.output), []
    for mode in modes:
        out = output if len(modes) == 1 else output / mode
        print(f"[{mode}] -> {out}", flush=True)
        report = exporter.export(mode, out, int8_io=args.int8_io,
                                 in_graph_exit=args.in_graph_exit)
        for side, rep in summary_rows(report):
            if side is not None:
                print(f"    {side}x{side}:")
            print(_summary(rep), flush=True)
            if _fatal(mode, rep) or (args.strict and not rep["bar"]["passed"]):
                failed.append(mode if side is None else f"{mode} ({side}x{side})")
        if args.diagnose_int8 and mode == "int8":
            _print_worst(exporter.diagnose_int8(out))
    print(f"done in {time.time() - start:.0f} s: {', '.join(modes)} in {output}")
    if failed:
        print(f"{Path(sys.argv[0]).name}: error: {', '.join(failed)} failed the checks "
              "(see fidelity.json)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
