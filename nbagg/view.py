"""One view of a figure: a comm to one browser output, with its frame flow control.

Flow control is plain bookkeeping so it can be tested without a kernel: the kernel
sends at most ``MAX_IN_FLIGHT`` unacknowledged frames to a view. When a view is full it
is marked stale instead of queueing; its next ``ack`` triggers one frame diffed against
what that view really has, so a slow browser always catches up to the newest state.
The browser acknowledges only the frames that ask for it (every ``ACK_EVERY``-th one;
acknowledgements are cumulative), which halves the messages going back to the kernel
and the kernel status messages each of them causes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .frames import EncodedUpdate, Frame
from .order import InputOrder

log = logging.getLogger("nbagg")

# Enough frames in flight to keep the pipe full across a round trip (~100 ms) at the
# screen's refresh rate; the browser paints at most one frame per display frame and acks
# after painting, so a fast animation is paced by the screen, not by this window.
# Measured against 2, 4 and 8 in docs/benchmarks.md. A view that falls behind still gets
# the newest frame, never a backlog.
MAX_IN_FLIGHT = 8
ACK_EVERY = 2  # must divide MAX_IN_FLIGHT, so that a full view always has an ack coming
# A view full for this long is lagging (a slow or background tab): frames are drawn for
# the others without waiting for it; it gets the newest frame when it acknowledges.
LAG_TIMEOUT = 0.5
# While user code keeps the main thread busy (a loop in a cell, plt.pause) a view whose
# acknowledgements cannot be heard (no subshell) gets, once full, UNHEARD_PER_RTT frames
# per round trip measured while it was heard (a quarter of the window: a pace that
# browser and link sustained with frames in flight), within these bounds; one per
# BLOCKED_INTERVAL before any round trip was measured.
UNHEARD_PER_RTT = 2
BLOCKED_INTERVAL = 0.1
MIN_UNHEARD_INTERVAL = 1 / 60
MAX_UNHEARD_INTERVAL = 1.0
RTT_WEIGHT = 0.2  # of a new round trip in the moving average
# At most this many frames are remembered as in flight (seq, send time): a view that
# cannot be heard during a long loop would otherwise grow them until the cell ends.
MAX_TRACKED = 64
# A view that has acknowledged nothing for this long while frames wait is considered gone
# (tab closed or reloaded before its goodbye got out, network dropped): it is dropped and
# its memory freed. A browser that was only asleep sees its comm close and reconnects.
DEAD_VIEW_TIMEOUT = 15.0

Send = Callable[[dict, list], None]
Encoder = Callable[[Frame | None, Frame], EncodedUpdate]


class View:
    def __init__(self, view_id: str, send: Send, dpr: float, close: Callable[[], None] = lambda: None):
        self.id = view_id
        self.dpr = dpr
        self._send = send
        self._close = close
        self.base: Frame | None = None  # the newest frame this view was sent
        self.in_flight: list[int] = []  # seq numbers sent and not yet acknowledged
        self.full_since: float | None = None  # time.monotonic() when the view became full
        self.stale = False  # a newer frame exists that this view has not been sent
        self.seq = 0
        self.frames_sent = 0
        self.last_sent = 0.0  # time.monotonic() of the last frame sent
        self.last_ack = time.monotonic()  # or connection time: the view's last sign of life
        self.ping_sent: float | None = None  # when a ping went out that is not answered yet
        self.closed = False
        self.order = InputOrder()  # its messages, back in the order it sent them
        self.gap_timer = None  # armed while order holds messages (comm.py)
        self._lock = threading.Lock()  # in_flight: acks may come on a subshell thread
        # Its acknowledgements come on a subshell (comm.py): heard while a cell runs.
        self.heard_while_busy = False
        self._sent_at: dict[int, float] = {}  # seq -> send time, of frames in flight
        self.rtt: float | None = None  # moving average of frame round trips (send to ack)

    def send(self, msg: dict, buffers: list | None = None) -> None:
        if not self.closed:
            self._send(msg, buffers or [])

    def offer(self, frame: Frame, encode: Encoder, blocked: bool = False) -> None:
        """A new frame exists: send it now if the view has room, else remember it is stale.

        ``blocked`` says user code keeps the main thread busy (a running cell, plt.pause),
        so acknowledgements reach it only if they come on a subshell (``heard_while_busy``).
        """
        if self.closed or frame is self.base:
            return
        if self.ping_sent is not None:
            # Probably the view of a page that has gone (a new view just connected): no
            # frames until it answers; its pong brings the newest frame.
            self.stale = True
            return
        now = time.monotonic()
        if blocked and not self.heard_while_busy:
            self.last_ack = now  # acknowledgements cannot arrive now: not the view's fault
        if self.full and not (blocked and self.can_take_unheard(now)):
            self.stale = True
            return
        self.last_sent = now
        self.stale = False
        update = encode(self.base, frame)
        self.base = frame
        if update.empty:
            return
        self.seq += 1
        with self._lock:
            self.in_flight.append(self.seq)
            if not blocked:  # an ack after a blocked stretch measures the stretch, not the link
                self._sent_at[self.seq] = now
            if len(self.in_flight) > MAX_TRACKED:
                self._sent_at.pop(self.in_flight.pop(0), None)
            if self.full and self.full_since is None:
                self.full_since = now
        self.frames_sent += 1
        msg = {
            "type": "frame",
            "seq": self.seq,
            # The first frame asks too: its round trip paces a loop in a cell that cannot
            # be heard (unheard_interval) even for a figure that never changed since.
            "ack": self.seq % ACK_EVERY == 0 or self.seq == 1,
            "width": frame.width,
            "height": frame.height,
            "dpr": frame.dpr,
            "full": update.full,
            "rects": [list(r) for r in update.rects],
        }
        self.send(msg, update.pngs)

    @property
    def full(self) -> bool:
        return len(self.in_flight) >= MAX_IN_FLIGHT

    def lagging(self, now: float) -> bool:
        """Full for longer than LAG_TIMEOUT: do not hold the other views back for it."""
        return self.full_since is not None and now - self.full_since > LAG_TIMEOUT

    def close(self) -> None:
        """Stop sending and close the transport (idempotent)."""
        if not self.closed:
            self.closed = True
            self._close()

    def release(self) -> None:
        """The figure let this view go: send nothing more and free its frame now."""
        self.closed = True
        self.base = None

    def ping(self, now: float) -> None:
        """Ask the browser to answer (unless a ping is out already): a new view often means
        a reloaded page, whose old views could not say goodbye."""
        if self.ping_sent is None:
            self.ping_sent = now
            self.send({"type": "ping"})

    def pong(self) -> None:
        """The browser answered the ping: the view is alive."""
        self.ping_sent = None

    def silent(self, now: float, timeout: float) -> bool:
        """A ping has waited for an answer at least ``timeout`` seconds."""
        return self.ping_sent is not None and now - self.ping_sent >= timeout

    def excuse(self, now: float) -> None:
        """Acknowledgements could not arrive before ``now`` (a cell ran): count from now."""
        self.last_ack = max(self.last_ack, now)

    def ack(self, seq: int, off_main_thread: bool = False) -> bool:
        """The browser drew frame ``seq`` (and, frames being ordered, all before it).

        Returns True when the view has room again and missed a frame meanwhile.
        ``off_main_thread``: heard on a subshell thread, as it is while a cell runs.
        """
        if off_main_thread:
            self.heard_while_busy = True
        with self._lock:
            if seq not in self.in_flight:
                return False
            now = time.monotonic()
            self.last_ack = now
            sent = self._sent_at.get(seq)
            if sent is not None:
                sample = now - sent
                self.rtt = sample if self.rtt is None else self.rtt + RTT_WEIGHT * (sample - self.rtt)
            self.in_flight = [s for s in self.in_flight if s > seq]
            self._sent_at = {s: t for s, t in self._sent_at.items() if s > seq}
            if not self.full:
                self.full_since = None
        return self.stale

    def can_take_unheard(self, now: float) -> bool:
        """While user code keeps the main thread busy: whether a frame may go now. A view
        whose acknowledgements come on a subshell says itself when it has room; one that
        cannot be heard gets at most one frame per BLOCKED_INTERVAL once it is full."""
        if not self.full:
            return True
        return not self.heard_while_busy and now - self.last_sent >= self.unheard_interval()

    def unheard_interval(self) -> float:
        """Seconds between frames to a full view that cannot be heard (see BLOCKED_INTERVAL)."""
        if self.rtt is None:
            return BLOCKED_INTERVAL
        return min(max(self.rtt / UNHEARD_PER_RTT, MIN_UNHEARD_INTERVAL), MAX_UNHEARD_INTERVAL)

    def unresponsive(self, now: float, timeout: float | None = None) -> bool:
        """Frames have waited for an acknowledgement longer than the timeout."""
        limit = DEAD_VIEW_TIMEOUT if timeout is None else timeout
        if not self.full:
            return False
        # Counted from the later of the last ack and the moment the view filled up: a view
        # idle for an hour has not acknowledged anything for an hour, and is not dead.
        return now - max(self.last_ack, self.full_since or 0.0) > limit

    def reset(self) -> None:
        """Forget what the view shows: the next frame is full (refresh, reconnect)."""
        self.base = None
        with self._lock:
            self.in_flight.clear()
            self._sent_at.clear()
            self.full_since = None
