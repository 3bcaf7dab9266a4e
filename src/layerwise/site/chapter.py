"""A chapter's opening: one call from the parameters cell to the run's models and options.

Every chapter starts the same way: its papermill ``parameters`` cell (the values a
reader may change), then :func:`open_chapter`, which builds and checks the
:class:`~layerwise.pipeline.config.RunConfig`, loads the profile's two models (weights
only when an extraction is not cached), and shows the banner naming the models actually
used (and, when the chapter asked for ``auto``, which profile that chose and why).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..measure.common import MeasureOptions
from ..models.spec import LoadedModel
from ..pipeline.config import RunConfig, load_profile
from ..pipeline.profiles import auto_choice
from .display import banner


class Chapter(NamedTuple):
    """What a chapter works with: the run's configuration, role -> model, the
    measurement options (cache and bootstrap memo included) and the concrete profile
    (``auto`` resolved)."""

    cfg: RunConfig
    models: dict[str, LoadedModel]
    s: MeasureOptions
    profile: str


def open_chapter(
    *,
    profile: str = "auto",
    scale: str = "full",
    seed: int = 0,
    device: str = "auto",
    dtype: str = "auto",
    device_map: str = "",
    max_memory: str = "",
    offload_folder: str = "",
    batch_size: int = 64,
    results_dir: str = "results",
    cache_dir: str | None = "",
    show: Callable[[object], None] | None = None,
    log: Callable[[str], None] | None = print,
) -> Chapter:
    """The :class:`Chapter` of the parameters cell's values, its banner shown.

    ``cache_dir`` ``""`` or ``None`` means the default cache
    (:func:`~layerwise.store.cache.default_cache_dir`). ``dtype``, ``device_map``,
    ``max_memory`` (text, ``"0=70GiB,cpu=100GiB"``) and ``offload_folder`` place a big
    model (:class:`~layerwise.pipeline.config.RunConfig`; ``""``: one device). ``show``
    displays the banner (default: IPython's ``display``, or nothing outside a kernel). Raises a
    :class:`~layerwise.errors.LayerwiseError` naming the remedy for a bad parameter, a
    device that cannot run, or a model that cannot be loaded, before any extraction.
    """
    cfg = RunConfig(
        profile=profile,
        scale=scale,
        seed=seed,
        device=device,
        dtype=dtype,
        device_map=device_map,
        max_memory=max_memory,  # type: ignore[arg-type]  # text, parsed by RunConfig
        offload_folder=offload_folder,
        batch_size=batch_size,
        results_dir=results_dir,
        cache_dir=cache_dir or None,
    )
    concrete, why = auto_choice() if profile == "auto" else (cfg.concrete_profile, "")
    models = load_profile(cfg, log)
    if show is None:
        try:
            from IPython.display import display as show
        except ImportError:  # outside a kernel: nothing to show the banner in
            show = None
    if show is not None:
        show(banner(concrete, models, why))
    return Chapter(cfg, models, cfg.options(), concrete)
