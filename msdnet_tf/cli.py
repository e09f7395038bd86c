"""Shared command-line plumbing: --config/--override, --verbose, one-line errors.

The CLIs parse their arguments before importing TensorFlow (`--help` and argument
errors answer at once) and then import it with `quiet_tensorflow()`, which keeps
TensorFlow's start-up lines off the terminal unless `--verbose` was given.
"""

import argparse
import functools
import os
import sys

from msdnet_tf import config as config_lib


class UserError(Exception):
    """A problem with the user's input; printed as one line, exit code 2."""


def quiet_tensorflow(verbose=None):
    """Imports TensorFlow without its start-up lines (all of them with --verbose).

    Call it after parsing the arguments, before anything imports TensorFlow;
    `verbose=None` follows the --verbose flag of the last `parser(...)` parse.
    """
    from msdnet_tf import _quiet

    return _quiet.import_tensorflow(verbose)


def add_config_args(parser):
    parser.add_argument("--config", help="YAML file of partial overrides of the defaults")
    parser.add_argument(
        "--override", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one value (parsed as YAML), e.g. model.growth_factors=[1,2,4]; repeatable",
    )
    return parser


def config_from_args(args):
    return config_lib.load_config(args.config, args.override)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose parse sets up TensorFlow's verbosity from --verbose."""

    def parse_known_args(self, args=None, namespace=None):
        parsed, extra = super().parse_known_args(args, namespace)
        from msdnet_tf import _quiet

        _quiet.configure(getattr(parsed, "verbose", False))
        return parsed, extra


def parser(prog, description):
    p = _Parser(prog=prog, description=description)
    p.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's start-up and log lines and msdnet_tf's info messages")
    return p


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
