"""Unit tests for nbagg.frames: dirty rectangles, PNG encoding, update round trips."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from nbagg.frames import (
    BAND,
    MAX_GAP,
    MAX_RECTS,
    EncodedUpdate,
    Frame,
    apply_update,
    dirty_rects,
    encode_png,
    encode_update,
)


def blank(height: int, width: int, value: int = 255) -> np.ndarray:
    return np.full((height, width, 4), value, np.uint8)


def changed_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(axis=2)


def assert_covers(rects, previous: np.ndarray, current: np.ndarray) -> None:
    """Every rect is non-empty, inside the image, holds a change; every change is in a rect."""
    height, width = current.shape[:2]
    changed = changed_mask(previous, current)
    covered = np.zeros_like(changed)
    for x, y, w, h in rects:
        assert all(isinstance(v, int) for v in (x, y, w, h)), rects
        assert w > 0 and h > 0, rects
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height, (rects, current.shape)
        assert changed[y : y + h, x : x + w].any(), f"rect {(x, y, w, h)} holds no change"
        covered[y : y + h, x : x + w] = True
    assert not (changed & ~covered).any(), "a changed pixel lies outside every rect"
    assert len(rects) <= MAX_RECTS


# -- dirty_rects ----------------------------------------------------------------------


def test_identical_frames_have_no_dirty_rects():
    a = blank(100, 80)
    assert dirty_rects(a, a.copy()) == []
    assert dirty_rects(a, a) == []


@pytest.mark.parametrize("x, y", [(0, 0), (79, 99), (37, 41), (5, BAND), (5, BAND - 1)])
def test_single_changed_pixel_gives_one_1x1_rect_at_that_pixel(x, y):
    a = blank(100, 80)
    b = a.copy()
    b[y, x] = (1, 2, 3, 4)
    assert dirty_rects(a, b) == [(x, y, 1, 1)]


@pytest.mark.parametrize("channel", [0, 1, 2, 3])
def test_a_change_in_any_single_channel_is_seen(channel):
    a = blank(10, 10)
    b = a.copy()
    b[3, 4, channel] = 0
    assert dirty_rects(a, b) == [(4, 3, 1, 1)]


def test_two_far_apart_changes_give_two_rects():
    a = blank(200, 300)
    b = a.copy()
    b[10:14, 20:25] = 0  # top left
    b[150:160, 250:270] = 0  # bottom right, other bands and far more than MAX_GAP columns away
    rects = dirty_rects(a, b)
    assert sorted(rects) == [(20, 10, 5, 4), (250, 150, 20, 10)]


def test_two_changes_in_one_band_far_apart_in_x_give_two_rects():
    a = blank(20, 300)
    b = a.copy()
    b[2, 10] = 0
    b[5, 10 + MAX_GAP + 1] = 0  # MAX_GAP unchanged columns between them: kept apart
    assert sorted(dirty_rects(a, b)) == [(10, 2, 1, 1), (10 + MAX_GAP + 1, 5, 1, 1)]


def test_close_changes_in_one_band_merge_into_one_rect():
    a = blank(20, 300)
    b = a.copy()
    b[2, 10] = 0
    b[5, 10 + MAX_GAP] = 0  # fewer than MAX_GAP unchanged columns between them: sent together
    assert dirty_rects(a, b) == [(10, 2, MAX_GAP + 1, 4)]


def test_change_spanning_several_bands_in_same_columns_is_one_rect():
    a = blank(6 * BAND, 100)
    b = a.copy()
    b[5 : 4 * BAND + 7, 30:40] = 0  # crosses four band boundaries
    assert dirty_rects(a, b) == [(30, 5, 10, 4 * BAND + 2)]


def test_same_columns_in_two_bands_with_unchanged_rows_between_stay_apart():
    a = blank(3 * BAND, 100)
    b = a.copy()
    b[2:5, 30:40] = 0
    b[BAND + 10 : BAND + 12, 30:40] = 0
    assert dirty_rects(a, b) == [(30, 2, 10, 3), (30, BAND + 10, 10, 2)]


def test_full_column_change_over_whole_image_is_one_rect():
    a = blank(5 * BAND + 3, 40)  # height not a multiple of BAND
    b = a.copy()
    b[:, 7] = 0
    assert dirty_rects(a, b) == [(7, 0, 1, 5 * BAND + 3)]


def test_many_scattered_changes_collapse_to_bounding_box():
    a = blank(40 * BAND, 400)
    b = a.copy()
    # One isolated pixel per band, alternating far-apart columns: one rect each, none merge.
    points = [(10 + 300 * (i % 2), i * BAND + 3 + (i % 5)) for i in range(MAX_RECTS + 5)]
    for x, y in points:
        b[y, x] = 0
    rects = dirty_rects(a, b)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    assert rects == [(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)]


def test_exactly_max_rects_changes_are_kept_apart():
    a = blank(MAX_RECTS * BAND, 400)
    b = a.copy()
    for i in range(MAX_RECTS):
        b[i * BAND + 1, 10 + 300 * (i % 2)] = 0
    rects = dirty_rects(a, b)
    assert len(rects) == MAX_RECTS
    assert all(w == 1 and h == 1 for _, _, w, h in rects)


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((10, 10, 4), (10, 11, 4)), ((10, 10, 4), (11, 10, 4)), ((1, 1, 4), (2, 2, 4))],
)
def test_shape_mismatch_raises_value_error(shape_a, shape_b):
    with pytest.raises(ValueError, match="shapes differ"):
        dirty_rects(np.zeros(shape_a, np.uint8), np.zeros(shape_b, np.uint8))


def _random_case(rng: np.random.Generator, height: int, width: int):
    previous = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    current = previous.copy()
    style = rng.integers(0, 4)
    if style == 0:  # a few scattered pixels
        n = int(rng.integers(0, 6))
        ys, xs = rng.integers(0, height, n), rng.integers(0, width, n)
        current[ys, xs, rng.integers(0, 4, n)] ^= 0x5A
    elif style == 1:  # a handful of random blocks
        for _ in range(int(rng.integers(1, 5))):
            y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
            y1, x1 = int(rng.integers(y0, height)) + 1, int(rng.integers(x0, width)) + 1
            current[y0:y1, x0:x1] = rng.integers(0, 256, 4, dtype=np.uint8)
    elif style == 2:  # sparse noise: many rects, often more than MAX_RECTS
        mask = rng.random((height, width)) < 0.01
        current[mask] = ~current[mask]
    else:  # dense noise
        mask = rng.random((height, width)) < 0.5
        current[mask, 3] ^= 1
    return previous, current


SIZES = [(1, 1), (1, 7), (7, 1), (1, 300), (300, 1), (33, 33), (31, 65), (97, 131), (64, 64), (257, 3)]


@pytest.mark.parametrize("case", range(50))
def test_random_frames_rects_cover_every_change_and_lie_inside(case):
    rng = np.random.default_rng(1000 + case)
    if case < len(SIZES):
        height, width = SIZES[case]
    else:
        height, width = (int(v) for v in rng.integers(1, 260, 2))
    previous, current = _random_case(rng, height, width)
    rects = dirty_rects(previous, current)
    assert_covers(rects, previous, current)
    assert (rects == []) == (not changed_mask(previous, current).any())


def test_dirty_rects_on_cropped_views_of_a_larger_buffer():
    rng = np.random.default_rng(7)
    big_a = rng.integers(0, 256, (120, 150, 4), dtype=np.uint8)
    big_b = big_a.copy()
    big_b[40:45, 60:70] = 0
    a, b = big_a[10:100, 20:130], big_b[10:100, 20:130]  # non-contiguous rows
    rects = dirty_rects(a, b)
    assert rects == [(40, 30, 10, 5)]


# -- encode_png -------------------------------------------------------------------------


def decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    return np.asarray(image)


def test_encode_png_round_trips_rgba_including_transparent_pixels():
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (23, 17, 4), dtype=np.uint8)
    pixels[0, 0] = (0, 0, 0, 0)  # fully transparent black
    pixels[1, 1] = (200, 10, 30, 0)  # fully transparent with colour: must not be premultiplied away
    pixels[2, 2] = (255, 255, 255, 1)
    pixels[:, 5, 3] = 0  # a transparent column
    pixels[3, 3] = (12, 34, 56, 128)  # half transparent
    out = decode(encode_png(pixels))
    assert out.shape == pixels.shape
    np.testing.assert_array_equal(out, pixels)


def test_encode_png_of_a_non_contiguous_slice():
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    part = pixels[5:20, 7:31]
    assert not part.flags.c_contiguous
    np.testing.assert_array_equal(decode(encode_png(part)), part)


@pytest.mark.parametrize("shape", [(1, 1, 4), (1, 9, 4), (9, 1, 4)])
def test_encode_png_tiny_images(shape):
    pixels = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    np.testing.assert_array_equal(decode(encode_png(pixels)), pixels)


# -- encode_update / apply_update ---------------------------------------------------------


def round_trip(base: Frame | None, current: Frame, canvas: np.ndarray | None) -> tuple[EncodedUpdate, np.ndarray]:
    update = encode_update(base, current)
    assert len(update.rects) == len(update.pngs)
    return update, apply_update(canvas, update, current.width, current.height)


def test_full_update_when_there_is_no_base():
    rng = np.random.default_rng(5)
    current = Frame(rng.integers(0, 256, (30, 40, 4), dtype=np.uint8), 1.0, 1)
    update, out = round_trip(None, current, None)
    assert update.full
    assert update.rects == [(0, 0, 40, 30)]
    assert not update.empty
    np.testing.assert_array_equal(out, current.pixels)


def test_full_update_when_the_shape_changes():
    rng = np.random.default_rng(6)
    base = Frame(rng.integers(0, 256, (30, 40, 4), dtype=np.uint8), 1.0, 1)
    current = Frame(rng.integers(0, 256, (35, 41, 4), dtype=np.uint8), 1.0, 2)
    update, out = round_trip(base, current, base.pixels)
    assert update.full
    assert update.rects == [(0, 0, 41, 35)]
    np.testing.assert_array_equal(out, current.pixels)


def test_full_update_when_the_dpr_changes_even_with_identical_pixels():
    pixels = np.random.default_rng(8).integers(0, 256, (20, 20, 4), dtype=np.uint8)
    base = Frame(pixels, 1.0, 1)
    current = Frame(pixels.copy(), 2.0, 2)
    update, out = round_trip(base, current, base.pixels)
    assert update.full
    assert not update.empty
    np.testing.assert_array_equal(out, current.pixels)


def test_full_update_replaces_transparent_areas_instead_of_blending():
    base = Frame(np.full((8, 8, 4), 200, np.uint8), 1.0, 1)
    current_pixels = np.zeros((8, 8, 4), np.uint8)  # fully transparent
    current = Frame(current_pixels, 2.0, 2)
    _, out = round_trip(base, current, base.pixels)
    np.testing.assert_array_equal(out, current_pixels)


@pytest.mark.parametrize("case", range(12))
def test_partial_update_round_trips_exactly(case):
    rng = np.random.default_rng(2000 + case)
    height, width = (int(v) for v in rng.integers(1, 200, 2))
    previous, current_pixels = _random_case(rng, height, width)
    if not changed_mask(previous, current_pixels).any():
        current_pixels[0, 0, 0] ^= 1  # make sure something changed
    base = Frame(previous, 1.5, 1)
    current = Frame(current_pixels, 1.5, 2)
    update, out = round_trip(base, current, previous)
    assert not update.full
    assert update.rects == dirty_rects(previous, current_pixels)
    np.testing.assert_array_equal(out, current_pixels)
    np.testing.assert_array_equal(previous, base.pixels)  # apply_update works on a copy


def test_partial_update_is_smaller_than_the_frame():
    base_pixels = np.full((200, 300, 4), 255, np.uint8)
    current_pixels = base_pixels.copy()
    current_pixels[100:110, 150:170] = (255, 0, 0, 255)
    update = encode_update(Frame(base_pixels, 1.0, 1), Frame(current_pixels, 1.0, 2))
    assert not update.full
    assert update.rects == [(150, 100, 20, 10)]
    np.testing.assert_array_equal(decode(update.pngs[0]), current_pixels[100:110, 150:170])


def test_partial_update_with_transparent_pixels_overwrites_them():
    base_pixels = np.full((10, 10, 4), 255, np.uint8)
    current_pixels = base_pixels.copy()
    current_pixels[2:4, 2:5] = 0  # fully transparent: the browser clears then draws
    base, current = Frame(base_pixels, 1.0, 1), Frame(current_pixels, 1.0, 2)
    update, out = round_trip(base, current, base_pixels)
    assert update.rects == [(2, 2, 3, 2)]
    np.testing.assert_array_equal(out, current_pixels)


def test_update_is_empty_when_nothing_changed():
    pixels = np.random.default_rng(9).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    base = Frame(pixels, 1.0, 1)
    current = Frame(pixels.copy(), 1.0, 2)
    update, out = round_trip(base, current, pixels)
    assert update.empty
    assert not update.full
    assert update.rects == [] and update.pngs == []
    np.testing.assert_array_equal(out, pixels)


def test_chain_of_partial_updates_tracks_the_newest_frame():
    rng = np.random.default_rng(10)
    pixels = rng.integers(0, 256, (64, 96, 4), dtype=np.uint8)
    base = Frame(pixels, 1.0, 1)
    canvas = apply_update(None, encode_update(None, base), base.width, base.height)
    for version in range(2, 12):
        pixels = pixels.copy()
        y, x = int(rng.integers(0, 60)), int(rng.integers(0, 90))
        pixels[y : y + 4, x : x + 6] = rng.integers(0, 256, 4, dtype=np.uint8)
        current = Frame(pixels, 1.0, version)
        canvas = apply_update(canvas, encode_update(base, current), current.width, current.height)
        np.testing.assert_array_equal(canvas, pixels)
        base = current


def test_side_by_side_changes_spanning_several_bands_merge_vertically():
    # Two regions changing in the same rows (e.g. two animated subplots side by side): the
    # docstring promises vertically adjacent rects with the same columns are merged, so this
    # is two rects, not two per band (which past MAX_RECTS collapses into one wide bounding box).
    a = blank(40 * BAND, 300)
    b = a.copy()
    b[:, 10:12] = 0
    b[:, 200:203] = 0
    assert sorted(dirty_rects(a, b)) == [(10, 0, 2, 40 * BAND), (200, 0, 3, 40 * BAND)]


def test_encode_update_with_known_rects_matches_computing_them():
    rng = np.random.default_rng(11)
    base_pixels = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    current_pixels = base_pixels.copy()
    current_pixels[5:9, 10:30] = 7
    base, current = Frame(base_pixels, 1.0, 1), Frame(current_pixels, 1.0, 2)
    rects = dirty_rects(base_pixels, current_pixels)
    assert encode_update(base, current, rects) == encode_update(base, current)
