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
    if Path(path).suffix != ".npz":
        return None
    data = np.load(path)
    if "input_nchw" not in data.files:
        return None
    outputs = model(np.transpose(data["input_nchw"], (0, 2, 3, 1)), training=False)
    return [float(np.abs(np.asarray(outputs[f"exit_{k}"]) - data[f"logits_exit{k}"]).max())
            for k in range(model.num_exits) if f"logits_exit{k}" in data.files]


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
    cli.quiet_tensorflow()
    data_lib.resolve_num_classes(cfg)  # model.num_classes 0: the classes found in the data
    from msdnet_tf import config as config_lib, weights

    state = weights.read_weights(args.weights)
    model = config_lib.build_model(cfg)
    weights.load_state_dict(model, state)
    diffs = check_vectors(model, args.weights)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    model.save(args.output)
    print(f"imported {len(state)} tensors into {args.output}")
    if diffs is not None:
        print("max |logit difference| vs the reference per exit: "
              + ", ".join(f"exit_{k} {d:.2e}" for k, d in enumerate(diffs)))


if __name__ == "__main__":
    main()
