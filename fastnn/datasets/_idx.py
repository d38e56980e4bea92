"""Reader for IDX files, the format MNIST and Fashion-MNIST are distributed in.

Layout (all big-endian): two zero bytes, a type code, the number of dimensions d, then d
uint32 sizes, then the values in row-major order. Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from typing import BinaryIO, Union

import numpy as np

__all__ = ["load_idx", "open_idx"]

PathLike = Union[str, "os.PathLike[str]"]

# Type code -> big-endian dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def load_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or plain) into an array of the shape it declares.

    Values come back in native byte order with the file's type (uint8, int8, int16, int32,
    float32 or float64). A file that is not IDX, or whose data does not match its header,
    raises ValueError naming the file and the problem.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if compressed else raw
            with stream:
                return _read_idx(stream, path)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({err})") from err


def _read_idx(stream: BinaryIO, path: str) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in IDX_DTYPES or magic[3] == 0:
        raise ValueError(
            f"{path}: not an IDX file: bad magic number {magic.hex() or '(empty file)'}; "
            "expected 0000, a type code (08, 09, 0b, 0c, 0d or 0e) and a dimension count >= 1"
        )
    dtype, ndim = IDX_DTYPES[magic[2]], magic[3]

    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions declared, "
            f"but only {len(sizes)} of their {4 * ndim} size bytes are present"
        )
    shape = tuple(int(s) for s in np.frombuffer(sizes, dtype=">u4"))

    # Read what is there rather than what the header asks for, so that a corrupt size
    # cannot make us allocate an absurd buffer before we notice.
    payload = stream.read()
    expected = math.prod(shape) * dtype.itemsize
    if len(payload) != expected:
        problem = "truncated" if len(payload) < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: IDX file {problem}: the header declares shape {shape} of "
            f"{dtype.name} ({expected} bytes of data), but {len(payload)} bytes follow it"
        )
    # astype to the native byte order also copies out of the read-only bytes buffer.
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def open_idx(path: PathLike) -> np.memmap:
    """Map an uncompressed IDX file without reading it: a read-only ``np.memmap`` of the
    shape and type the header declares (big-endian types as the file stores them).
    Rows are read from disk only when indexed, so a data-parallel rank that indexes its
    own rows never holds the whole set (fastnn.distributed.Rows). A gzip-compressed file
    cannot be mapped: ValueError saying so."""
    path = os.fspath(path)
    with open(path, "rb") as raw:
        if raw.read(2) == _GZIP_MAGIC:
            raise ValueError(
                f"{path} is gzip-compressed and cannot be memory-mapped; decompress it first "
                "(gunzip -k) or read it whole with load_idx"
            )
        raw.seek(0)
        header = raw.read(4)
        if len(header) == 4 and header[:2] == b"\0\0" and header[2] in IDX_DTYPES:
            sizes = raw.read(4 * header[3])
        else:
            sizes = b""
    if len(header) < 4 or header[:2] != b"\0\0" or header[2] not in IDX_DTYPES or header[3] == 0:
        raise ValueError(
            f"{path}: not an IDX file: bad magic number {header.hex() or '(empty file)'}; "
            "expected 0000, a type code (08, 09, 0b, 0c, 0d or 0e) and a dimension count >= 1"
        )
    dtype, ndim = IDX_DTYPES[header[2]], header[3]
    if len(sizes) < 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions declared)")
    shape = tuple(int(s) for s in np.frombuffer(sizes, dtype=">u4"))
    offset = 4 + 4 * ndim
    expected = math.prod(shape) * dtype.itemsize
    actual = os.path.getsize(path) - offset
    if actual != expected:
        problem = "truncated" if actual < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: IDX file {problem}: the header declares shape {shape} of {dtype.name} "
            f"({expected} bytes of data), but {actual} bytes follow it"
        )
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
