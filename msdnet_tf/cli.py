"""Shared command-line plumbing: --config/--override, one-line errors."""

import argparse
import functools
import os
import sys

from msdnet_tf import config as config_lib


class UserError(Exception):
    """A problem with the user's input; printed as one line, exit code 2."""


def quiet_tensorflow():
    """Keeps TensorFlow's C++ start-up chatter out of the CLIs' output."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def add_config_args(parser):
    parser.add_argument("--config", help="YAML file of partial overrides of the defaults")
    parser.add_argument(
        "--override", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one value (parsed as YAML), e.g. model.growth_factors=[1,2,4]; repeatable",
    )
    return parser


def config_from_args(args):
    return config_lib.load_config(args.config, args.override)


def parser(prog, description):
    return argparse.ArgumentParser(prog=prog, description=description)


def main_wrapper(fn):
    """Runs `fn(argv)`; user errors print `prog: error: ...` and exit 2, no traceback."""

    @functools.wraps(fn)
    def wrapped(argv=None):
        prog = fn.__module__
        if prog == "__main__":  # run as python -m msdnet_tf.x or as a script
            spec = getattr(sys.modules["__main__"], "__spec__", None)
            prog = spec.name if spec else os.path.basename(sys.argv[0] or "msdnet_tf")
        try:
            return fn(argv)
        except (config_lib.ConfigError, UserError) as e:
            print(f"{prog}: error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapped
