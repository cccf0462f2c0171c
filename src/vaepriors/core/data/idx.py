"""The IDX format of (Fashion-)MNIST: a magic number (0, 0, element type, rank), big-endian uint32 sizes, raw data.

Only unsigned-byte files (type 0x08) occur in these datasets. The header is checked against the payload so that a
truncated or padded file fails loudly even where no checksum is known for it.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from vaepriors.core.data.checksums import DatasetError

_UNSIGNED_BYTE = 0x08


def read_idx_content(path: Path) -> bytes:
    """The decompressed content of an IDX file, ``.gz`` or raw."""
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise DatasetError(f"{path} is not a valid gzip file ({error}). Fix: replace it with the standard "
                           "file.") from None


def parse_idx(content: bytes, label: str, rank: int) -> np.ndarray:
    """The uint8 array of shape given by the header; ``label`` names the file in errors."""
    if len(content) < 4 + 4 * rank:
        raise DatasetError(f"{label}: malformed IDX file, {len(content)} bytes cannot hold a rank-{rank} header.")
    zero, element_type, file_rank = struct.unpack_from(">HBB", content)
    if zero != 0 or element_type != _UNSIGNED_BYTE or file_rank != rank:
        raise DatasetError(f"{label}: malformed IDX header {content[:4].hex()}, expected 0000{_UNSIGNED_BYTE:02x}"
                           f"{rank:02x} (unsigned bytes, rank {rank}).")
    shape = struct.unpack_from(f">{rank}I", content, 4)
    offset = 4 + 4 * rank
    expected = offset + int(np.prod(shape))
    if len(content) != expected:
        raise DatasetError(f"{label}: the IDX header declares shape {shape} ({expected} bytes with the header), "
                           f"but the file has {len(content)} bytes.")
    return np.frombuffer(content, dtype=np.uint8, offset=offset).reshape(shape)
