"""Hidden states held in memory or read from disk one layer at a time.

:class:`Extracted` is what extraction (:mod:`layerwise.extract.batched`) and the cache
(:mod:`layerwise.store.cache`) return: ``[n_reads, n_states, d]`` float32 states, layer 0
= embedding output, and ``top_alt``, the top layer in the other final-norm convention.
On disk (:class:`RawLayers`, extraction's layer-major spill file, or a cache entry:
:class:`layerwise.store.entries.EntryLayers`) or as a lazy view of other extractions
(:class:`TakenLayers`, :class:`StackedLayers`), :meth:`Extracted.layer` reads one layer
``[n, d]``, so an analysis holds one layer in memory, never all of them (chapter 2).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import InputError


class RawLayers:
    """Hidden states kept layer-major on disk: float32 ``[n_states, n, d]`` (little-endian,
    C order) from byte ``offset`` of the file ``path``, read one layer at a time, so a
    measurement holds one layer's ``[n, d]`` in memory, never ``[n, n_states, d]``.

    The file is read with plain reads (no memory map, whose touched pages would count as
    the process's memory). Raises :class:`OSError` when the file is gone or short.
    """

    def __init__(self, path: str | os.PathLike[str], offset: int, shape: tuple[int, int, int]):
        self.path = Path(path)
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in shape)  # (n, n_states, d)

    def layer(self, k: int) -> np.ndarray:
        """Layer ``k`` (0 = embeddings) as a new float32 array ``[n, d]``."""
        n, n_states, d = self.shape
        if not 0 <= int(k) < n_states:
            raise IndexError(f"layer {k} of {n_states} states")
        count = n * d
        with open(self.path, "rb") as handle:
            handle.seek(self.offset + int(k) * count * 4)
            out = np.fromfile(handle, dtype="<f4", count=count)
        if out.size != count:
            raise OSError(f"{self.path} is shorter than its {n_states} layers of {n} x {d}")
        return out.astype(np.float32, copy=False).reshape(n, d)


class LayerSource(Protocol):
    """Anything :class:`Extracted` reads its layers from: ``shape`` ``(n, n_states, d)`` and
    ``layer(k)``, layer ``k``'s ``[n, d]`` states (a :class:`RawLayers` file, a cache entry
    (:class:`layerwise.store.entries.EntryLayers`), a
    :class:`TakenLayers` or :class:`StackedLayers` view, or another :class:`Extracted`)."""

    @property
    def shape(self) -> tuple[int, int, int]: ...

    def layer(self, k: int) -> np.ndarray: ...


class TakenLayers:
    """The rows ``index`` (an int array into the source's ``n`` reads) of a
    :class:`LayerSource`, read lazily: :meth:`layer` reads the source's layer ``k`` and
    keeps those rows, so a subset or a reordering of reads (the ``wrapped`` and ``eos``
    halves of one extraction, the pairs of a task) costs one layer at a time, never all
    layers. Raises :class:`~layerwise.errors.InputError` for an index outside the source."""

    def __init__(self, source: LayerSource, index: np.ndarray | slice | Sequence[int]) -> None:
        n = source.shape[0]
        try:
            rows = np.arange(n)[index]
        except IndexError as err:
            raise InputError(f"reads {index!r} outside the {n} reads: {err}") from err
        if isinstance(source, TakenLayers):  # rows of rows: one index into the first source
            source, rows = source.source, source.index[rows]
        self.source = source
        self.index = np.asarray(rows, dtype=np.int64).reshape(-1)

    @property
    def shape(self) -> tuple[int, int, int]:
        _, n_states, d = self.source.shape
        return (len(self.index), n_states, d)

    def layer(self, k: int) -> np.ndarray:
        """Layer ``k`` (0 = embeddings) of the rows, a new float32 array ``[len(index), d]``."""
        return self.source.layer(k)[self.index]


class StackedLayers:
    """:class:`LayerSource` objects of the same number of layers and width, their reads one
    after another (``np.concatenate`` along the reads, one layer at a time). Raises
    :class:`~layerwise.errors.InputError` for no parts or parts of different shapes."""

    def __init__(self, parts: Sequence[LayerSource]) -> None:
        self.parts = list(parts)
        if not self.parts:
            raise InputError("nothing to stack: no parts")
        shapes = {tuple(p.shape[1:]) for p in self.parts}
        if len(shapes) != 1:
            raise InputError(f"parts of different layers and widths: {sorted(shapes)}")

    @property
    def shape(self) -> tuple[int, int, int]:
        n_states, d = self.parts[0].shape[1:]
        return (sum(p.shape[0] for p in self.parts), n_states, d)

    def layer(self, k: int) -> np.ndarray:
        """Layer ``k`` of every part, stacked: float32 ``[sum of the parts' n, d]``."""
        return np.concatenate([p.layer(k) for p in self.parts])


class Extracted:
    """Hidden states at the requested reads.

    ``states``: ``[n_reads, n_states, d]`` float32, layer 0 = embedding output;
    ``top_alt``: ``[n_reads, d]``, the top layer in the other final-norm
    convention (``None`` when the model has no final norm).

    The states are held in memory, or read from ``layers``, a :class:`LayerSource`: on
    disk (a cache entry, or extraction's spill file, a :class:`RawLayers`) or a lazy view
    of other states (:meth:`take`, :func:`stack`). Then :meth:`layer` reads one layer at a
    time, and ``states`` reads them all into memory on first use (the same numbers either
    way); a measurement that holds one layer at a time uses :meth:`layer` only.
    """

    def __init__(
        self,
        states: np.ndarray | None = None,
        top_alt: np.ndarray | None = None,
        *,
        layers: LayerSource | None = None,
    ) -> None:
        if (states is None) == (layers is None):
            raise InputError("Extracted needs the states in memory or on disk (one of them)")
        self._states = states
        self._layers = layers
        self.top_alt = top_alt

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(n_reads, n_states, d)``, without reading the states."""
        if self._states is not None:
            return tuple(self._states.shape)  # type: ignore[return-value]
        return tuple(self._layers.shape)  # type: ignore[union-attr, return-value]

    @property
    def n_states(self) -> int:
        return self.shape[1]

    @property
    def on_disk(self) -> bool:
        """Whether :meth:`layer` reads each layer from its source (a file, or a view of other
        states) because the states are not (yet) all in memory."""
        return self._states is None

    @property
    def file(self) -> Path | None:
        """The file the states are read from, a file source's ``path`` (None: in memory, or
        a view of other states)."""
        path = getattr(self._layers, "path", None)
        return None if path is None else Path(path)

    @property
    def states(self) -> np.ndarray:
        """All layers ``[n_reads, n_states, d]`` (read from disk on first use, then kept)."""
        if self._states is None:
            n, n_states, d = self.shape
            out = np.empty((n, n_states, d), dtype=np.float32)
            for k in range(n_states):
                out[:, k] = self._layers.layer(k)  # type: ignore[union-attr]
            self._states = out
        return self._states

    def layer(self, k: int) -> np.ndarray:
        """Layer ``k``'s states ``[n_reads, d]``; from a source, only that layer is read."""
        if self._states is not None:
            return self._states[:, k]
        return self._layers.layer(k)  # type: ignore[union-attr]

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, index: np.ndarray | slice | Sequence[int]) -> Extracted:
        """The reads at ``index`` (a slice, or integer positions, repeats allowed), as a lazy
        view (:class:`TakenLayers`): its :meth:`layer` reads this one's layer ``k`` only, and
        ``top_alt`` is indexed at once (one ``[n, d]`` array)."""
        rows = TakenLayers(self, index).index  # positions in this one's reads
        alt = None if self.top_alt is None else self.top_alt[rows]
        source = self if self._states is not None else self._layers
        return Extracted(top_alt=alt, layers=TakenLayers(source, rows))  # type: ignore[arg-type]


def stack(parts: Sequence[Extracted]) -> Extracted:
    """The reads of ``parts`` one after another, as a lazy view (:class:`StackedLayers`):
    layer ``k`` reads layer ``k`` of every part. ``top_alt`` is stacked when every part has
    one, else None. One part is returned as it is."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    alts = [p.top_alt for p in parts]
    alt = None if any(a is None for a in alts) else np.concatenate(alts)
    return Extracted(top_alt=alt, layers=StackedLayers(parts))
