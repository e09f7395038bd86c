"""PyTorch's default initial weights, drawn number for number as PyTorch draws them.

A reference port that never runs an initialiser of its own trains from what
`torch.nn.Conv2d` and `torch.nn.Linear` draw when they are constructed: kernels
from kaiming_uniform_(a=sqrt(5)), i.e. U(-b, b) with b = 1 / sqrt(fan_in), and
biases from U(-b, b) with the same b, each tensor filled in PyTorch's memory order
([out, in, kh, kw] and [out, in]) from the CPU generator of `torch.manual_seed`.

`TorchRandom(seed)` reproduces that stream without PyTorch: the generator is a
32-bit Mersenne Twister seeded like PyTorch's (and like NumPy's legacy
`RandomState(seed)`); a float32 `uniform_(lo, hi)` keeps the low 24 bits of each
32-bit output, x = bits * 2**-24, and returns x * (hi - lo) + lo rounded once
(PyTorch's vectorised CPU kernels contract it to a fused multiply-add). So a
model whose layers are visited in the order the reference constructs its modules
starts from the reference's weights of the same seed, bit for bit
(tests/models/test_torch_init.py checks it against PyTorch itself).
"""

import math

import numpy as np

_MANTISSA = np.uint32((1 << 24) - 1)  # float32 has 24 significant bits
_SQRT5 = math.sqrt(5)


class TorchRandom:
    """The number stream of `torch.manual_seed(seed)` on the CPU, for float32 uniform draws.

    seed None: one drawn from NumPy's global generator (so keras.utils.set_random_seed fixes it).
    """

    def __init__(self, seed=None):
        if seed is None:
            seed = np.random.randint(0, 2 ** 31)
        # PyTorch seeds its Mersenne Twister with the seed's low 32 bits, the same way
        # NumPy's legacy RandomState(int) does (init_genrand).
        state = np.random.RandomState(int(seed) % 2 ** 32).get_state(legacy=False)
        self._bits = np.random.MT19937()
        self._bits.state = {"bit_generator": "MT19937", "state": state["state"]}

    def uniform(self, shape, low, high):
        """`torch.empty(shape).uniform_(low, high)` as float32 (C order)."""
        n = math.prod(shape)
        bits = self._bits.random_raw(n).astype(np.uint32) & _MANTISSA
        lo, hi = np.float32(low), np.float32(high)
        width = np.float64(np.float32(hi - lo))
        # bits * 2**-24 * width + lo is exact in float64 (at most 48 significant bits), so
        # one rounding to float32 is the fused multiply-add's result.
        x = bits.astype(np.float64) * 2.0 ** -24
        return (x * width + np.float64(lo)).astype(np.float32).reshape(shape)

    def kaiming_uniform(self, shape):
        """`nn.init.kaiming_uniform_(w, a=sqrt(5))` on a tensor of PyTorch shape `shape`."""
        fan_in = math.prod(shape[1:])
        gain = math.sqrt(2.0 / (1 + _SQRT5 ** 2))
        bound = math.sqrt(3.0) * (gain / math.sqrt(fan_in))
        return self.uniform(shape, -bound, bound)

    def bias(self, n, fan_in):
        """The bias draw of nn.Conv2d / nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        return self.uniform((n,), -bound, bound)


def draw_layer(rng, layer):
    """Draws `layer`'s kernel (and bias) as the PyTorch module it stands for would.

    Conv2D kernels [kh, kw, in, out] are drawn as [out, in, kh, kw]; Dense kernels
    [in, out] as [out, in]. A resolution-conditioned conv (e * A + B) draws B and
    keeps A (zero at the start).
    """
    shape = tuple(int(d) for d in layer.kernel.shape)
    if len(shape) == 4:
        torch_shape, to_keras = (shape[3], shape[2], shape[0], shape[1]), (2, 3, 1, 0)
    else:
        torch_shape, to_keras = (shape[1], shape[0]), (1, 0)
    layer.kernel.assign(np.transpose(rng.kaiming_uniform(torch_shape), to_keras))
    if getattr(layer, "use_bias", False):
        layer.bias.assign(rng.bias(torch_shape[0], math.prod(torch_shape[1:])))


def initialise(layers_in_order, seed=None):
    """Draws every Conv2D / Dense layer of `layers_in_order`, in that order, from seed's stream
    (None: see `TorchRandom`).

    Returns the generator, positioned after the last draw.
    """
    rng = TorchRandom(seed)
    for layer in layers_in_order:
        draw_layer(rng, layer)
    return rng
