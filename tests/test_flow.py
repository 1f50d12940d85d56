"""Unit tests for nbagg.view.View: frame flow control, with a recording transport."""

from __future__ import annotations

import time

import numpy as np
import pytest

from nbagg.frames import EncodedUpdate, Frame, apply_update, encode_update
from nbagg.view import (
    ACK_EVERY,
    BLOCKED_INTERVAL,
    DEAD_VIEW_TIMEOUT,
    MAX_IN_FLIGHT,
    MAX_TRACKED,
    MIN_UNHEARD_INTERVAL,
    UNHEARD_PER_RTT,
    View,
)

HEIGHT, WIDTH = 12, 16


class Encoder:
    """encode_update, recording each (base, current) pair it was asked for."""

    def __init__(self):
        self.calls: list[tuple[Frame | None, Frame]] = []

    def __call__(self, base: Frame | None, current: Frame) -> EncodedUpdate:
        self.calls.append((base, current))
        return encode_update(base, current)


class Browser:
    """A recording ``send`` that also draws frames the way the front end does."""

    def __init__(self):
        self.sent: list[tuple[dict, list]] = []
        self.canvas: np.ndarray | None = None
        self.closes = 0

    def send(self, msg: dict, buffers: list) -> None:
        assert isinstance(buffers, list)
        self.sent.append((msg, buffers))

    def close(self) -> None:
        self.closes += 1

    @property
    def frames(self) -> list[dict]:
        return [msg for msg, _ in self.sent if msg["type"] == "frame"]

    def draw_all(self) -> None:
        """Draw every frame message received so far, in order, and forget them."""
        for msg, buffers in self.sent:
            if msg["type"] != "frame":
                continue
            assert len(buffers) == len(msg["rects"])
            update = EncodedUpdate(msg["full"], [tuple(r) for r in msg["rects"]], list(buffers))
            self.canvas = apply_update(self.canvas, update, msg["width"], msg["height"])
            assert self.canvas.shape == (msg["height"], msg["width"], 4)
        self.sent.clear()


class Figure:
    """Makes successive frames, each a small change of the previous one."""

    def __init__(self, seed: int = 0, dpr: float = 1.0):
        self.rng = np.random.default_rng(seed)
        self.version = 0
        self.dpr = dpr
        self.pixels = self.rng.integers(0, 256, (HEIGHT, WIDTH, 4), dtype=np.uint8)

    def frame(self, pixels: np.ndarray | None = None, dpr: float | None = None) -> Frame:
        self.version += 1
        if pixels is not None:
            self.pixels = pixels
        return Frame(self.pixels.copy(), self.dpr if dpr is None else dpr, self.version)

    def change(self) -> Frame:
        pixels = self.pixels.copy()
        y, x = int(self.rng.integers(0, HEIGHT - 2)), int(self.rng.integers(0, WIDTH - 3))
        pixels[y : y + 2, x : x + 3] ^= 0xFF  # always differs
        return self.frame(pixels)


@pytest.fixture
def browser():
    return Browser()


@pytest.fixture
def encoder():
    return Encoder()


@pytest.fixture
def figure():
    return Figure()


@pytest.fixture
def view(browser):
    return View("view-1", browser.send, 1.0, close=browser.close)


def test_first_offer_sends_a_full_frame_with_seq_1(view, browser, encoder, figure):
    frame = figure.frame()
    view.offer(frame, encoder)
    assert len(browser.sent) == 1
    msg, buffers = browser.sent[0]
    assert msg == {
        "type": "frame",
        "seq": 1,
        "ack": True,  # the first frame, then every ACK_EVERY-th frame asks to be acknowledged
        "width": WIDTH,
        "height": HEIGHT,
        "dpr": 1.0,
        "full": True,
        "rects": [[0, 0, WIDTH, HEIGHT]],
    }
    assert len(buffers) == 1 and buffers[0].startswith(b"\x89PNG")
    assert encoder.calls == [(None, frame)]
    assert view.in_flight == [1]
    assert view.base is frame
    assert view.frames_sent == 1
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, frame.pixels)


def test_second_offer_sends_a_partial_frame(view, browser, encoder, figure):
    first = figure.frame()
    view.offer(first, encoder)
    pixels = first.pixels.copy()
    pixels[3:5, 6:9] = (1, 2, 3, 4)
    second = figure.frame(pixels)
    view.offer(second, encoder)
    msgs = browser.frames
    assert [m["seq"] for m in msgs] == [1, 2]
    assert msgs[1]["full"] is False
    assert msgs[1]["rects"] == [[6, 3, 3, 2]]
    assert encoder.calls[1] == (first, second)
    assert view.in_flight == [1, 2]
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, second.pixels)


def test_saturated_view_sends_nothing_and_becomes_stale(view, browser, encoder, figure):
    for _ in range(MAX_IN_FLIGHT):
        view.offer(figure.change(), encoder)
    assert len(browser.frames) == MAX_IN_FLIGHT
    assert not view.stale
    calls = len(encoder.calls)
    for _ in range(5):
        view.offer(figure.change(), encoder)
    assert len(browser.frames) == MAX_IN_FLIGHT  # nothing queued, nothing sent
    assert len(encoder.calls) == calls  # and nothing encoded for it
    assert view.stale
    assert len(view.in_flight) == MAX_IN_FLIGHT


def test_ack_of_a_stale_view_leads_to_one_frame_against_what_it_has(view, browser, encoder, figure):
    sent = [figure.change() for _ in range(MAX_IN_FLIGHT)]
    for frame in sent:
        view.offer(frame, encoder)
    browser.draw_all()
    newest = None
    for _ in range(6):  # a backlog the view must never see
        newest = figure.change()
        view.offer(newest, encoder)
    assert view.stale
    assert browser.sent == []

    assert view.ack(1) is True  # room again, and a frame was missed
    view.offer(newest, encoder)  # what the manager does on a True ack
    assert len(browser.frames) == 1
    msg = browser.frames[0]
    assert msg["seq"] == MAX_IN_FLIGHT + 1
    assert msg["full"] is False
    assert encoder.calls[-1] == (sent[-1], newest)  # diffed against the last frame sent
    assert not view.stale
    assert view.base is newest
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, newest.pixels)


def test_ack_returns_false_when_nothing_was_missed(view, browser, encoder, figure):
    view.offer(figure.change(), encoder)
    view.offer(figure.change(), encoder)
    assert view.ack(1) is False
    assert view.in_flight == [2]
    assert view.ack(2) is False
    assert view.in_flight == []


def fill(view, encoder, figure):
    """Offer one frame more than the view can take: it ends full and stale."""
    for _ in range(MAX_IN_FLIGHT + 1):
        view.offer(figure.change(), encoder)
    assert view.full and view.stale


def test_ack_is_cumulative(view, browser, encoder, figure):
    fill(view, encoder, figure)
    assert view.ack(MAX_IN_FLIGHT) is True  # acknowledges every earlier frame as well
    assert view.in_flight == []


@pytest.mark.parametrize("seq", [0, MAX_IN_FLIGHT + 1, 99, -1, 2**53])
def test_acks_for_unknown_seqs_are_ignored(view, browser, encoder, figure, seq):
    fill(view, encoder, figure)
    assert view.ack(seq) is False  # even though the view is stale
    assert view.in_flight == list(range(1, MAX_IN_FLIGHT + 1))
    assert view.stale


def test_duplicate_ack_is_ignored(view, browser, encoder, figure):
    fill(view, encoder, figure)
    assert view.ack(1) is True
    assert view.ack(1) is False
    assert view.in_flight == list(range(2, MAX_IN_FLIGHT + 1))


def test_the_first_frame_then_every_ack_every_th_asks_for_an_ack(view, browser, encoder, figure):
    for _ in range(2 * MAX_IN_FLIGHT):
        view.offer(figure.change(), encoder)
        if view.full:
            view.ack(view.seq)
    asked = [msg["seq"] for msg in browser.frames if msg["ack"]]
    assert asked == [seq for seq in range(1, 2 * MAX_IN_FLIGHT + 1) if seq % ACK_EVERY == 0 or seq == 1]
    assert MAX_IN_FLIGHT % ACK_EVERY == 0  # a full view always has an ack coming


def test_a_view_idle_for_long_is_not_dead_when_it_fills_up(view, encoder, figure):
    view.last_ack -= 3600  # nothing to acknowledge for an hour
    fill(view, encoder, figure)
    assert not view.unresponsive(time.monotonic())
    assert view.unresponsive(time.monotonic() + DEAD_VIEW_TIMEOUT + 1)


def test_offering_the_same_frame_twice_sends_nothing(view, browser, encoder, figure):
    frame = figure.frame()
    view.offer(frame, encoder)
    view.offer(frame, encoder)
    assert len(browser.frames) == 1
    assert len(encoder.calls) == 1
    assert view.in_flight == [1]
    view.ack(1)
    view.offer(frame, encoder)
    assert len(browser.frames) == 1


def test_unchanged_frame_with_a_new_version_sends_nothing(view, browser, encoder, figure):
    first = figure.frame()
    view.offer(first, encoder)
    same = figure.frame(first.pixels.copy())
    assert same.version != first.version
    view.offer(same, encoder)
    assert len(browser.frames) == 1
    assert view.in_flight == [1]
    assert view.seq == 1
    assert view.frames_sent == 1
    assert view.base is same  # what the view shows is still exactly this frame
    # The next change is diffed against it and numbered right after the first frame.
    changed = figure.change()
    view.offer(changed, encoder)
    assert [m["seq"] for m in browser.frames] == [1, 2]
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, changed.pixels)


def test_stale_view_whose_newest_frame_matches_what_it_shows_gets_nothing(view, browser, encoder, figure):
    for _ in range(MAX_IN_FLIGHT - 1):
        view.offer(figure.change(), encoder)
    shown = figure.change()
    view.offer(shown, encoder)
    view.offer(figure.change(), encoder)  # stale
    back = figure.frame(shown.pixels.copy())  # the figure went back to what the view has
    view.offer(back, encoder)
    assert view.ack(MAX_IN_FLIGHT) is True
    view.offer(back, encoder)
    assert len(browser.frames) == MAX_IN_FLIGHT
    assert not view.stale
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, back.pixels)


def test_seq_increases_per_view(browser, encoder, figure):
    other = Browser()
    a = View("a", browser.send, 1.0)
    b = View("b", other.send, 1.0)
    frames = [figure.change() for _ in range(4)]
    for frame in frames:
        a.offer(frame, encoder)
        a.ack(a.seq)
    b.offer(frames[-1], encoder)
    assert [m["seq"] for m in browser.frames] == [1, 2, 3, 4]
    assert [m["seq"] for m in other.frames] == [1]
    assert other.frames[0]["full"] is True


def test_reset_makes_the_next_frame_full(view, browser, encoder, figure):
    frame = figure.frame()
    view.offer(frame, encoder)
    view.offer(figure.change(), encoder)
    view.reset()
    assert view.base is None
    assert view.in_flight == []
    newest = figure.change()
    view.offer(newest, encoder)
    msg = browser.frames[-1]
    assert msg["full"] is True
    assert msg["rects"] == [[0, 0, WIDTH, HEIGHT]]
    assert msg["seq"] == 3  # still increasing
    assert encoder.calls[-1] == (None, newest)
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, newest.pixels)


def test_reset_then_the_same_frame_again_is_sent_full(view, browser, encoder, figure):
    frame = figure.frame()
    view.offer(frame, encoder)
    view.reset()
    view.offer(frame, encoder)  # a refresh re-sends the current frame
    assert [m["full"] for m in browser.frames] == [True, True]


def test_reset_of_a_saturated_view_lets_the_next_frame_through(view, browser, encoder, figure):
    for _ in range(MAX_IN_FLIGHT + 1):
        view.offer(figure.change(), encoder)
    assert view.stale
    view.reset()
    newest = figure.change()
    view.offer(newest, encoder)
    assert browser.frames[-1]["full"] is True
    assert not view.stale
    assert view.ack(1) is False  # a frame from before the reset
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, newest.pixels)


@pytest.mark.parametrize("what", ["dpr", "shape"])
def test_new_dpr_or_shape_gives_a_full_frame(view, browser, encoder, figure, what):
    view.offer(figure.frame(), encoder)
    if what == "dpr":
        newest = figure.frame(dpr=2.0)
    else:
        newest = figure.frame(np.zeros((HEIGHT + 3, WIDTH - 1, 4), np.uint8))
    view.offer(newest, encoder)
    msg = browser.frames[-1]
    assert msg["full"] is True
    assert (msg["width"], msg["height"], msg["dpr"]) == (newest.width, newest.height, newest.dpr)
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, newest.pixels)


def test_close_calls_the_callback_once_and_stops_all_sending(view, browser, encoder, figure):
    view.offer(figure.change(), encoder)
    view.offer(figure.change(), encoder)
    view.offer(figure.change(), encoder)  # stale
    count, calls, seq = len(browser.sent), len(encoder.calls), view.seq
    view.close()
    view.close()
    assert browser.closes == 1
    assert view.closed
    view.send({"type": "title", "text": "x"})
    view.offer(figure.change(), encoder)
    view.ack(1)
    view.offer(figure.change(), encoder)
    view.reset()
    view.offer(figure.change(), encoder)
    assert len(browser.sent) == count
    assert len(encoder.calls) == calls  # a closed view encodes nothing
    assert view.seq == seq
    assert browser.closes == 1


def test_send_passes_messages_and_buffers_until_closed(view, browser):
    view.send({"type": "title", "text": "Figure 1"})
    view.send({"type": "download", "format": "png"}, [b"data"])
    assert browser.sent == [
        ({"type": "title", "text": "Figure 1"}, []),
        ({"type": "download", "format": "png"}, [b"data"]),
    ]


def test_default_close_callback_is_harmless(browser):
    view = View("v", browser.send, 1.0)
    view.close()
    assert view.closed


@pytest.mark.parametrize("seed", range(8))
def test_random_offers_and_acks_converge_to_the_newest_frame(seed):
    """A browser that acks late and out of step never sees a backlog and ends on the newest frame."""
    rng = np.random.default_rng(seed)
    browser, encoder, figure = Browser(), Encoder(), Figure(seed)
    view = View("v", browser.send, 1.0)
    newest = None
    drawn: list[int] = []  # seqs drawn by the browser, not yet acknowledged
    for _ in range(200):
        action = rng.integers(0, 5)
        if action <= 1:
            if rng.random() < 0.2:
                newest = figure.frame(figure.pixels.copy())  # same pixels, new version
            else:
                newest = figure.change()
            view.offer(newest, encoder)
        elif action == 2:
            drawn += [m["seq"] for m in browser.frames]
            browser.draw_all()
        elif action == 3 and drawn:
            if rng.random() < 0.5:
                seq = drawn.pop(0)  # one frame at a time
            else:
                seq = drawn[-1]  # cumulative: everything drawn so far
                drawn.clear()
            if view.ack(seq) and newest is not None:
                view.offer(newest, encoder)
        elif action == 4 and rng.random() < 0.05:
            view.reset()
            drawn.clear()
            if newest is not None:
                view.offer(newest, encoder)
        assert len(view.in_flight) <= MAX_IN_FLIGHT
        assert view.in_flight == sorted(view.in_flight)
    # Drain: draw and ack everything; a stale view then gets the newest frame.
    for _ in range(MAX_IN_FLIGHT + 2):
        seqs = drawn + [m["seq"] for m in browser.frames]
        drawn = []
        browser.draw_all()
        for seq in seqs:
            if view.ack(seq) and newest is not None:
                view.offer(newest, encoder)
    browser.draw_all()
    assert not view.stale
    assert view.in_flight == []
    assert newest is not None
    assert view.base is newest
    np.testing.assert_array_equal(browser.canvas, newest.pixels)


def test_a_view_with_an_unanswered_ping_gets_no_frames_until_it_answers(view, browser, encoder, figure):
    view.offer(figure.change(), encoder)
    view.ack(1)
    view.ping_sent = time.monotonic()  # a new view connected: this one may be a gone page's
    view.offer(figure.change(), encoder)
    assert len(browser.frames) == 1
    assert view.stale
    view.ping_sent = None  # its pong
    newest = figure.change()
    view.offer(newest, encoder)
    assert len(browser.frames) == 2
    browser.draw_all()
    np.testing.assert_array_equal(browser.canvas, newest.pixels)


def test_ping_pong_and_silence(view, browser):
    view.ping(100.0)
    view.ping(101.0)  # one ping out at a time
    assert [msg for msg, _ in browser.sent] == [{"type": "ping"}]
    assert not view.silent(104.9, timeout=5.0)
    assert view.silent(105.0, timeout=5.0)
    view.pong()
    assert not view.silent(200.0, timeout=5.0)


def test_release_frees_the_frame_and_stops_sending_without_closing_the_transport(view, browser, encoder, figure):
    view.offer(figure.change(), encoder)
    view.release()
    assert view.closed and view.base is None
    view.offer(figure.change(), encoder)
    assert len(browser.frames) == 1
    assert browser.closes == 0  # its comm is gone already, or the manager closes it


def test_excuse_restarts_the_silence_count(view, encoder, figure):
    fill(view, encoder, figure)
    later = time.monotonic() + DEAD_VIEW_TIMEOUT + 1
    assert view.unresponsive(later)
    view.excuse(later)  # a cell ran until then: no ack could arrive
    assert not view.unresponsive(later)
    view.excuse(0.0)  # never moves back
    assert not view.unresponsive(later)


def fill_up(view, figure, encoder, blocked=False):
    for _ in range(MAX_IN_FLIGHT):
        view.offer(figure.change(), encoder, blocked)
    assert view.full


def test_round_trips_measured_while_heard_pace_a_view_that_cannot_be_heard(view, figure, encoder, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    assert view.unheard_interval() == BLOCKED_INTERVAL  # nothing measured yet
    for _ in range(30):  # frames acknowledged 0.2 s after they were sent
        view.offer(figure.change(), encoder)
        clock[0] += 0.2
        view.ack(view.seq)
    assert view.rtt == pytest.approx(0.2, rel=0.01)
    assert view.unheard_interval() == pytest.approx(0.2 / UNHEARD_PER_RTT, rel=0.01)
    fill_up(view, figure, encoder, blocked=True)  # a cell runs: nothing is acknowledged
    sent = view.frames_sent
    for _ in range(40):  # the loop offers a frame every 0.025 s for 1 s
        clock[0] += 0.025
        view.offer(figure.change(), encoder, blocked=True)
    expected = UNHEARD_PER_RTT * 1.0 / 0.2  # frames per measured round trip, for 1 s
    assert expected - 1 <= view.frames_sent - sent <= expected  # (float steps)
    # The acknowledgement that comes after the cell measures the cell, not the link.
    clock[0] += 5
    view.ack(view.seq)
    assert view.rtt == pytest.approx(0.2, rel=0.01)


def test_unheard_pacing_is_bounded_and_in_flight_tracking_too(view, figure, encoder, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    view.offer(figure.change(), encoder)
    view.ack(view.seq)  # acknowledged at once: a round trip of 0
    assert view.unheard_interval() == MIN_UNHEARD_INTERVAL
    for _ in range(MAX_TRACKED * 3):  # a long loop in a cell, nothing heard
        clock[0] += 1.0
        view.offer(figure.change(), encoder, blocked=True)
    assert len(view.in_flight) == MAX_TRACKED and len(view._sent_at) <= MAX_TRACKED
    view.ack(view.seq)  # the cell ended: the newest acknowledgement frees the view
    assert view.in_flight == [] and not view.full


def test_a_view_heard_on_a_subshell_gets_nothing_once_full_while_a_cell_runs(view, figure, encoder, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    view.offer(figure.change(), encoder)
    view.ack(view.seq, off_main_thread=True)
    fill_up(view, figure, encoder, blocked=True)
    sent = view.frames_sent
    for _ in range(20):
        clock[0] += 0.5
        view.offer(figure.change(), encoder, blocked=True)
    assert view.frames_sent == sent  # it says itself when it has room
    view.ack(view.seq, off_main_thread=True)
    view.offer(figure.change(), encoder, blocked=True)
    assert view.frames_sent == sent + 1
