"""Techniques that apply to every model family, written once against the model interface."""
