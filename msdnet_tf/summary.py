"""Per-exit FLOPs and parameters of a model configuration (any family).

    python -m msdnet_tf.summary --config configs/cifar100_anytime.yaml [--json]
    python -m msdnet_tf.summary --config configs/quickstart_switchable.yaml

A resolution-switchable configuration is counted at every (resolution, exit), each side
as the plain model that serves it; --json then adds `resolutions` and `switchable_params`.
"""

import json
import math

from msdnet_tf import cli
from msdnet_tf import data as data_lib


def table(counts, model):
    rows = [f"{'exit':>4} {'depth':>5} {'FLOPs':>14} {'cum. FLOPs':>14} {'params':>11} "
            f"{'cum. params':>12}"]
    for k in range(model.num_exits):
        depth = model.exit_depth(k)
        rows.append(f"{k:>4} {depth:>5} {counts.stage_flops[k]:>14,} "
                    f"{counts.exit_cumulative_flops[k]:>14,} {counts.stage_params[k]:>11,} "
                    f"{counts.exit_cumulative_params[k]:>12,}")
    rows.append(f"total: {counts.trainable_params:,} trainable parameters, "
                f"{counts.exit_cumulative_flops[-1] / 1e6:.2f}M FLOPs (multiply-adds) "
                "through the last exit")
    return "\n".join(rows)


@cli.main_wrapper
def main(argv=None):
    parser = cli.parser("msdnet_tf.summary", __doc__.strip().splitlines()[0])
    cli.add_config_args(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    cfg = cli.config_from_args(args)
    cli.quiet_tensorflow()
    data_lib.resolve_num_classes(cfg)  # model.num_classes 0: the classes found in the data
    from msdnet_tf import config as config_lib, flops

    model = config_lib.build_model(cfg)
    counts = flops.count(model)
    sides = {r: flops.count(model, r) for r in model.resolutions[1:]}
    if args.json:
        out = counts.as_dict()
        if sides:
            out["resolutions"] = [{"resolution": r, **c.as_dict()}
                                  for r, c in {model.image_size: counts, **sides}.items()]
            out["switchable_params"] = sum(math.prod(w.shape) for w in model.trainable_weights)
        print(json.dumps(out))
        return
    if sides:
        print(f"at {model.image_size}x{model.image_size}:")
    print(table(counts, model))
    for r, c in sides.items():
        print(f"\nat {r}x{r}:")
        print(table(c, model))
    if sides:
        total = sum(math.prod(w.shape) for w in model.trainable_weights)
        print(f"\nthe switchable model trains {total:,} parameters (shared convolutions and "
              f"Dense layers, one BatchNorm per resolution)")


if __name__ == "__main__":
    main()
