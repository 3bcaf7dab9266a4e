"""A chapter's opening: one call from the parameters cell to the run's models and options.

Every chapter starts the same way: its papermill ``parameters`` cell (the values a
reader may change) and its imports, both folded on the website and in JupyterLab, then
two short lines, folded on the website and visible in JupyterLab::

    ch = chapter.open_chapter(**chapter.parameters(globals()))
    cfg, models, s, profile = ch

:func:`open_chapter` builds and checks the :class:`~layerwise.pipeline.config.RunConfig`,
loads the profile's two models (weights only when an extraction is not cached), and shows
the banner naming what actually ran: the profile (and, when the chapter asked for
``auto``, which profile that chose and why), the scale, the seed and the models. When the
notebook is a committed chapter run in JupyterLab, the banner also says that JupyterLab
saves outputs into it and how to work on a copy (:func:`committed_notebook`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from ..errors import InputError
from ..files import repository_root
from ..measure.common import MeasureOptions
from ..models.spec import LoadedModel
from ..pipeline import tables
from ..pipeline.config import RunConfig, load_profile
from ..pipeline.profiles import auto_choice
from ..report import provenance
from .display import banner


class Chapter(NamedTuple):
    """What a chapter works with: the run's configuration, role -> model, the
    measurement options (cache and bootstrap memo included) and the concrete profile
    (``auto`` resolved). Unpacks as ``cfg, models, s, profile``."""

    cfg: RunConfig
    models: dict[str, LoadedModel]
    s: MeasureOptions
    profile: str

    def table(self, name: str):
        """The registry's table ``name`` for this chapter's models
        (:func:`~layerwise.pipeline.tables.compute_table`: cached, keyed by its code),
        written to ``<results_dir>/<profile>/<name>.csv`` with its provenance; returns the
        table (a tidy :class:`pandas.DataFrame`, one row per model, layer and value).

        Raises:
            InputError: ``name`` is not a table of the registry.
            OutputError: the results folder cannot be written.
        """
        df = tables.compute_table(name, self.models, self.s)
        self.write(df, name)
        return df

    def write(self, df, name: str, models: Mapping[str, LoadedModel] | None = None) -> Path:
        """Write ``df`` as ``<results_dir>/<profile>/<name>.csv`` with the run's provenance
        (:func:`~layerwise.report.provenance.write_table`) naming ``models`` (default: the
        chapter's two); returns the path."""
        prov = provenance.provenance(models or self.models, self.cfg.params())
        return provenance.write_table(df, self.cfg.out_dir, name, prov)


def parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`open_chapter` read from a notebook's namespace
    (``globals()`` after its parameters cell and papermill's injected values).

    Raises:
        InputError: a parameter is missing from ``namespace`` (the parameters cell was
            not run, or a name was deleted): run the chapter from its first cell.
    """
    names = [
        p.name
        for p in inspect.signature(open_chapter).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name not in ("show", "log")
    ]
    missing = [n for n in names if n not in namespace]
    if missing:
        raise InputError(
            f"the parameters cell did not define {', '.join(missing)}: run the chapter "
            "from its first cell (the folded parameters cell at the top)"
        )
    return {n: namespace[n] for n in names}


def committed_notebook(session: str | None = None, start: str | None = None) -> Path | None:
    """The committed chapter this kernel runs, when JupyterLab runs one in place.

    ``session``: the notebook's path as Jupyter Server gives it to the kernel
    (``$JPY_SESSION_NAME``, default: read from the environment), resolved against
    ``start`` (default: the working directory). A path of the form
    ``<checkout>/notebooks/<name>.ipynb`` in a layerwise checkout
    (:func:`~layerwise.files.repository_root`) is a committed chapter; anything else
    (a copy, the student edition, papermill, which sets no session) gives ``None``.
    """
    session = os.environ.get("JPY_SESSION_NAME", "") if session is None else session
    if not session.endswith(".ipynb"):
        return None
    path = Path(start or Path.cwd(), session).resolve()
    if not path.is_file():
        here = Path(start or Path.cwd()).resolve() / Path(session).name
        path = here if here.is_file() else path
    root = repository_root(path.parent)
    if root is None or path.parent != root / "notebooks":
        return None
    return path


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
    displays the banner (default: IPython's ``display``, or nothing outside a kernel). The
    banner names the profile, scale, seed and models that ran; where it is shown, pandas
    shows a table cell's whole text (``display.max_colwidth``). Raises a
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
        # the page wraps a long text in a table cell; pandas would cut it at 50
        # characters with "..."
        pd.set_option("display.max_colwidth", None)
        committed = committed_notebook()
        show(
            banner(
                concrete,
                models,
                why,
                run={"scale": cfg.scale, "seed": cfg.seed},
                committed=None if committed is None else f"notebooks/{committed.name}",
            )
        )
    return Chapter(cfg, models, cfg.options(), concrete)
