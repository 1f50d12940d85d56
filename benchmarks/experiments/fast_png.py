# Experiment: PNG frames without row filters, zlib level 1 (see README.md). Run via bench.py only.
import struct as _xstruct
import zlib as _xzlib

import numpy as _xnp

import nbagg.frames as _XF


def _x_chunk(tag, data):
    return _xstruct.pack(">I", len(data)) + tag + data + _xstruct.pack(">I", _xzlib.crc32(tag + data) & 0xFFFFFFFF)


def _x_encode_png(pixels, compress_level=1):
    h, w = pixels.shape[:2]
    raw = _xnp.empty((h, w * 4 + 1), _xnp.uint8)
    raw[:, 0] = 0  # filter type None on every row
    raw[:, 1:] = _xnp.ascontiguousarray(pixels).reshape(h, w * 4)
    ihdr = _xstruct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8-bit RGBA
    idat = _xzlib.compress(raw, 1)
    return b"\x89PNG\r\n\x1a\n" + _x_chunk(b"IHDR", ihdr) + _x_chunk(b"IDAT", idat) + _x_chunk(b"IEND", b"")


_XF.encode_png = _timed(_x_encode_png, "encode")  # noqa: F821 - defined by bench.py's profile setup
