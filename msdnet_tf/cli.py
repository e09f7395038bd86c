"""Shared command-line plumbing: --config/--override, --verbose, one-line errors.

The CLIs parse their arguments before importing TensorFlow (`--help` and argument
errors answer at once) and then import it with `quiet_tensorflow()`, which keeps
TensorFlow's start-up lines off the terminal unless `--verbose` was given.
"""

import argparse
import functools
import math
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
    """An ArgumentParser: --verbose sets up TensorFlow's verbosity; a wrong flag is one line
    (the usage is one --help away)."""

    def parse_known_args(self, args=None, namespace=None):
        parsed, extra = super().parse_known_args(args, namespace)
        from msdnet_tf import _quiet

        _quiet.configure(getattr(parsed, "verbose", False))
        return parsed, extra

    def error(self, message):
        # Scripts are named like main_wrapper names them (tflite/convert.py -> convert.py).
        self.exit(2, f"{os.path.basename(self.prog)}: error: {message} (see --help)\n")


def parser(prog, description):
    p = _Parser(prog=prog, description=description)
    p.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's start-up and log lines and msdnet_tf's info messages")
    return p


def ranged(kind, low=None, high=None, low_open=False, note=""):
    """An argparse `type=` for an int or a finite float in a range, stated in the message.

        p.add_argument("--limit", type=ranged(int, 0, note="0 = all"))
        # --limit -5  ->  argument --limit: must be an integer >= 0 (0 = all). Received: -5
    """
    noun = "an integer" if kind is int else "a number"
    if low is not None and high is not None:
        bounds = f" in {'(' if low_open else '['}{low:g}, {high:g}]"
    elif low is not None:
        bounds = f" {'>' if low_open else '>='} {low:g}"
    else:
        bounds = f" <= {high:g}" if high is not None else ""
    expected = f"must be {noun}{bounds}" + (f" ({note})" if note else "")

    def parse(text):
        try:
            value = int(text) if kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}. Received: {text!r}") from None
        if not math.isfinite(value) or (low is not None and (value < low or (
                low_open and value == low))) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{expected}. Received: {text}")
        return value

    parse.__name__ = noun
    return parse


def positive(note=""):
    """A finite float > 0."""
    return ranged(float, 0, low_open=True, note=note)


def count(low=0, note=""):
    """An integer >= low."""
    return ranged(int, low, note=note)


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
        except OSError as e:
            if not e.filename:
                raise
            # The system refused a file operation (disk full, permissions, ...): one line.
            # Outputs are written atomically, so no file is left half-written.
            print(f"{prog}: error: {e.filename}: {e.strerror or e}", file=sys.stderr)
            raise SystemExit(1) from None

    return wrapped
