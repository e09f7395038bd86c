"""Deployment runtime: cascaded early exit on LiteRT, driven by manifest.json."""
