"""Train an MSDNet with the paper's recipe; resumes when run again on the same workdir.

    python -m msdnet_tf.train --config configs/quickstart.yaml --workdir runs/quickstart
"""

from msdnet_tf import cli


@cli.main_wrapper
def main(argv=None):
    parser = cli.parser("msdnet_tf.train", __doc__.strip().splitlines()[0])
    cli.add_config_args(parser)
    parser.add_argument("--workdir", required=True,
                        help="run directory: config, hold-out, checkpoints, history, model")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    cfg = cli.config_from_args(args)
    cli.quiet_tensorflow()
    from msdnet_tf.training.trainer import Trainer

    if cfg.model.resolutions:  # one model, several input sides (msdnet_tf/techniques)
        from msdnet_tf.techniques.resolution import ResolutionTrainer as Trainer
    with Trainer(cfg, args.workdir) as run:  # holds the workdir's lock until the end
        if run.resumed_epoch:
            print(f"Resuming {args.workdir} after epoch {run.resumed_epoch}/{cfg.train.epochs}")
        run.fit(verbose=not args.quiet)
        results = run.finish()
    if not run.chief:
        return
    print("exit  val top-1  test top-1  cum. MFLOPs")
    for k, (v, t) in enumerate(zip(results["val_top1"], results["test_top1"])):
        mflops = results.get("exit_cumulative_flops", [0] * len(results["val_top1"]))[k] / 1e6
        print(f"{k:>4}  {v:9.2f}  {t:10.2f}  {mflops:11.2f}")
    for entry in results.get("resolutions", [])[1:]:
        print(f"at {entry['resolution']}x{entry['resolution']}:")
        for k, (v, t) in enumerate(zip(entry["val_top1"], entry["test_top1"])):
            print(f"{k:>4}  {v:9.2f}  {t:10.2f}  {entry['exit_cumulative_flops'][k] / 1e6:11.2f}")
    print(f"wrote {args.workdir}/model.keras and {args.workdir}/results.json")


if __name__ == "__main__":
    main()
