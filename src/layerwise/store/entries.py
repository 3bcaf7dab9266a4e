"""The file format of an array entry of the cache (:mod:`.cache`): a safetensors file.

An entry ``<key>.safetensors`` holds one float32 tensor ``[n, d]`` per layer,
``layer_000`` (the embedding output) to ``layer_<n_states - 1>``, and ``top_alt``
(``[n, d]``, the top layer in the other final-norm convention) when the model has one.
Its header metadata (strings) holds ``format`` (:data:`FORMAT`), the ``key``, ``shape``
(``n,n_states,d``), ``top_alt`` (``yes``/``no``) and ``sha256``: a digest of the other
metadata, of every tensor's name, dtype and shape and of its bytes (:func:`digest`), so
every byte of an entry is checked by something (the library checks the header's tensor
table against the file's length, the digest the rest).

Why safetensors (and not a ``.npy`` per layer with a JSON sidecar): one file per entry,
so an entry is still written atomically by one rename and verified as one thing; the
maintained ``safetensors`` library reads a layer by name
(``safe_open(path, framework="np").get_tensor("layer_003")``) without reading the others,
and checks the header; any safetensors reader (``safetensors.numpy.load_file``) opens an
entry. The library's writers take every tensor in memory at once, so :func:`write_arrays`
writes the (documented, JSON) header itself and streams the layers one at a time: host
memory holds one layer while an entry is written from extraction's spill file.

Each :meth:`EntryLayers.layer` opens the file, copies that layer out and closes it, so
the memory map the library uses never keeps the pages of every layer mapped (they would
count as the process's memory). The format's version is in the file's name (an older
``.npz`` entry is never opened: it is recomputed once) and in ``format``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open

from ..extract.states import Extracted

#: The version of an entry's layout, in its ``format`` metadata; the file suffix
#: (:data:`SUFFIX`) changes with it so that an entry of an older layout is never opened.
FORMAT = "3"
#: The file suffix of an array entry.
SUFFIX = ".safetensors"
#: The name of the alternate top-layer tensor.
TOP_ALT = "top_alt"


def _raw(block: np.ndarray) -> np.ndarray:
    """The bytes of the C-contiguous ``block`` as a flat uint8 view (no copy; empty allowed)."""
    return block.reshape(-1).view(np.uint8)


def layer_name(k: int) -> str:
    """The tensor name of layer ``k`` (0 = embedding output): ``layer_000``."""
    return f"layer_{int(k):03d}"


def digest(meta: dict[str, str], tensors: Iterable[tuple[str, np.ndarray]]) -> str:
    """sha256 (hex) of ``meta`` without its ``sha256`` field (as sorted JSON) and of each
    ``(name, array)`` in order: its name, dtype, shape and C-ordered bytes."""
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True).encode())
    for name, array in tensors:
        block = np.ascontiguousarray(array)
        h.update(f"\n{name} {block.dtype.str} {list(block.shape)}\n".encode())
        h.update(_raw(block))
    return h.hexdigest()


def _tensors(result: Extracted) -> Iterable[tuple[str, np.ndarray]]:
    """``result``'s tensors in the entry's order, one layer at a time, as ``<f4``."""
    for k in range(result.n_states):
        yield layer_name(k), np.ascontiguousarray(result.layer(k), dtype="<f4")
    if result.top_alt is not None:
        yield TOP_ALT, np.ascontiguousarray(result.top_alt, dtype="<f4")


def _written(handle: Any, tensors: Iterable[tuple[str, np.ndarray]]):
    """Each of ``tensors``, its bytes written to ``handle`` as it passes."""
    for name, block in tensors:
        handle.write(_raw(block))
        yield name, block


def _read(path: Path, name: str) -> np.ndarray:
    """The tensor ``name`` of the safetensors file ``path``, the file closed again (its
    memory map released)."""
    with safe_open(path, framework="np") as entry:
        return entry.get_tensor(name)


def entry_metadata(key: str, result: Extracted) -> dict[str, str]:
    """The entry's header metadata for ``result`` under ``key``, with ``sha256`` computed
    (reads every layer once); what a writer other than :func:`write_arrays` (the
    library's ``save_file``) stores for the cache to accept its file."""
    meta = _plain_metadata(key, result)
    meta["sha256"] = digest(meta, _tensors(result))
    return meta


def _plain_metadata(key: str, result: Extracted) -> dict[str, str]:
    n, n_states, d = result.shape
    return {
        "format": FORMAT,
        "key": key,
        "shape": f"{n},{n_states},{d}",
        "top_alt": "no" if result.top_alt is None else "yes",
        "sha256": "0" * 64,
    }


def write_arrays(handle: Any, key: str, result: Extracted) -> None:
    """Write ``result`` under ``key`` as a safetensors file to the seekable binary
    ``handle``, one layer at a time: the header (8-byte little-endian length, then JSON
    padded with spaces to a multiple of 8) with a placeholder digest, the layers, then
    the digest written over its placeholder (same length, so no offset moves)."""
    n, n_states, d = result.shape
    if result.top_alt is not None and tuple(result.top_alt.shape) != (n, d):
        raise ValueError(f"top_alt of shape {result.top_alt.shape} for states {result.shape}")
    meta = _plain_metadata(key, result)
    table: dict[str, Any] = {"__metadata__": meta}
    size = n * d * 4
    names = [layer_name(k) for k in range(n_states)]
    names += [TOP_ALT] if result.top_alt is not None else []
    for i, name in enumerate(names):
        table[name] = {"dtype": "F32", "shape": [n, d], "data_offsets": [i * size, (i + 1) * size]}
    header = json.dumps(table, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    placeholder = header.index(b'"sha256":"' + b"0" * 64) + len(b'"sha256":"')
    start = handle.tell()
    handle.write(len(header).to_bytes(8, "little"))
    handle.write(header)
    sha = digest(meta, _written(handle, _tensors(result)))
    end = handle.tell()
    handle.seek(start + 8 + placeholder)
    handle.write(sha.encode())
    handle.seek(end)


class EntryLayers:
    """The layers of an entry file, read one at a time through ``safetensors``: a
    :class:`~layerwise.extract.states.LayerSource` of ``shape`` ``(n, n_states, d)``.

    Raises :class:`OSError` naming the file and the remedy when it is gone or damaged
    after it was verified.
    """

    def __init__(self, path: str | os.PathLike[str], shape: tuple[int, int, int]) -> None:
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)

    def layer(self, k: int) -> np.ndarray:
        """Layer ``k`` (0 = embeddings) as a new float32 array ``[n, d]``."""
        n, n_states, d = self.shape
        if not 0 <= int(k) < n_states:
            raise IndexError(f"layer {k} of {n_states} states")
        try:
            out = _read(self.path, layer_name(k))
        except (SafetensorError, OSError) as err:
            raise OSError(
                f"the cache entry {self.path} could not be read at layer {k} ({err}); it "
                "changed or vanished after it was verified. Remedy: run again (the entry "
                "is recomputed), and do not edit or remove cache files during a run."
            ) from err
        if out.dtype != np.float32 or out.shape != (n, d):
            raise OSError(f"{self.path}: layer {k} is {out.dtype} {out.shape}, not ({n}, {d})")
        return out


def read_entry(path: Path, *, verify: bool) -> tuple[dict, EntryLayers, np.ndarray | None]:
    """An array entry's metadata, its layers (on disk, :class:`EntryLayers`) and
    ``top_alt``; ``verify``: check the digest (:func:`digest`), reading one layer at a
    time. Raises ValueError, OSError or ``safetensors.SafetensorError`` for a file that is
    not a valid entry of this format (truncated, corrupted, another layout)."""
    with safe_open(path, framework="np") as entry:
        meta = entry.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"not a layerwise cache entry of format {FORMAT}")
        try:
            n, n_states, d = (int(s) for s in meta["shape"].split(","))
        except (KeyError, ValueError) as err:
            raise ValueError(f"bad shape metadata {meta.get('shape')!r}") from err
        names = [layer_name(k) for k in range(n_states)]
        names += [TOP_ALT] if meta.get("top_alt") == "yes" else []
        if sorted(entry.keys()) != sorted(names):
            raise ValueError(f"tensors {sorted(entry.keys())} where {n_states} layers are expected")
        for name in names:
            part = entry.get_slice(name)
            if part.get_dtype() != "F32" or list(part.get_shape()) != [n, d]:
                raise ValueError(
                    f"{name} is {part.get_dtype()} {part.get_shape()}, not F32 [{n}, {d}]"
                )
        top_alt = entry.get_tensor(TOP_ALT) if TOP_ALT in names else None
    if verify:  # one tensor at a time, each read's memory map released before the next
        found = digest(meta, ((name, _read(path, name)) for name in names))
        if meta.get("sha256") != found:
            raise ValueError("checksum mismatch")
    return meta, EntryLayers(path, (n, n_states, d)), top_alt


def file_identity(path: Path) -> tuple[int, int, int, int, int]:
    """Device, inode, size, mtime and ctime of ``path``: a file whose bytes changed has
    another (the ctime moves with every write, even when the mtime is set back)."""
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
