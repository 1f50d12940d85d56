"""Unit tests for nbagg.scheduling: the frame-scheduling policy, with fake views and an
explicit clock (no kernel, no sleeps)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from nbagg.frames import Frame, encode_update
from nbagg.scheduling import (
    Deferred,
    FrameScheduler,
    Step,
    needs_catch_up,
    unresponsive,
    wants_frames,
)
from nbagg.view import BLOCKED_INTERVAL, DEAD_VIEW_TIMEOUT, LAG_TIMEOUT, MAX_IN_FLIGHT, View

T0 = 1000.0  # the clock when the test starts


@dataclass(eq=False)
class FakeView:
    """A view's public state, set by hand: full since a given time, dead from a given time."""

    name: str
    full_since: float | None = None
    stale: bool = False
    dead_at: float = float("inf")
    last_sent: float = T0

    @property
    def full(self) -> bool:
        return self.full_since is not None

    def can_take_unheard(self, now: float) -> bool:
        return not self.full or now - self.last_sent >= BLOCKED_INTERVAL  # no round trip measured

    def lagging(self, now: float) -> bool:
        return self.full_since is not None and now - self.full_since > LAG_TIMEOUT

    def unresponsive(self, now: float) -> bool:
        return self.full and now >= self.dead_at


def in_step(name: str) -> FakeView:
    return FakeView(name)


def full(name: str, since: float = T0) -> FakeView:
    return FakeView(name, full_since=since, stale=True)


@pytest.fixture
def scheduler() -> FrameScheduler:
    return FrameScheduler()


def plan(scheduler, views, now=T0, has_frame=True, blocked=False, capture=False):
    ask = scheduler.plan_capture if capture else scheduler.plan_draw
    return ask(views, now, has_frame=has_frame, blocked=blocked)


def test_views_in_step_draw_now(scheduler):
    result = plan(scheduler, [in_step("a"), in_step("b")])
    assert result.step is Step.NOW
    assert result.drop == ()
    assert result.resume_at is None
    assert scheduler.resume_at is None


def test_the_first_frame_and_a_figure_without_views_draw_now(scheduler):
    assert plan(scheduler, [full("a")], has_frame=False).step is Step.NOW
    assert plan(scheduler, []).step is Step.NOW
    assert scheduler.resume_at is None


def test_one_full_view_that_keeps_up_defers_for_all(scheduler):
    views = [in_step("a"), full("b")]
    result = plan(scheduler, views, now=T0 + LAG_TIMEOUT / 2)
    assert result.step is Step.DEFER
    assert result.deferred
    # If its ack never comes, look again once it would count as lagging.
    assert result.resume_at == T0 + LAG_TIMEOUT / 2 + LAG_TIMEOUT


def test_all_views_full_defers_even_when_they_all_lag(scheduler):
    views = [full("a"), full("b")]
    assert plan(scheduler, views, now=T0 + 10 * LAG_TIMEOUT).step is Step.DEFER


def test_a_lagging_view_does_not_hold_back_others(scheduler):
    views = [in_step("a"), full("slow")]
    assert plan(scheduler, views, now=T0 + LAG_TIMEOUT).step is Step.DEFER  # not lagging yet
    scheduler.resumed()
    result = plan(scheduler, views, now=T0 + LAG_TIMEOUT + 0.01)
    assert result.step is Step.NOW
    assert result.resume_at is None


def test_a_lagging_view_still_waits_for_a_full_one_that_keeps_up(scheduler):
    views = [in_step("a"), full("slow"), full("fast", since=T0 + 1.0)]
    assert plan(scheduler, views, now=T0 + 1.2).step is Step.DEFER


def test_unresponsive_views_are_dropped_and_the_rest_decides(scheduler):
    dead = FakeView("dead", full_since=T0, dead_at=T0 + DEAD_VIEW_TIMEOUT)
    alive = in_step("alive")
    result = plan(scheduler, [dead, alive], now=T0 + DEAD_VIEW_TIMEOUT)
    assert result.drop == (dead,)
    assert result.step is Step.NOW  # the full one is gone: the other has room
    assert unresponsive([dead, alive], T0 + DEAD_VIEW_TIMEOUT) == (dead,)
    assert unresponsive([dead, alive], T0 + 1.0) == ()


def test_when_every_view_is_dropped_the_frame_goes_out(scheduler):
    dead = FakeView("dead", full_since=T0, dead_at=T0 + 1)
    result = plan(scheduler, [dead], now=T0 + 2)
    assert result.drop == (dead,)
    assert result.step is Step.NOW


def test_the_resume_timer_is_started_once_until_it_fires(scheduler):
    views = [full("a")]
    first = plan(scheduler, views, now=T0)
    assert first.resume_at == T0 + LAG_TIMEOUT
    again = plan(scheduler, views, now=T0 + 0.1)
    assert again.step is Step.DEFER
    assert again.resume_at is None  # one timer pending already
    assert scheduler.request_resume(T0 + 0.2) is None  # a view closed meanwhile: same timer
    scheduler.resumed()
    assert scheduler.resume_at is None
    assert plan(scheduler, views, now=T0 + 0.6).resume_at == T0 + 0.6 + LAG_TIMEOUT


def test_request_resume_starts_a_timer_when_none_is_pending(scheduler):
    assert scheduler.request_resume(T0) == T0 + LAG_TIMEOUT
    assert scheduler.resume_at == T0 + LAG_TIMEOUT


def test_blocked_kernel_draws_for_a_full_view_at_the_blocked_pace_and_drops_nobody(scheduler):
    dead = FakeView("dead", full_since=T0, dead_at=T0)
    result = plan(scheduler, [full("a"), dead], now=T0 + 1, blocked=True)
    assert result.step is Step.NOW  # no ack could arrive to draw it soon: paced instead
    assert result.drop == ()
    assert scheduler.resume_at is None


def test_blocked_kernel_leaves_a_draw_pending_while_no_view_can_take_it(scheduler):
    just_sent = FakeView("a", full_since=T0, last_sent=T0 + 1)
    waiting = plan(scheduler, [just_sent], now=T0 + 1 + BLOCKED_INTERVAL / 2, blocked=True)
    assert waiting.step is Step.DEFER and waiting.drop == ()
    assert scheduler.resume_at is not None  # it runs once the loop does, if no ack came first
    assert plan(scheduler, [just_sent], now=T0 + 1 + BLOCKED_INTERVAL, blocked=True).step is Step.NOW
    # An acknowledgement heard on a subshell made room: draw at once.
    assert plan(scheduler, [in_step("a")], now=T0 + 1, blocked=True).step is Step.NOW


def test_a_deferred_capture_is_remembered_until_one_goes_out(scheduler):
    assert scheduler.deferred_work(draw_pending=False) is Deferred.NOTHING
    plan(scheduler, [full("a")], capture=True)
    assert scheduler.capture_deferred
    assert scheduler.deferred_work(draw_pending=False) is Deferred.CAPTURE
    assert scheduler.deferred_work(draw_pending=True) is Deferred.DRAW  # a draw captures too
    plan(scheduler, [in_step("a")], capture=True)
    assert not scheduler.capture_deferred
    assert scheduler.deferred_work(draw_pending=False) is Deferred.NOTHING


def test_a_deferred_draw_does_not_mark_a_capture(scheduler):
    assert plan(scheduler, [full("a")]).deferred
    assert not scheduler.capture_deferred


def test_forget_drops_a_deferred_capture(scheduler):
    plan(scheduler, [full("a")], capture=True)
    scheduler.forget()
    assert scheduler.deferred_work(draw_pending=False) is Deferred.NOTHING


def test_output_refreshes_while_blocked_are_paced(scheduler):
    def refresh(now, blocked=True, watched=False, shown=True):
        return scheduler.refresh_output(now, blocked=blocked, watched=watched, shown=shown)

    assert not refresh(T0, blocked=False)  # the loop runs: views connect and get frames
    assert not refresh(T0, watched=True)  # a view shows the frames
    assert not refresh(T0, shown=False)  # no output to refresh
    assert refresh(T0)
    assert not refresh(T0 + BLOCKED_INTERVAL / 2)
    assert refresh(T0 + BLOCKED_INTERVAL)
    assert not refresh(T0 + BLOCKED_INTERVAL * 1.5)


def test_wants_frames():
    assert wants_frames(watched=True, shown=False, blocked=False)
    assert wants_frames(watched=False, shown=True, blocked=True)
    assert not wants_frames(watched=False, shown=True, blocked=False)
    assert not wants_frames(watched=False, shown=False, blocked=True)


def test_catch_up_only_a_stale_view_with_room():
    assert needs_catch_up(FakeView("missed", stale=True))
    assert not needs_catch_up(FakeView("current"))
    assert not needs_catch_up(full("still full"))


def test_real_views_are_planned_by_their_own_clock(scheduler):
    """nbagg.view.View is what the manager passes: its fill time drives the decision."""
    sent: list[dict] = []
    keeps_up = View("a", lambda msg, buffers: sent.append(msg), 1.0)
    filling = View("b", lambda msg, buffers: sent.append(msg), 1.0)
    rng = np.random.default_rng(0)
    for version in range(1, MAX_IN_FLIGHT + 1):
        frame = Frame(rng.integers(0, 256, (4, 4, 4), dtype=np.uint8), 1.0, version)
        filling.offer(frame, encode_update)
    assert filling.full and filling.full_since is not None
    filled = filling.full_since
    assert plan(scheduler, [keeps_up, filling], now=filled + LAG_TIMEOUT / 2).deferred
    scheduler.resumed()
    assert not plan(scheduler, [keeps_up, filling], now=filled + 2 * LAG_TIMEOUT).deferred
    later = plan(scheduler, [keeps_up, filling], now=filled + 2 * DEAD_VIEW_TIMEOUT)
    assert later.drop == (filling,)
