"""Pure frame logic: compare two RGBA frames, find what changed, encode it as PNG.

Nothing here knows about comms, kernels or matplotlib, so it can be tested and
benchmarked on plain arrays.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

Rect = tuple[int, int, int, int]  # x, y, width, height in physical pixels, origin top-left

BAND = 32  # rows compared as one horizontal band
MAX_GAP = 32  # unchanged columns shorter than this between two changes are sent anyway
MAX_RECTS = 24  # past this many rectangles, one bounding box is cheaper to send
PNG_COMPRESS_LEVEL = 1  # zlib level: fast; frames are short-lived


@dataclass(frozen=True, eq=False)
class Frame:
    """One rendered image of a figure. ``version`` increases with every render."""

    pixels: np.ndarray  # (height, width, 4) uint8, never modified after creation
    dpr: float
    version: int

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]


def needs_full_frame(base: Frame | None, current: Frame) -> bool:
    """A view without a frame of the same size and scale must get the whole image."""
    return base is None or base.pixels.shape != current.pixels.shape or base.dpr != current.dpr


def _runs(mask: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Half-open index ranges of True values, merging runs separated by < max_gap."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def dirty_rects(previous: np.ndarray, current: np.ndarray) -> list[Rect]:
    """Rectangles covering every pixel that differs between two same-shape RGBA images.

    The image is cut into horizontal bands; within a band, changed columns are grouped
    into runs and each run is trimmed to the rows that really changed. Vertically
    adjacent rectangles with the same columns are merged. Too many rectangles collapse
    into their bounding box.
    """
    if previous.shape != current.shape:
        raise ValueError(f"frame shapes differ: {previous.shape} vs {current.shape}")
    # Compare whole RGBA pixels as one 32-bit word each: one pass, no per-channel reduce.
    changed = previous.view(np.uint32)[..., 0] != current.view(np.uint32)[..., 0]
    if not changed.any():
        return []
    height = changed.shape[0]
    rects: list[Rect] = []
    open_rects: dict[tuple[int, int], int] = {}  # columns -> index of a rect ending at this band's top
    for top in range(0, height, BAND):
        band = changed[top : top + BAND]
        next_open: dict[tuple[int, int], int] = {}
        for x0, x1 in _runs(band.any(axis=0), MAX_GAP):
            rows = np.flatnonzero(band[:, x0:x1].any(axis=1))
            y0, y1 = top + int(rows[0]), top + int(rows[-1]) + 1
            above = open_rects.get((x0, x1))
            if above is not None and y0 == top:
                ax, ay, aw, _ = rects[above]
                rects[above] = (ax, ay, aw, y1 - ay)
                index = above
            else:
                rects.append((x0, y0, x1 - x0, y1 - y0))
                index = len(rects) - 1
            if y1 == min(top + BAND, height):
                next_open[(x0, x1)] = index
        open_rects = next_open
    if len(rects) > MAX_RECTS:
        return [bounding_box(rects)]
    return rects


def bounding_box(rects: list[Rect]) -> Rect:
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return (x0, y0, x1 - x0, y1 - y0)


def encode_png(pixels: np.ndarray, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """PNG bytes of an RGBA array (any slice of a frame), built for speed.

    Every row uses PNG filter type 0 (none): Pillow chooses filters adaptively per row,
    which costs more than the zlib pass itself and, on plots, buys almost nothing in size
    (measured in benchmarks/results/experiments/fast_png.md: 3.3x faster encoding, same
    bytes per frame). Any PNG decoder reads these files.
    """
    height, width = pixels.shape[:2]
    raw = np.empty((height, width * 4 + 1), np.uint8)
    raw[:, 0] = 0  # the filter type byte that starts every row
    raw[:, 1:].reshape(height, width, 4)[...] = pixels  # a view: splitting an axis never copies
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(raw, compress_level)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


def encode_png_compact(pixels: np.ndarray) -> bytes:
    """PNG bytes for images that are kept (notebook outputs): smaller, slower to make."""
    image = Image.fromarray(np.ascontiguousarray(pixels), "RGBA")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


@dataclass(frozen=True)
class EncodedUpdate:
    """What a view needs to go from ``base`` to ``current``: rectangles and their PNGs."""

    full: bool
    rects: list[Rect]
    pngs: list[bytes]

    @property
    def empty(self) -> bool:
        return not self.rects


def encode_update(base: Frame | None, current: Frame, rects: list[Rect] | None = None) -> EncodedUpdate:
    """Encode the change from ``base`` (what a view shows) to ``current``.

    ``rects``: ``dirty_rects(base.pixels, current.pixels)`` when the caller has it already.
    """
    if needs_full_frame(base, current):
        rect = (0, 0, current.width, current.height)
        return EncodedUpdate(True, [rect], [encode_png(current.pixels)])
    if rects is None:
        rects = dirty_rects(base.pixels, current.pixels)
    pngs = [encode_png(current.pixels[y : y + h, x : x + w]) for x, y, w, h in rects]
    return EncodedUpdate(False, rects, pngs)


def apply_update(canvas: np.ndarray | None, update: EncodedUpdate, width: int, height: int) -> np.ndarray:
    """Decode an update onto a copy of ``canvas``: what a browser does, for tests and tools."""
    out = np.zeros((height, width, 4), np.uint8) if update.full or canvas is None else canvas.copy()
    for (x, y, w, h), png in zip(update.rects, update.pngs):
        out[y : y + h, x : x + w] = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    return out
