"""What machine a measurement ran on (pure Python: no TensorFlow, no third-party import)."""

import os
import platform
from pathlib import Path


def cpu_info():
    """(model name, ISA flags of interest) from /proc/cpuinfo; ("unknown", []) elsewhere."""
    model, isa = platform.processor() or platform.machine() or "unknown", []
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return model, isa
    for line in lines:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")),
                 [])
    isa = [f for f in ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return model, isa


def cpu_model():
    return cpu_info()[0]


def describe():
    """{"cpu", "nproc", "isa", "python"} for benchmark records."""
    model, isa = cpu_info()
    return {"cpu": model, "nproc": os.cpu_count(), "isa": isa,
            "python": platform.python_version()}
