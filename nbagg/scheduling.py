"""Frame scheduling: when a figure draws, captures and offers frames to its views.

Frames are drawn on demand. While a view that keeps up is full (``MAX_IN_FLIGHT``
frames unacknowledged, see view.py), a new draw or capture would only wait, so a
``draw_idle`` (or a blit) just leaves the figure dirty and the next acknowledgement
draws (or captures) the newest state once. Views that keep up therefore move in step and
share every frame and its encoding. A view full for ``LAG_TIMEOUT`` is *lagging*: it no
longer holds the others back, and catches up with the newest frame when it acknowledges.
If no acknowledgement comes (the full view lags, died or was closed), a resume timer
looks again after ``LAG_TIMEOUT``. A view full and silent for ``DEAD_VIEW_TIMEOUT`` is
dropped.

While user code blocks the kernel's loop (a running cell; ``plt.pause``: the canvas is
``unheard``) acknowledgements cannot reach the main thread. Where the front end sends
them on a subshell (JupyterLab >= 4.4 with ipykernel 7) they are counted at once on
that thread (comm.py), so views still have room as fast as the browser paints; where
nothing can be heard, a full view gets frames at a pace set by the round trip measured
before (View.unheard_interval). A draw or capture that no view can take now stays
pending for the loop's next ``flush_events``/``draw`` or the end of the cell. A figure with no view yet during
``plt.pause`` has its output's image refreshed at most every ``BLOCKED_INTERVAL``.

This module only decides; the manager carries the decisions out (draws, drops views,
starts timers). Its inputs are the views' public state and a clock value passed in, so
it is tested deterministically without a kernel (tests/test_scheduling.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from .view import BLOCKED_INTERVAL, LAG_TIMEOUT


class ViewState(Protocol):
    """What scheduling reads of a view (nbagg.view.View provides it)."""

    @property
    def full(self) -> bool: ...

    @property
    def stale(self) -> bool: ...

    def lagging(self, now: float) -> bool: ...

    def unresponsive(self, now: float) -> bool: ...

    def can_take_unheard(self, now: float) -> bool: ...


V = TypeVar("V", bound=ViewState)


class Step(Enum):
    NOW = "now"  # draw or capture now and offer the frame to the views
    DEFER = "defer"  # leave the figure dirty: an ack (or the resume timer) draws once


class Deferred(Enum):
    """What waited while the views were full."""

    NOTHING = "nothing"
    DRAW = "draw"  # a draw_idle
    CAPTURE = "capture"  # a blit, drawn already: capture the renderer's buffer


@dataclass(frozen=True)
class Plan(Generic[V]):
    step: Step
    drop: tuple[V, ...] = ()  # views to drop first: silent for DEAD_VIEW_TIMEOUT
    resume_at: float | None = None  # start the resume timer, to fire at this clock time

    @property
    def deferred(self) -> bool:
        return self.step is Step.DEFER


def wants_frames(watched: bool, shown: bool, blocked: bool) -> bool:
    """Whether drawing is worth it: a view watches, or the kernel is blocked.

    While plt.pause() blocks the kernel a browser cannot connect a view (its comm open
    waits behind the running cell): draw anyway and refresh the output's image.
    """
    return watched or (shown and blocked)


def unresponsive(views: Sequence[V], now: float) -> tuple[V, ...]:
    """The views to drop: full, and no acknowledgement for DEAD_VIEW_TIMEOUT."""
    return tuple(view for view in views if view.unresponsive(now))


def needs_catch_up(view: ViewState) -> bool:
    """A view that missed frames while it could not take them, and now has room."""
    return view.stale and not view.full


class FrameScheduler:
    """The scheduling state of one figure: a deferred capture, the resume timer, and the
    pace of output refreshes while the kernel is blocked."""

    def __init__(self) -> None:
        self.capture_deferred = False  # blitted while the views were full: capture on ack
        self.resume_at: float | None = None  # when the pending resume timer fires
        self._last_blocked_publish = float("-inf")  # never

    def plan_draw(self, views: Sequence[V], now: float, *, has_frame: bool, blocked: bool) -> Plan[V]:
        """A draw_idle is pending: draw it now, or leave it for the next ack."""
        return self._plan(views, now, has_frame, blocked)

    def plan_capture(self, views: Sequence[V], now: float, *, has_frame: bool, blocked: bool) -> Plan[V]:
        """The canvas drew or blitted: offer the pixels now, or capture them again later."""
        plan = self._plan(views, now, has_frame, blocked)
        self.capture_deferred = plan.deferred
        return plan

    def _plan(self, views: Sequence[V], now: float, has_frame: bool, blocked: bool) -> Plan[V]:
        # The first frame goes out at once.
        if not has_frame or not views:
            return Plan(Step.NOW)
        if blocked:
            # Acks reach the main thread only when the cell ends (on a subshell they still
            # make room): draw when a view can take the frame, else leave it for the loop's
            # next flush_events or draw, an ack, or the resume timer once the loop runs.
            if any(view.can_take_unheard(now) for view in views):
                return Plan(Step.NOW)
            return Plan(Step.DEFER, resume_at=self.request_resume(now))
        drop = unresponsive(views, now)
        kept = [view for view in views if not any(view is gone for gone in drop)]
        full = [view for view in kept if view.full]
        # Nobody can take a frame, or one that keeps up is full: wait for its ack.
        if full and (len(full) == len(kept) or any(not view.lagging(now) for view in full)):
            return Plan(Step.DEFER, drop, self.request_resume(now))
        return Plan(Step.NOW, drop)

    def request_resume(self, now: float) -> float | None:
        """A deferred draw or capture normally happens on an ack; if none comes, look again
        once the full view would count as lagging. Returns when the timer should fire, or
        None if one is pending already (one timer at a time)."""
        if self.resume_at is not None:
            return None
        self.resume_at = now + LAG_TIMEOUT
        return self.resume_at

    def resumed(self) -> None:
        """The resume timer fired."""
        self.resume_at = None

    def deferred_work(self, draw_pending: bool) -> Deferred:
        """What to do now that a view may have room (an ack, the resume timer)."""
        if draw_pending:
            return Deferred.DRAW
        return Deferred.CAPTURE if self.capture_deferred else Deferred.NOTHING

    def refresh_output(self, now: float, *, blocked: bool, watched: bool, shown: bool) -> bool:
        """Whether to refresh the output's image: a plt.pause() loop runs and no view can
        connect to show its frames (at most every BLOCKED_INTERVAL)."""
        if not (blocked and not watched and shown) or now - self._last_blocked_publish < BLOCKED_INTERVAL:
            return False
        self._last_blocked_publish = now
        return True

    def forget(self) -> None:
        """The figure closed: nothing waits any more."""
        self.capture_deferred = False
