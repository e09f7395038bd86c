"""Model keys every family shares: classifier pooling and input resolutions (pure Python).

    head_pool: fixed | global
        `fixed` ends every classifier in the reference's 2x2 average pool (parity
        with the authors' weights); `global` in a global average pool, which is
        the same wherever the head's map is 2x2 (the native sizes) and the only
        correct choice at other sizes (a 2x2 pool on a 1x1 map fails, on a 3x3
        map it averages the top-left corner).
    resolutions: [r0, r1, ...]
        A resolution-switchable network (SAN, Li et al., ECCV 2020): one set of
        convolution and Dense weights serves every input side r_i, each with a
        private BatchNorm (gamma, beta, moving statistics). r0 = image_size, the
        largest; empty = an ordinary single-resolution model.
    resolution_conditioned: true | false
        Every convolution kernel becomes W(e) = e * A + B (SAN's meta-learner),
        with the resolution encoding e = encoding(r, r0) = 0.7 * r / r0. For r0 =
        224 that is SAN's e = r / 320; for CIFAR-sized inputs it keeps SAN's
        range (0.7 at the largest side) instead of r / 320 = 0.05 ... 0.1, where
        A could hardly matter. Folded into a plain kernel per resolution for
        inference and export.

A family's config module `validate(**kwargs)` receives its own keys plus
`head_pool`; everything else here is checked once, for every family.
"""

import dataclasses

from msdnet_tf.models.family import ArchitectureError

HEAD_POOLS = ("fixed", "global")
KEYS = ("head_pool", "resolutions", "resolution_conditioned")
# The largest side's encoding: SAN's 224 / 320.
ENCODING_AT_R0 = 0.7


@dataclasses.dataclass
class ResolutionKeys:
    head_pool: str = "fixed"
    resolutions: list[int] = dataclasses.field(default_factory=list)
    resolution_conditioned: bool = False


CHOICES = {"head_pool": HEAD_POOLS}


def defaults():
    return dataclasses.asdict(ResolutionKeys())


def split(kwargs):
    """(family keyword arguments, shared keys with their defaults filled in)."""
    own = {k: v for k, v in kwargs.items() if k not in KEYS}
    shared = {**defaults(), **{k: v for k, v in kwargs.items() if k in KEYS}}
    shared["resolutions"] = [int(r) for r in shared["resolutions"]]
    return own, shared


def encoding(r, r0):
    """The scalar e of W(e) = e * A + B for input side r of a network whose largest is r0."""
    return ENCODING_AT_R0 * float(r) / float(r0)


def _fail(key, value, why):
    raise ArchitectureError(f"model.{key} {why}. Received: model.{key}={value!r}")


def _takes(validate, own, size, head_pool):
    try:
        validate(**{**own, "image_size": size, "head_pool": head_pool})
    except ArchitectureError as e:
        return str(e)
    return None


def smallest_size(validate, own, head_pool, limit=4096):
    """The smallest input side the family's `validate` accepts with `head_pool`, or None."""
    for size in range(1, limit + 1):
        if _takes(validate, own, size, head_pool) is None:
            return size
    return None


def validate(validate_family, kwargs):
    """Checks the shared keys, then the family's keys at every resolution.

    `validate_family(**kwargs)` is the family's check (its keys plus head_pool).
    Raises ArchitectureError with one line naming the first problem.
    """
    own, shared = split(kwargs)
    head_pool, sizes = shared["head_pool"], kwargs.get("resolutions") or []
    if head_pool not in HEAD_POOLS:
        _fail("head_pool", head_pool, f"must be one of {', '.join(HEAD_POOLS)}")
    if not isinstance(shared["resolution_conditioned"], bool):
        _fail("resolution_conditioned", shared["resolution_conditioned"], "must be true or false")
    if sizes:
        if any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in sizes):
            _fail("resolutions", sizes, "must be positive integers")
        if len(sizes) < 2:
            _fail("resolutions", sizes, "must list at least two sizes (leave it empty for a "
                                        "single-resolution model)")
        if sizes[0] != own.get("image_size"):
            _fail("resolutions", sizes, f"must start with model.image_size="
                                        f"{own.get('image_size')}, the largest size")
        if any(a <= b for a, b in zip(sizes, sizes[1:])):
            _fail("resolutions", sizes, "must be distinct and in decreasing order")
    elif shared["resolution_conditioned"]:
        _fail("resolution_conditioned", True, "needs model.resolutions (the sizes the "
                                              "kernels are generated for)")
    if not sizes and head_pool == "fixed":
        try:  # An ordinary model: the family's message, and whether global heads would do.
            validate_family(**own, head_pool=head_pool)
        except ArchitectureError as e:
            size = own.get("image_size")
            if (isinstance(size, int) and not isinstance(size, bool) and size >= 1
                    and _takes(validate_family, own, size, "global") is None):
                raise ArchitectureError(f"{e}; or set model.head_pool=global, which takes "
                                        f"{size}x{size} inputs") from None
            raise
    else:
        for key, r in [("model.image_size", own.get("image_size"))] + [
                ("model.resolutions", r) for r in sizes[1:]]:
            check_size(validate_family, own, key, r, head_pool)
    return own, shared


def check_size(validate_family, own, key, size, head_pool):
    """Raises ArchitectureError (one line: the size, why, the smallest valid one) unless
    the family takes size x size inputs with head_pool; `key` names the setting."""
    if not (isinstance(size, int) and not isinstance(size, bool) and size >= 1):
        validate_family(**own, head_pool=head_pool)  # The family names the bad image_size.
    why = _takes(validate_family, own, size, head_pool)
    if why is None:
        return
    smallest = smallest_size(validate_family, own, head_pool)
    if smallest is None:  # Not a matter of size: the family's own message.
        raise ArchitectureError(why)
    hint = f"the smallest size it takes is {smallest}"
    if head_pool == "fixed" and _takes(validate_family, own, size, "global") is None:
        hint += f"; with model.head_pool: global it takes {size}"
    raise ArchitectureError(f"{key}: this network cannot take {size}x{size} inputs with "
                            f"head_pool {head_pool} ({_reason(why)}); {hint}")


def _reason(message):
    """The family's explanation without its 'Received: ...' tail."""
    return message.split(". Received:")[0].replace("model.image_size ", "")
