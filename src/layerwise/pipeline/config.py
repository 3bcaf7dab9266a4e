"""A run's configuration: profile, scale, seed, device, cache; checked before any model runs.

The notebooks and ``python -m layerwise reproduce`` share it, so the book and the
command line compute the same numbers from the same cache. A run is checked before any
model runs (:meth:`RunConfig.validate`) and loads weights only when some extraction is
not cached (:func:`load_profile`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, OutputError
from ..files import temp_name
from ..models.hub import no_revision_reason
from .profiles import ROLES, profile_name, resolve_profile

if TYPE_CHECKING:  # imported where used: reading a configuration never imports torch
    from ..measure.common import MeasureOptions
    from ..models.spec import LoadedModel
    from ..store.cache import Cache

#: Sample sizes per scale. ``full`` is the paper's; ``reduced`` is for CI and quick looks.
SCALES: dict[str, dict[str, int]] = {
    "full": {"n_cwe": 10_000, "n_resamples": 1000},
    "reduced": {"n_cwe": 1_000, "n_resamples": 200},
}


#: Environment variable pinning hub revisions, "causal=REV contrastive=REV" (the book's kernels
#: inherit it from ``make book REVISIONS=...``).
REVISIONS_ENV = "LAYERWISE_REVISIONS"


def parse_revisions(text: str) -> dict[str, str]:
    """``"causal=abc contrastive=def"`` (spaces or commas) -> ``{"causal": "abc", ...}``."""
    out: dict[str, str] = {}
    for item in text.replace(",", " ").split():
        role, sep, rev = item.partition("=")
        if not sep or role not in ROLES or not rev:
            raise InputError(
                f"cannot read the revision pin {item!r} (from {REVISIONS_ENV}); write "
                f"ROLE=REVISION with ROLE one of {ROLES}"
            )
        out[role] = rev
    return out


#: Units of a memory size, upper-cased -> (how accelerate spells it, bytes); "" and "B" are
#: a count of bytes. accelerate reads KB/MB/GB and KiB/MiB/GiB (and a lower-case "b" as
#: bits), so a size is written back in its spelling, or as a byte count (B, TB, TiB).
SIZE_UNITS: dict[str, tuple[str, int]] = {
    "": ("", 1),
    "B": ("", 1),
    "KB": ("KB", 10**3),
    "MB": ("MB", 10**6),
    "GB": ("GB", 10**9),
    "TB": ("", 10**12),
    "KIB": ("KiB", 2**10),
    "MIB": ("MiB", 2**20),
    "GIB": ("GiB", 2**30),
    "TIB": ("", 2**40),
}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)")
#: Devices a memory limit may name besides a GPU's index (accelerate's).
MEMORY_DEVICES = ("cpu", "mps", "disk")
#: What ``--device`` accepts (:func:`parse_device`); availability is checked by
#: :meth:`RunConfig.validate`.
DEVICE_FORMS = "auto, cpu, cuda, cuda:N or mps"


def parse_size(text: str) -> str:
    """A memory size (``"70GiB"``, ``"1.5gb"``, ``"2TB"``, ``"123456"`` bytes) in the spelling
    accelerate reads: ``"70GiB"``, ``"1.5GB"``, ``"2000000000000"``. Units are decimal (KB, MB,
    GB, TB) or binary (KiB, MiB, GiB, TiB), of bytes, in any case. Raises
    :class:`~layerwise.errors.InputError` for anything else (a negative size, an unknown
    unit, no number)."""
    match = _SIZE.fullmatch(text.strip())
    unit = match.group(2).upper() if match else None
    if match is None or unit not in SIZE_UNITS:
        raise InputError(
            f"{text!r} is not a memory size; write a number of bytes with a unit: KB, MB, GB, "
            "TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 70GiB"
        )
    spelled, factor = SIZE_UNITS[unit]
    number = match.group(1)
    if spelled:
        return f"{number}{spelled}"
    return str(int(float(number) * factor))


def parse_memory_device(text: str) -> str:
    """A device of a memory limit: a GPU's index (``"0"``), ``cpu``, ``mps`` or ``disk``
    (accelerate's names); InputError for anything else."""
    name = text.strip().lower()
    if name.isdigit():
        return str(int(name))
    if name in MEMORY_DEVICES:
        return name
    raise InputError(
        f"{text!r} is not a device of a memory limit; use a GPU's index (0, 1, ...), "
        f"{', '.join(MEMORY_DEVICES)}"
    )


def parse_max_memory(text: str | Mapping[Any, Any]) -> dict[str, str] | None:
    """``"0=70GiB,1=70GiB,cpu=200GiB"`` (commas or spaces), or the same as a dict, ->
    ``{"0": "70GiB", ...}``, the memory per device of a ``device_map`` placement; ``""`` or
    an empty dict -> None. Each device is read by :func:`parse_memory_device`, each size by
    :func:`parse_size`. Raises :class:`~layerwise.errors.InputError` naming the item for one
    that is not ``DEVICE=SIZE``, names no device accelerate knows, holds no size, or names a
    device twice."""
    if isinstance(text, Mapping):
        items = [(str(dev), str(size), f"{dev}={size}") for dev, size in text.items()]
        shown = repr(dict(text))
    else:
        items = [(*item.partition("=")[::2], item) for item in text.replace(",", " ").split()]
        shown = repr(text)
        for dev, size, item in items:
            if "=" not in item or not dev or not size:
                raise InputError(
                    f"cannot read the memory limit {item!r} in {shown}; write DEVICE=SIZE "
                    "pairs separated by commas, e.g. 0=70GiB,cpu=200GiB"
                )
    out: dict[str, str] = {}
    for dev, size, item in items:
        try:
            device = parse_memory_device(dev)
            if device in out:
                raise InputError(f"device {device!r} is given twice")
            out[device] = parse_size(size)
        except InputError as err:
            raise InputError(f"the memory limit {item!r} in {shown}: {err}") from None
    return out or None


def parse_device(text: str) -> str:
    """``--device``: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (returned as given);
    InputError for anything else. Whether the device exists here is
    :func:`~layerwise.models.device.check_device`'s question (:meth:`RunConfig.validate`)."""
    kind, sep, index = text.partition(":")
    if text in ("auto", "cpu", "cuda", "mps") or (kind == "cuda" and sep and index.isdigit()):
        return text
    raise InputError(f"unknown device {text!r}; use {DEVICE_FORMS}")


@dataclass
class RunConfig:
    """Everything a notebook's ``parameters`` cell sets."""

    profile: str = "auto"
    scale: str = "full"
    seed: int = 0
    device: str = "auto"
    #: "auto": bfloat16 on a GPU that runs it, else float32 (models.device.resolve_dtype)
    dtype: str = "auto"
    batch_size: int = 64
    results_dir: str = "results"
    cache_dir: str | None = None
    n_cwe: int | None = None
    n_resamples: int | None = None
    #: role -> hub revision (commit, branch or tag) to pin, e.g. {"causal": "607a30d..."}
    revisions: dict[str, str] = field(default_factory=dict)
    #: accelerate's placement of a model larger than one device: "auto" spreads it over the
    #: GPUs, the CPU (``max_memory``, e.g. {"0": "70GiB", "cpu": "100GiB"}) and disk
    #: (a notebook's parameters cell writes ``""`` for None, and ``max_memory`` as text:
    #: ``"0=70GiB,cpu=100GiB"``, see :func:`parse_max_memory`)
    device_map: str | None = None
    max_memory: dict[str, str] | None = None
    offload_folder: str | None = None

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise InputError(f"unknown scale {self.scale!r}; choose one of {sorted(SCALES)}")
        defaults = SCALES[self.scale]
        # None means "the scale's size"; 0 or a negative size is refused by validate(),
        # never replaced by a default
        self.n_cwe = defaults["n_cwe"] if self.n_cwe is None else self.n_cwe
        self.n_resamples = defaults["n_resamples"] if self.n_resamples is None else self.n_resamples
        self.revisions = dict(self.revisions or parse_revisions(os.environ.get(REVISIONS_ENV, "")))
        if self.max_memory is not None:
            self.max_memory = parse_max_memory(self.max_memory)
        self.device_map = self.device_map or None
        self.offload_folder = self.offload_folder or None

    def validate(self, *, outputs: bool = True, roles: bool = True) -> None:
        """Check everything a run needs before any model runs; each failure is a
        :class:`~layerwise.errors.LayerwiseError` naming the remedy. ``roles``: the run loads
        the profile's models by role, so a revision pinned for a role whose source has none
        (a ``tiny:``, ``package:`` or folder source) is refused (``compare`` names its models
        itself and passes False)."""
        for name in ("batch_size", "n_cwe", "n_resamples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {self.seed!r}")
        unknown = sorted(set(self.revisions) - set(ROLES))
        if unknown:
            raise InputError(f"revisions for unknown role(s) {unknown}; roles are {ROLES}")
        if roles and self.revisions:
            self.check_revisions()
        from ..models.device import check_device, check_device_map

        check_device(self.device, self.dtype)
        check_device_map(self.device_map, self.max_memory)
        self.cache().check_readable()  # a warm read-only cache is fine; a miss checks writing
        if outputs:
            ensure_writable_folder(self.out_dir, "results folder (--out)")

    def check_revisions(self) -> None:
        """An :class:`~layerwise.errors.InputError` for a revision pinned (``--revision`` or
        :data:`REVISIONS_ENV`) for a role whose source in the run's profile has none."""
        sources = resolve_profile(self.concrete_profile)
        for role, rev in sorted(self.revisions.items()):
            why = no_revision_reason(sources[role])
            if why is not None:
                raise InputError(
                    f"revision {rev!r} is pinned for the {role} model (--revision or "
                    f"{REVISIONS_ENV}), but profile {self.concrete_profile!r} gives that role "
                    f"{sources[role]!r}, which has no revisions: {why}. Remedy: drop the pin, "
                    "or use a profile of hub models (paper)"
                )

    def cache(self) -> Cache:
        """The run's cache: ``cache_dir``, else :func:`~layerwise.store.cache.default_cache_dir`."""
        from ..store.cache import Cache

        return Cache(self.cache_dir) if self.cache_dir else Cache()

    @property
    def concrete_profile(self) -> str:
        return profile_name(self.profile)

    @property
    def out_dir(self) -> Path:
        return Path(self.results_dir) / self.concrete_profile

    def options(self) -> MeasureOptions:
        """The run's :class:`~layerwise.measure.common.MeasureOptions`; its cache also keeps
        the bootstrap intervals (:class:`~layerwise.store.memo.BootstrapMemo`)."""
        cache = self.cache()
        from ..measure.common import MeasureOptions
        from ..store.memo import BootstrapMemo

        return MeasureOptions(
            n_cwe=self.n_cwe,
            seed=self.seed,
            batch_size=self.batch_size,
            n_resamples=self.n_resamples,
            cache=cache,
            memo=BootstrapMemo(cache),
        )

    def load_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~layerwise.models.loading.load_model` this run
        sets: device, dtype, the placement of big models and the cache."""
        memory = None
        if self.max_memory:  # accelerate names GPUs by index, and reads a byte count as int
            memory = {
                int(k) if str(k).isdigit() else k: int(v) if str(v).isdigit() else v
                for k, v in self.max_memory.items()
            }
        return {
            "device": self.device,
            "dtype": self.dtype,
            "device_map": self.device_map,
            "max_memory": memory,
            "offload_folder": self.offload_folder,
            "cache_dir": self.cache().root,
        }

    def params(self) -> dict[str, Any]:
        return asdict(self) | {"concrete_profile": self.concrete_profile}


def ensure_writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` and prove it takes a file, or raise :class:`OutputError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        prefix, suffix = temp_name("probe-")
        fd, probe = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(
            f"the {what} {folder} cannot be written ({err.strerror or err}); choose another "
            "folder or fix its permissions"
        ) from err


def load_profile(
    cfg: RunConfig, log: Callable[[str], None] | None = print
) -> dict[str, LoadedModel]:
    """Role -> model for the run's profile (``auto`` resolved once, here).

    The weights are read only when an extraction misses the cache (lazy loading).
    """
    from ..models.loading import load_model

    cfg.validate(outputs=False)
    sources = resolve_profile(cfg.profile)
    return {
        role: load_model(
            sources[role],
            revision=cfg.revisions.get(role),
            log=log,
            lazy=True,
            **cfg.load_options(),
        )
        for role in ROLES
    }
