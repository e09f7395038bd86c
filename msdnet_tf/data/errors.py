"""The one exception type of the data package."""

from msdnet_tf.cli import UserError


class DataError(UserError):
    """Data are missing, corrupted or inconsistent with the config.

    Messages say which file to put where, or which config key to set; the CLIs
    print them as one line (exit code 2).
    """
