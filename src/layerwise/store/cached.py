"""Get from the cache or compute: the one wrapper every cached result goes through.

:func:`cached_value` keeps a JSON value or a table under a key naming what was computed
and the code that computes it (the import closure of the module that defines the compute
function, :mod:`layerwise.closure`); :func:`cached_extract` keeps extracted hidden states.
Both compute directly when no cache is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..closure import code_digest, module_file
from ..data.registry import user_datasets
from ..errors import InputError
from ..extract.batched import extract
from ..extract.requests import Request
from ..extract.states import Extracted
from ..models.spec import LoadedModel
from .cache import Cache
from .keys import cache_key, key_of


def producer_of(compute: Callable[..., Any]) -> str:
    """The package module that defines ``compute``, whose import closure is the code of
    the value it computes. Raises :class:`~layerwise.errors.InputError` for a function
    defined outside the package (a notebook, a test, ``functools.partial``): wrap it in a
    function of the module that computes the value."""
    module = getattr(compute, "__module__", None)
    if not isinstance(module, str) or module_file(module) is None:
        raise InputError(
            f"a cached value is keyed by the code of the layerwise module that computes it, "
            f"but {compute!r} is defined in {module!r}; compute it in a function defined "
            "in a module of the package"
        )
    return module


def value_key(what: str, producer: str | Sequence[str], **parts: Any) -> str:
    """Key of a computed value or table: its name, the parts that determine it, and the
    code digest of its ``producer`` module or modules
    (:func:`~layerwise.closure.code_digest`: the source of the modules they import,
    transitively, and the data checksums), and the digests of the datasets registered at
    run time, when there are any (:func:`~layerwise.data.registry.user_datasets`). An edit
    to a module outside that closure (the prose, the figures) keeps the key; an edit inside
    it (an estimator) recomputes the value from cached states."""
    roots = [producer] if isinstance(producer, str) else list(producer)
    user = user_datasets()
    return key_of({"value": what, **parts, "code": code_digest(roots), **_user_part(user)})


def _user_part(user: dict[str, str]) -> dict[str, Any]:
    # Absent when no dataset is registered, so the keys of the vendored data never change.
    return {"user_datasets": user} if user else {}


def cached_value(
    cache: Cache | None,
    what: str,
    compute: Callable[[], Any],
    *,
    table: bool = False,
    code: Sequence[str] | None = None,
    **parts: Any,
) -> Any:
    """``compute()`` through ``cache`` under :func:`value_key` of ``what`` and ``parts``,
    whose code is the closure of the module that defines ``compute``
    (:func:`producer_of`: always the computation's own module, so it cannot be left out),
    or, when ``compute`` is glue that calls into other modules (the table registry), the
    closure of the modules ``code`` names (the glue's own source is then one of ``parts``).

    ``table=True`` for a :class:`pandas.DataFrame` (kept as CSV), else a JSON-serialisable
    value. With no cache, ``compute()`` itself. Raises
    :class:`~layerwise.errors.CacheError` when the cache folder cannot be written,
    :class:`~layerwise.errors.InputError` when ``compute`` is not defined in the package.
    """
    producer = producer_of(compute) if code is None else list(code)
    if cache is None:
        return compute()
    key = value_key(what, producer, **parts)
    if table:
        return cache.get_or_compute_frame(key, compute)
    return cache.get_or_compute_json(key, compute)


def cached_extract(
    lm: LoadedModel,
    requests: Sequence[Request] | Callable[[], Sequence[Request]],
    *,
    label: str,
    cache: Cache | None = None,
    **kwargs,
) -> Extracted:
    """:func:`~layerwise.extract.batched.extract` through ``cache`` (no cache: compute).

    ``requests`` may be a function that builds them; it is called on every run, hit or
    miss, because the key names what is computed: the exact token ids and read spans of
    every request (:func:`~layerwise.store.keys.cache_key`), never the texts or the code
    they were built from. So no edited file, changed sampler or function overridden in a
    notebook can be served another computation's arrays. Building requests only
    tokenizes (seconds); the model's weights are touched only on a miss.
    """
    built = list(requests() if callable(requests) else requests)
    if not built:
        raise InputError(f"{label}: nothing to extract: no requests")
    if cache is None:
        return extract(lm, built, desc=label, **kwargs)
    n_reads = sum(len(r.reads) for r in built)
    expect = (n_reads, lm.spec.n_states, lm.spec.hidden_size)
    alt = lm.spec.top_state != "no_final_norm"

    def compute() -> Extracted:
        # the states go to a spill file in the cache folder as they come, then into the
        # entry layer by layer: host memory holds one batch's states, not all of them
        result = extract(lm, built, desc=label, spill=cache.root, **kwargs)
        if result.shape != expect:
            raise InputError(f"{label}: extraction gave {result.shape}, expected {expect}")
        return result

    return cache.get_or_compute(cache_key(lm, built, label), compute, expect=expect, alt=alt)
