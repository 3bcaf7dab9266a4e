"""The file format of an array entry of the cache (:mod:`.cache`): a zip of uncompressed
``.npy`` members, ``layers`` (float32 ``[n_states, n, d]``, layer-major), ``top_alt``
(``[n, d]``, when present) and ``meta`` (the key and a sha256 of the arrays' bytes,
written last); written one layer at a time and read back as a
:class:`~layerwise.extract.states.RawLayers` without loading the layers.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..extract.states import Extracted, RawLayers

#: Bytes read at a time when an array entry is hashed or copied.
CHUNK = 1 << 20
#: A zip's local file header: signature, versions, flags, method, time, date, crc, sizes,
#: then the lengths of the name and of the extra field.
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": tuple(int(s) for s in shape)}
    )
    return buffer.getvalue()


def write_arrays(handle: Any, key: str, result: Extracted) -> None:
    """The zip of :meth:`Cache.save`, streamed from ``result`` one layer at a time."""
    n, n_states, d = result.shape
    digest = hashlib.sha256()
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open("layers.npy", "w", force_zip64=True) as member:
            member.write(_npy_header((n_states, n, d)))
            for k in range(n_states):
                block = np.ascontiguousarray(result.layer(k), dtype="<f4")
                digest.update(memoryview(block).cast("B"))
                member.write(memoryview(block).cast("B"))
        if result.top_alt is not None:
            alt = np.ascontiguousarray(result.top_alt, dtype="<f4")
            digest.update(b"top_alt")
            digest.update(memoryview(alt).cast("B"))
            with zf.open("top_alt.npy", "w") as member:
                member.write(_npy_header(alt.shape))
                member.write(memoryview(alt).cast("B"))
        meta = json.dumps({"key": key, "sha256": digest.hexdigest(), "format": 2})
        with zf.open("meta.npy", "w") as member:
            np.lib.format.write_array(member, np.array(meta), allow_pickle=False)


def _data_start(path: Path, info: zipfile.ZipInfo) -> int:
    """Byte offset in ``path`` of the first byte of the member ``info``."""
    with open(path, "rb") as raw:
        raw.seek(info.header_offset)
        fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if fields[0] != b"PK\x03\x04":
        raise ValueError("bad zip local header")
    return info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]


def _check_local_headers(path: Path, zf: zipfile.ZipFile) -> None:
    """ValueError when a member's local header disagrees with the central directory (its
    time, date or CRC): every byte of an entry is then checked by something."""
    with open(path, "rb") as raw:
        for info in zf.infolist():
            raw.seek(info.header_offset)
            fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
            y, mo, d, h, mi, s = info.date_time
            when = (h << 11 | mi << 5 | s // 2, (y - 1980) << 9 | mo << 5 | d)
            if fields[0] != b"PK\x03\x04" or (fields[4], fields[5]) != when:
                raise ValueError(f"the local header of {info.filename} is damaged")
            if fields[6] != info.CRC:
                raise ValueError(f"the CRC of {info.filename} differs in its two headers")


def _member_array_start(path: Path, zf: zipfile.ZipFile, name: str) -> tuple[int, tuple]:
    """Byte offset in ``path`` of the data of the float32 ``.npy`` member ``name`` (stored,
    not compressed) and its shape; ValueError for anything else."""
    info = zf.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{name} is compressed")
    with zf.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        header = member.tell()
    if fortran or dtype != np.dtype("<f4"):
        raise ValueError(f"{name} is not C-ordered little-endian float32 ({dtype})")
    start = _data_start(path, info) + header
    expected = int(np.prod(shape)) * 4
    if info.file_size != header + expected:
        raise ValueError(f"{name} holds {info.file_size - header} bytes, its shape {expected}")
    return start, tuple(int(s) for s in shape)


def read_entry(path: Path, *, verify: bool) -> tuple[dict, RawLayers, np.ndarray | None]:
    """An array entry's meta, its layers (on disk) and ``top_alt``; ``verify``: check the
    sha256 of the arrays' bytes against the meta, reading them in chunks. Raises
    ValueError, KeyError, OSError or zipfile.BadZipFile for an entry that is not valid."""
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        if not {"meta.npy", "layers.npy"} <= names:
            raise ValueError("not a layerwise cache entry (format 2)")
        with zf.open("meta.npy") as member:
            meta = json.loads(str(np.lib.format.read_array(member, allow_pickle=False)))
        if not isinstance(meta, dict):
            raise ValueError("meta is not a JSON object")
        start, shape = _member_array_start(path, zf, "layers.npy")
        if len(shape) != 3:
            raise ValueError(f"layers of shape {shape}")
        n_states, n, d = shape
        top_alt = None
        if "top_alt.npy" in names:
            with zf.open("top_alt.npy") as member:
                top_alt = np.lib.format.read_array(member, allow_pickle=False)
            if top_alt.dtype != np.dtype("<f4") or top_alt.shape != (n, d):
                raise ValueError(f"top_alt {top_alt.dtype} {top_alt.shape} does not match {shape}")
        if verify:
            _check_local_headers(path, zf)
            digest = hashlib.sha256()
            header = start - _data_start(path, zf.getinfo("layers.npy"))
            with zf.open("layers.npy") as member:  # zipfile checks the CRC at the end
                member.read(header)
                while chunk := member.read(CHUNK):
                    digest.update(chunk)
            if top_alt is not None:
                digest.update(b"top_alt")
                digest.update(memoryview(np.ascontiguousarray(top_alt)).cast("B"))
            if meta.get("sha256") != digest.hexdigest():
                raise ValueError("checksum mismatch")
    return meta, RawLayers(path, start, (n, n_states, d)), top_alt


def file_identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
