"""Keras models of msdnet_tf."""

from msdnet_tf.models.msdnet import MSDNet, run_stages

__all__ = ["MSDNet", "run_stages"]
