"""Import a state_dict of the authors' PyTorch code (any family) into a Keras .keras model.

    python -m msdnet_tf.import_torch --config FILE --weights W.{npz,pth} --output OUT.keras

`W` is a .npz with `state/<name>` arrays or a .pth checkpoint (a plain
state_dict or a dict with `state_dict`; `module.` prefixes are stripped;
needs the [torch] extra). When the .npz also holds `input_nchw` and
`logits_exit{k}` (reference test vectors), the imported model is checked
against them.
"""

from pathlib import Path

import numpy as np

from msdnet_tf import cli
from msdnet_tf import data as data_lib


def check_vectors(model, path):
    """Max |logit difference| per exit against test vectors in a .npz, or None."""
    from msdnet_tf import files

    if Path(path).suffix != ".npz":
        return None
    data = files.load_npz(path, "weights file")
    if "input_nchw" not in data:
        return None
    x = data["input_nchw"]
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2:] != (model.image_size,) * 2:
        raise cli.UserError(f"weights file {path}: input_nchw must be [N, 3, "
                            f"{model.image_size}, {model.image_size}]. Received: {x.shape}")
    outputs = model(np.transpose(x, (0, 2, 3, 1)).astype(np.float32), training=False)
    diffs = []
    for k in range(model.num_exits):
        if f"logits_exit{k}" in data:
            got, want = np.asarray(outputs[f"exit_{k}"]), data[f"logits_exit{k}"]
            if got.shape != want.shape:
                raise cli.UserError(f"weights file {path}: logits_exit{k} has shape "
                                    f"{want.shape}, the model gives {got.shape}")
            diffs.append(float(np.abs(got - want).max()))
    return diffs


@cli.main_wrapper
def main(argv=None):
    parser = cli.parser("msdnet_tf.import_torch", __doc__.strip().splitlines()[0])
    cli.add_config_args(parser)
    parser.add_argument("--weights", required=True, help=".npz or .pth state_dict")
    parser.add_argument("--output", required=True, help="where to write the .keras model")
    args = parser.parse_args(argv)
    cfg = cli.config_from_args(args)
    if not args.output.endswith(".keras"):
        raise cli.UserError(f"--output must end in .keras. Received: --output={args.output}")
    from msdnet_tf import workdir

    workdir.check_output_file(args.output, "--output")
    cli.quiet_tensorflow()
    data_lib.resolve_num_classes(cfg)  # model.num_classes 0: the classes found in the data
    from msdnet_tf import config as config_lib, weights

    state = weights.read_weights(args.weights)
    model = config_lib.build_model(cfg)
    weights.load_state_dict(model, state)
    diffs = check_vectors(model, args.weights)
    workdir.ensure_dir(Path(args.output).parent)
    with workdir.atomic_path(args.output) as tmp:
        model.save(tmp)
    print(f"imported {len(state)} tensors into {args.output}")
    if diffs is not None:
        print("max |logit difference| vs the reference per exit: "
              + ", ".join(f"exit_{k} {d:.2e}" for k, d in enumerate(diffs)))


if __name__ == "__main__":
    main()
