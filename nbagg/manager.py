"""FigureManager: one per figure. Holds the views, publishes the output, routes input.

Every figure has an id (a random hex string, not pyplot's reusable number) that the
output carries; browsers open one comm per view to that id (see comm.py).
"""

from __future__ import annotations

import atexit
import base64
import io
import logging
import time
import uuid
from contextlib import nullcontext
from typing import Any

import numpy as np
from matplotlib import is_interactive
from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import CloseEvent, FigureManagerBase, ResizeEvent

from . import frames, mainloop, protocol, scheduling
from .canvas import FigureCanvasNbagg, NavigationToolbarNbagg
from .errors import current_parent, publish_traceback
from .frames import EncodedUpdate, Frame, encode_png_compact
from .restore import RestoreTracker, apply_view, is_navigation
from .settings import MAX_STATE_BYTES
from .state import StateError, load_figure, verify_view
from .view import View

log = logging.getLogger("nbagg")

_DOWNLOAD_MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}

PING_TIMEOUT = 10.0  # seconds a view has to answer a ping before it is dropped
# The figure's restore state (see restore.py) goes to the views once changes settle:
# STATE_QUIET seconds without a new frame, or STATE_MAX_DELAY after the first unsent one
# during an endless animation. Sending it every few seconds was most of an animation's bytes.
STATE_QUIET = 1.0
STATE_MAX_DELAY = 30.0

# figure id -> manager, for every figure that has not been closed.
managers: dict[str, FigureManagerNbagg] = {}

# True once the interpreter exits (kernel shutdown or restart). pyplot's atexit hook then
# destroys every figure, which must tell the views nothing: the front end has already let
# them go, and a closing message or a static update_display would race with its own
# bookkeeping (and turn outputs that could be restored into plain images). atexit runs
# hooks last-in first-out, and _pylab_helpers (imported above) registered pyplot's first.
_exiting = False


def _on_exit() -> None:
    global _exiting
    _exiting = True


atexit.register(_on_exit)


def get_manager(figure_id: str) -> FigureManagerNbagg | None:
    return managers.get(figure_id)


class FigureManagerNbagg(FigureManagerBase):
    _toolbar2_class = NavigationToolbarNbagg

    def __init__(self, canvas, num):
        self.figure_id = uuid.uuid4().hex
        self.display_id = f"nbagg-{self.figure_id}"
        self.views: dict[str, View] = {}
        self.frame: Frame | None = None
        self.shown = False  # published at least once as an output
        self.pending_show = False  # created in interactive mode: show at the end of the cell
        self.closed = False
        self.display_parent: dict | None = None
        self.restore = RestoreTracker()
        self.input_view: View | None = None  # the view whose message is being handled
        self._state_since: float | None = None  # first change not yet in a sent state
        self._last_change = 0.0
        self.scheduler = scheduling.FrameScheduler()  # when to draw and send (see scheduling.py)
        self._version = 0
        self._encoded: dict[tuple[int, int], EncodedUpdate] = {}  # (base, current) versions
        self._known_rects: tuple[int, list] | None = None  # (base version, rects) to the newest frame
        self._title = f"Figure {num}"
        super().__init__(canvas, num)
        self.restore.watch(canvas.figure)
        managers[self.figure_id] = self
        # In interactive mode a new figure appears once, at the end of the cell
        # (see ipython.py), like matplotlib's desktop backends show it after the prompt.
        self.pending_show = is_interactive()

    # -- showing -----------------------------------------------------------------

    def show(self):
        """fig.show(): publish the figure once; later calls just redraw."""
        if self.shown:
            self.canvas.draw_idle()
        else:
            self.display()

    @classmethod
    def pyplot_show(cls, *, block=None):
        """plt.show(): publish every figure that has not been shown yet, in order."""
        for manager in Gcf.get_all_fig_managers():
            if isinstance(manager, cls) and not manager.shown:
                manager.display()

    def display(self) -> None:
        """Publish an output for this figure (one more view when the page renders it)."""
        from IPython.display import display

        self.pending_show = False
        self.shown = True
        self.display_parent = current_parent()  # tracebacks from callbacks go to this cell
        self.canvas.draw()
        data, metadata = self.mimebundle(live=True)
        display(data, raw=True, metadata=metadata, display_id=self.display_id)

    def publish_update(self) -> None:
        """Redraw and replace the image/png of every output of this figure."""
        from IPython.display import update_display

        self.canvas.draw()
        data, metadata = self.mimebundle(live=True)
        update_display(data, raw=True, metadata=metadata, display_id=self.display_id)

    def mimebundle(self, live: bool, with_state: bool = True) -> tuple[dict, dict]:
        """The output bundle of the newest render: our mime type (if live), a PNG and text."""
        # The renderer's buffer, not self.frame: while the views are full the newest
        # render is not captured as a frame yet (see scheduling.py), and outputs (the final
        # static image of a closed figure above all) must show the newest state.
        pixels = np.asarray(self.canvas.renderer.buffer_rgba())
        dpr = self.canvas.device_pixel_ratio
        css_w, css_h = round(pixels.shape[1] / dpr), round(pixels.shape[0] / dpr)
        png = base64.b64encode(encode_png_compact(pixels)).decode("ascii")
        self.restore.image_chars = len(png)
        axes = len(self.canvas.figure.axes)
        data: dict[str, Any] = {
            "image/png": png,
            "text/plain": f"<Figure {css_w}x{css_h} with {axes} Axes (nbagg)>",
        }
        if live:
            data[protocol.MIME_TYPE] = {
                "figure_id": self.figure_id,
                "width": css_w,
                "height": css_h,
                "protocol": protocol.PROTOCOL_VERSION,
            }
            restore = self.restore
            fields = restore.bundle_fields(self.canvas.figure, self.figure_id) if with_state else restore.fields()
            data[protocol.MIME_TYPE].update(fields)
        return data, {"image/png": {"width": css_w, "height": css_h}}

    # -- frames ------------------------------------------------------------------

    def wants_frames(self) -> bool:
        return scheduling.wants_frames(bool(self.views), self.shown, self.canvas.in_event_loop)

    def saturated(self) -> bool:
        """Whether a new frame now would only wait: a view that keeps up is full (see
        scheduling.py). The pending draw_idle is then drawn by the next ack."""
        return self._plan(capture=False).deferred

    def _plan(self, capture: bool) -> scheduling.Plan[View]:
        """Ask the scheduler about a draw (or a capture) now, and carry out what it says
        besides: drop the views it gives up on, start the resume timer it asks for."""
        now = time.monotonic()
        ask = self.scheduler.plan_capture if capture else self.scheduler.plan_draw
        plan = ask(list(self.views.values()), now, has_frame=self.frame is not None, blocked=self.canvas.unheard)
        for view in plan.drop:
            self._drop_unresponsive(view)
        self._start_resume_timer(plan.resume_at, now)
        return plan

    def _start_resume_timer(self, at: float | None, now: float) -> None:
        if at is not None:
            mainloop.call_later(at - now, mainloop.weakly(self._resume))

    def _resume(self) -> None:
        self.scheduler.resumed()
        if not self.closed:
            self._do_deferred()

    def _do_deferred(self) -> None:
        """Draw (or capture the blit) that waited while the views were full, if any."""
        work = self.scheduler.deferred_work(self.canvas.draw_pending)
        if work is scheduling.Deferred.DRAW:
            self.canvas.draw_if_pending()
        elif work is scheduling.Deferred.CAPTURE:
            self.canvas.capture_frame()

    def _catch_up(self, view: View) -> None:
        """A view that missed frames while it could not take them gets the newest one."""
        if self.frame is not None and scheduling.needs_catch_up(view):
            view.offer(self.frame, self._encode)

    def _drop_unresponsive(self, view: View) -> None:
        log.warning("nbagg: dropping view %s of figure %s: no acknowledgement", view.id, self.figure_id)
        view.close()  # closes its comm; a browser that was only asleep reconnects
        self.remove_view(view.id)

    def frame_ready(self, pixels: np.ndarray) -> None:
        """The canvas drew (or blitted): record the frame and offer it to every view."""
        if self.closed:
            return  # nobody can see it again (see destroy)
        if self._plan(capture=True).deferred:
            return  # captured when a view has room (scheduler.capture_deferred)
        previous = self.frame
        dpr = float(self.canvas.device_pixel_ratio)
        rects = None
        if previous is not None and previous.pixels.shape == pixels.shape and previous.dpr == dpr:
            # One pass tells both whether anything changed and, for every view that shows
            # the previous frame (all views that keep up), what to send.
            rects = frames.dirty_rects(previous.pixels, pixels)
            if not rects:
                return  # nothing changed: send nothing
        self._version += 1
        self.frame = Frame(pixels.copy(), dpr, self._version)
        self._encoded.clear()
        self._known_rects = (previous.version, rects) if rects else None
        self._schedule_state()
        blocked = self.canvas.in_event_loop
        if self.scheduler.refresh_output(time.monotonic(), blocked=blocked, watched=bool(self.views), shown=self.shown):
            self._publish_while_blocked()
        for view in scheduling.unresponsive(list(self.views.values()), time.monotonic()):
            self._drop_unresponsive(view)
        unheard = self.canvas.unheard
        for view in list(self.views.values()):
            view.offer(self.frame, self._encode, unheard)

    def _publish_while_blocked(self) -> None:
        """Refresh the output's image during a plt.pause() loop (no view can connect)."""
        from IPython.display import update_display

        data, metadata = self.mimebundle(live=True, with_state=False)
        update_display(data, raw=True, metadata=metadata, display_id=self.display_id)

    def _schedule_state(self) -> None:
        """After the figure changed, send views its signed state once changes settle: the
        browser keeps it in the output so a new kernel can restore the figure."""
        now = time.monotonic()
        self._last_change = now
        if self._state_since is None and self.views:
            self._state_since = now
            mainloop.call_later(STATE_QUIET, mainloop.weakly(self._send_state_when_settled))

    def _send_state_when_settled(self) -> None:
        if self._state_since is None:
            return
        now = time.monotonic()
        quiet_for = now - self._last_change
        waited = now - self._state_since
        # The state (often 100+ KB) is not flow-controlled: on a slow link it would queue in
        # front of the frames. Wait for full views too, up to STATE_MAX_DELAY.
        busy = any(view.full for view in self.views.values())
        if (quiet_for < STATE_QUIET or busy) and waited < STATE_MAX_DELAY:
            delay = min(max(STATE_QUIET - quiet_for, 0.1), STATE_MAX_DELAY - waited)
            mainloop.call_later(delay, mainloop.weakly(self._send_state_when_settled))
            return
        self._state_since = None
        if not self.closed and self.views:
            msg = self.restore.settled_message(self.canvas.figure, self.figure_id)
            if msg is not None:
                self.broadcast(msg)

    def _encode(self, base: Frame | None, current: Frame) -> EncodedUpdate:
        """Encode once for all views that share the same base frame."""
        key = (base.version if base is not None else 0, current.version)
        update = self._encoded.get(key)
        if update is None:
            known = self._known_rects
            rects = known[1] if known and base is not None and known[0] == base.version else None
            update = self._encoded[key] = frames.encode_update(base, current, rects)
        return update

    # -- views -------------------------------------------------------------------

    def add_view(self, view: View) -> None:
        with self.restore.navigation():  # its density is not a change
            self._add_view(view)

    def _add_view(self, view: View) -> None:
        self._ping_views()
        self.views[view.id] = view
        toolbar = self.toolbar
        view.send({"type": "title", "text": self.get_window_title() or ""})
        if self.canvas.capture_scroll:
            view.send({"type": "capture_scroll", "value": True})
        if toolbar is not None:
            view.send(toolbar.mode_message())
            view.send(toolbar.history_message())
        self._apply_dpr()
        if self.frame is None or self.canvas.figure.stale or self.canvas.draw_pending:
            if not self.canvas.draw_reporting_errors() and self.frame is not None:
                view.offer(self.frame, self._encode)  # the last good frame
        else:
            view.offer(self.frame, self._encode)

    def _ping_views(self) -> None:
        """A new view often means a reloaded page whose old views could not say goodbye:
        ask the existing views to answer, and drop those that stay silent."""
        if not self.views:
            return
        now = time.monotonic()
        for view in self.views.values():
            view.ping(now)
        mainloop.call_later(PING_TIMEOUT, mainloop.weakly(self._drop_silent_views))

    def _drop_silent_views(self) -> None:
        now = time.monotonic()
        for view in list(self.views.values()):
            if view.silent(now, PING_TIMEOUT):
                log.info("nbagg: dropping view %s of figure %s: no answer to ping", view.id, self.figure_id)
                view.close()
                self.remove_view(view.id)

    def remove_view(self, view_id: str) -> None:
        view = self.views.pop(view_id, None)
        if view is not None:
            view.release()
            with self.restore.navigation():
                self._apply_dpr()
            if self.views:  # it may have held back a deferred draw
                now = time.monotonic()
                self._start_resume_timer(self.scheduler.request_resume(now), now)

    def broadcast(self, msg: dict, buffers: list | None = None) -> None:
        for view in list(self.views.values()):
            view.send(msg, buffers)

    def _apply_dpr(self) -> None:
        """Render at the sharpest density any view asks for; others scale down."""
        dpr = max((v.dpr for v in self.views.values()), default=self.canvas.device_pixel_ratio)
        if self.canvas._set_device_pixel_ratio(dpr):
            self.canvas.draw_idle()

    # -- input from a view (messages already validated by protocol.parse) -------------

    def handle(self, view: View, msg: dict) -> None:
        handler = self._handlers[msg["type"]]
        navigating = is_navigation(msg, self.canvas)
        self.input_view = view  # what a key press answers goes to this view alone
        try:
            with self.restore.navigation() if navigating else nullcontext():
                handler(self, view, msg)
        finally:
            self.input_view = None

    def _on_ack(self, view, msg):
        view.ack(msg["seq"])
        self._do_deferred()  # drawn on demand (see scheduling.py)
        self._catch_up(view)  # a lagging view

    def _on_pong(self, view, msg):
        view.pong()
        self._catch_up(view)  # frames were held back while the ping was unanswered

    def _on_mouse(self, view, msg):
        self.canvas.handle_mouse(msg)

    def _on_scroll(self, view, msg):
        self.canvas.handle_scroll(msg)

    def _on_key(self, view, msg):
        self.canvas.handle_key(msg)

    def _on_toolbar(self, view, msg):
        if self.toolbar is None:
            raise protocol.ProtocolError("this figure has no toolbar")
        action = {
            "home": self.toolbar.home,
            "back": self.toolbar.back,
            "forward": self.toolbar.forward,
            "pan": self.toolbar.pan,
            "zoom": self.toolbar.zoom,
        }[msg["action"]]
        action()

    def _on_resize(self, view, msg):
        dpr = self.canvas.device_pixel_ratio
        width, height = protocol.clamp_size(msg["width"], msg["height"], dpr)
        fig = self.canvas.figure
        logical_dpi = fig.dpi / dpr
        fig.set_size_inches(width / logical_dpi, height / logical_dpi, forward=False)
        ResizeEvent("resize_event", self.canvas)._process()
        self.canvas.draw_idle()

    def _on_dpr(self, view, msg):
        view.dpr = msg["dpr"]
        self._apply_dpr()

    def _on_download(self, view, msg):
        self.send_download(view, msg["format"])

    def _on_refresh(self, view, msg):
        view.reset()
        if self.frame is not None:
            view.offer(self.frame, self._encode)

    def _on_close(self, view, msg):
        Gcf.destroy(self)

    def _on_output_removed(self, view, msg):
        # The browser removed the output holding this view (cell re-run, output cleared,
        # cell deleted). A figure nobody can see any more is closed, so re-running a cell
        # does not pile figures up. A page reload only closes the comm: not a close.
        self.remove_view(view.id)
        if not self.views:
            Gcf.destroy(self)

    _handlers = {
        "ack": _on_ack,
        "mouse": _on_mouse,
        "scroll": _on_scroll,
        "key": _on_key,
        "toolbar": _on_toolbar,
        "resize": _on_resize,
        "dpr": _on_dpr,
        "download": _on_download,
        "refresh": _on_refresh,
        "close": _on_close,
        "output_removed": _on_output_removed,
        "pong": _on_pong,
    }

    def send_download(self, view: View | None, fmt: str) -> None:
        """Render the current view to a file and send it to one view (or all)."""
        out = io.BytesIO()
        fig = self.canvas.figure
        # Save at the logical dpi so a download does not depend on the screen's density.
        fig.savefig(out, format=fmt, dpi=fig.dpi / self.canvas.device_pixel_ratio)
        name = _safe_filename(self.get_window_title()) + "." + fmt
        msg = {"type": "download", "format": fmt, "mime": _DOWNLOAD_MIME[fmt], "filename": name}
        targets = [view] if view is not None else list(self.views.values())
        for target in targets:
            target.send(msg, [out.getvalue()])

    # -- closing -----------------------------------------------------------------

    def get_window_title(self):
        return self._title

    def set_window_title(self, title):
        """Figure label (plt.figure('name'), set_window_title): shown by every view as text."""
        # Stored here: matplotlib < 3.10's base manager keeps no title (it answers 'image').
        self._title = "" if title is None else str(title)
        if getattr(self, "views", None):
            self.broadcast({"type": "title", "text": self.get_window_title() or ""})

    def full_screen_toggle(self):
        """Key 'f': the browser's nearest equivalent, full screen for the figure element
        of the view that pressed it (from code: every view)."""
        if self.input_view is not None:
            self.input_view.send({"type": "fullscreen"})
        else:
            self.broadcast({"type": "fullscreen"})

    def report_error(self, exc: BaseException, context: str) -> None:
        """A user callback raised: traceback into the figure's cell, summary to its views."""
        publish_traceback(exc, self.display_parent or current_parent(), context)
        self.broadcast({"type": "error", "code": "callback_error", "message": f"{type(exc).__name__}: {exc}"})

    def destroy(self):
        """plt.close(fig): views show the last frame; outputs become static images."""
        if self.closed:
            return
        self.closed = True
        managers.pop(self.figure_id, None)
        try:
            CloseEvent("close_event", self.canvas)._process()  # stops animations, user hooks
        except Exception as exc:
            self.report_error(exc, "a close_event callback")
        if _exiting:
            self.views.clear()
            return
        for view in list(self.views.values()):
            view.send({"type": "closed"})
            view.close()
            view.release()
        self.views.clear()
        if self.shown and self.frame is not None:
            self._publish_static()
        # Free the frames now, not when the figure is collected: a closed figure the user
        # still refers to (a list of figures, `fig` in a loop) keeps only matplotlib's own.
        self.frame = None
        self._encoded.clear()
        self._known_rects = None
        self.scheduler.forget()
        self._state_since = None

    def _publish_static(self) -> None:
        from IPython.display import update_display

        try:
            data, metadata = self.mimebundle(live=False)
            update_display(data, raw=True, metadata=metadata, display_id=self.display_id)
        except Exception:
            log.exception("nbagg: could not publish the final frame of figure %s", self.figure_id)


def restore_figure(figure_id: str, state: dict, view: dict | None = None) -> FigureManagerNbagg:
    """Bring back a figure from its verified stored state (and view) under its old id."""
    import matplotlib
    import matplotlib.pyplot as plt

    if matplotlib.get_backend() != "module://nbagg":
        raise StateError("select nbagg in this kernel first (%load_ext nbagg, then %matplotlib notebook)")
    figure = load_figure(state, figure_id, MAX_STATE_BYTES)  # verified before unpickling
    manager = figure.canvas.manager
    if not isinstance(manager, FigureManagerNbagg):  # pickled outside pyplot
        num = max(plt.get_fignums(), default=0) + 1
        manager = FigureCanvasNbagg.new_manager(figure, num)
        Gcf._set_new_active_manager(manager)
    managers.pop(manager.figure_id, None)
    manager.figure_id = figure_id
    manager.display_id = f"nbagg-{figure_id}"
    managers[figure_id] = manager
    manager.pending_show = False  # its output already exists
    manager.shown = True
    verified = verify_view(view, figure_id, state) if view is not None else None
    if verified is not None:
        apply_view(figure, verified)
    signed_view = view if verified is not None else None
    manager.restore.restored(state, signed_view, figure)  # its outputs hold both already
    return manager


def _safe_filename(title: str | None) -> str:
    """A download file name from a figure title: letters, digits, - and _ only."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in (title or "figure"))
    return cleaned.strip("_")[:64] or "figure"


# The canvas creates its manager through this class (FigureCanvasBase.new_manager).
FigureCanvasNbagg.manager_class = FigureManagerNbagg
