"""The Agg canvas, toolbar and timer of the backend.

The canvas renders with Agg and, after every draw or blit, hands the new pixels to its
manager, which sends each view what changed. Browser input arrives here as validated
messages (see protocol.py) and becomes matplotlib events.
"""

from __future__ import annotations

import inspect
import logging
import weakref

import numpy as np
from matplotlib.backend_bases import (
    KeyEvent,
    LocationEvent,
    MouseButton,
    MouseEvent,
    NavigationToolbar2,
    TimerBase,
)
from matplotlib.backend_tools import Cursors
from matplotlib.backends.backend_agg import FigureCanvasAgg

from . import mainloop
from .protocol import mpl_key

log = logging.getLogger("nbagg")

# JS MouseEvent.button -> matplotlib button; JS `buttons` bit -> matplotlib button.
_BUTTON = {
    0: MouseButton.LEFT,
    1: MouseButton.MIDDLE,
    2: MouseButton.RIGHT,
    3: MouseButton.BACK,
    4: MouseButton.FORWARD,
}
_BUTTONS_BITS = {
    1: MouseButton.LEFT,
    2: MouseButton.RIGHT,
    4: MouseButton.MIDDLE,
    8: MouseButton.BACK,
    16: MouseButton.FORWARD,
}
# MouseEvent(buttons=...) arrived in matplotlib 3.10; older versions dead-reckon the button.
_HAS_BUTTONS = "buttons" in inspect.signature(MouseEvent).parameters
_MODIFIER_NAMES = {"ctrl": "ctrl", "alt": "alt", "shift": "shift", "meta": "super"}
_CURSORS = {
    Cursors.POINTER: "default",
    Cursors.HAND: "pointer",
    Cursors.SELECT_REGION: "crosshair",
    Cursors.MOVE: "move",
    Cursors.WAIT: "wait",
    Cursors.RESIZE_HORIZONTAL: "ew-resize",
    Cursors.RESIZE_VERTICAL: "ns-resize",
}


class TimerNbagg(TimerBase):
    """A matplotlib timer on the kernel's main event loop (animations, new_timer).

    The loop holds the timer only weakly: as on desktop backends, deleting the last
    reference to a timer (or to the animation that owns it) stops it.
    """

    def __init__(self, *args, **kwargs):
        self._handle = None
        self._running = False
        self._reported = False
        super().__init__(*args, **kwargs)

    def _schedule(self):
        self._handle = mainloop.call_later(max(self.interval, 0) / 1000, _tick_timer, weakref.ref(self))

    def _timer_start(self):
        self._timer_stop()
        self._running = True
        self._schedule()

    def _timer_stop(self):
        self._running = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _timer_set_interval(self):
        if self._handle is not None:
            self._timer_start()

    def _tick(self):
        self._handle = None
        try:
            self._on_timer()  # runs the callbacks; may call stop()
        except Exception as exc:
            # Like a desktop backend: report, keep the timer (and the kernel) running.
            if not self._reported:
                self._reported = True
                report = getattr(self, "error_reporter", None)
                (report or _log_exception)(exc, "a timer callback (animation function?)")
        if self._running and not self._single and self.callbacks and self._handle is None:
            self._schedule()

    def __del__(self):
        if self._handle is not None:
            self._handle.cancel()


def _tick_timer(ref):
    timer = ref()
    if timer is not None:
        timer._tick()


def _log_exception(exc, context):
    log.error("nbagg: exception in %s", context, exc_info=exc)


class NavigationToolbarNbagg(NavigationToolbar2):
    """Navigation state lives here; the buttons are drawn by the browser."""

    # (text, tooltip, image, method): the browser's buttons map to these methods.
    toolitems = [item for item in NavigationToolbar2.toolitems if item[3] in ("home", "back", "forward", "pan", "zoom")]

    def __init__(self, canvas):
        self._last_message = ""
        super().__init__(canvas)

    def _broadcast(self, msg):
        manager = self.canvas.manager
        if manager is not None:
            manager.broadcast(msg)

    def set_message(self, s):
        if s != self._last_message:
            self._last_message = s
            self._broadcast({"type": "message", "text": s})

    def draw_rubberband(self, event, x0, y0, x1, y1):
        dpr = self.canvas.device_pixel_ratio
        height = self.canvas.figure.bbox.height
        self._broadcast(
            {
                "type": "rubberband",
                "x0": x0 / dpr,
                "y0": (height - y0) / dpr,
                "x1": x1 / dpr,
                "y1": (height - y1) / dpr,
            }
        )

    def remove_rubberband(self):
        self._broadcast({"type": "rubberband", "clear": True})

    def set_history_buttons(self):
        self._broadcast(self.history_message())

    def history_message(self) -> dict:
        stack = self._nav_stack
        return {"type": "history", "back": stack._pos > 0, "forward": stack._pos < len(stack) - 1}

    def mode_message(self) -> dict:
        name = getattr(self.mode, "name", "")
        return {"type": "mode", "mode": {"PAN": "pan", "ZOOM": "zoom"}.get(name, "")}

    def pan(self, *args):
        super().pan(*args)
        self._broadcast(self.mode_message())

    def zoom(self, *args):
        super().zoom(*args)
        self._broadcast(self.mode_message())

    def save_figure(self, *args):
        # Keyboard 's': a PNG download for the view that pressed it (from code: every view).
        manager = self.canvas.manager
        if manager is not None:
            manager.send_download(getattr(manager, "input_view", None), "png")


class _CallbackErrorReporter:
    """The figure's callback exception handler. It must survive pickling the figure (which
    pickles its callback registry): it refers to the canvas weakly and pickles as empty."""

    def __init__(self, canvas=None):
        self._canvas = weakref.ref(canvas) if canvas is not None else None

    def __call__(self, exc):
        canvas = self._canvas() if self._canvas is not None else None
        if canvas is None:
            raise exc
        canvas._report_error(exc, "a figure callback")

    def __reduce__(self):
        return (_CallbackErrorReporter, ())


class FigureCanvasNbagg(FigureCanvasAgg):
    _timer_cls = TimerNbagg
    supports_blit = True

    def __init__(self, *args, **kwargs):
        self._draw_scheduled = False
        self._draw_queued = False  # a _queued_draw waits on the main loop
        self._last_xy = (0.0, 0.0)
        self._capture_scroll = False
        self.in_event_loop = False  # True while plt.pause()/start_event_loop blocks the kernel
        super().__init__(*args, **kwargs)
        # An exception in an mpl_connect callback is shown in the notebook and the figure
        # stays interactive (matplotlib would re-raise it here: we have no GUI loop).
        self.callbacks.exception_handler = _CallbackErrorReporter(self)

    @property
    def capture_scroll(self) -> bool:
        """Whether a scroll over the figure is kept from also scrolling the page (default: no)."""
        return self._capture_scroll

    @capture_scroll.setter
    def capture_scroll(self, value: bool) -> None:
        self._capture_scroll = bool(value)
        if self.manager is not None:
            self.manager.broadcast({"type": "capture_scroll", "value": self._capture_scroll})

    def new_timer(self, *args, **kwargs):
        timer = super().new_timer(*args, **kwargs)
        timer.error_reporter = self._report_error
        return timer

    def _report_error(self, exc, context):
        manager = self.manager
        if manager is not None:
            manager.report_error(exc, context)
        else:
            _log_exception(exc, context)

    # -- drawing: every draw or blit produces a frame for the views -----------------

    def draw(self):
        self._draw_scheduled = False
        restore = getattr(self.manager, "restore", None)
        if restore is None:
            super().draw()
        else:
            restore.watch(self.figure)  # pyplot may have replaced the hook
            with restore.navigation():  # a draw lays out (marking artists stale): no change
                super().draw()
        self.capture_frame()

    def blit(self, bbox=None):
        restore = getattr(self.manager, "restore", None)
        if restore is not None:
            restore.blitted()  # animated artists mark nothing stale (see restore.py)
        self.capture_frame()

    def draw_idle(self, *args, **kwargs):
        if not self._draw_scheduled:
            self._draw_scheduled = True
            if not self._draw_queued:
                # The loop does not run while a cell does. The queued call holds the canvas
                # weakly, or a figure closed in that cell kept its canvas, renderer, frames
                # and manager until the cell ended (issue 11); and one call is queued at a
                # time, as draw() unschedules without dequeuing (one per loop iteration).
                self._draw_queued = True
                mainloop.call_soon(mainloop.weakly(self._queued_draw))

    def _queued_draw(self):
        self._draw_queued = False
        self.draw_if_pending()

    @property
    def draw_pending(self) -> bool:
        """A draw_idle has not been drawn yet (queued, or deferred while the views are full)."""
        return self._draw_scheduled

    def draw_if_pending(self) -> None:
        """Draw what draw_idle asked for, unless nobody watches or the views are saturated."""
        if self._draw_scheduled:
            manager = self.manager
            if manager is None or not manager.wants_frames():
                self._draw_scheduled = False  # nobody is watching; the next view draws
                return
            if manager.saturated():
                return  # still pending: the next acknowledgement draws (see scheduling.py)
            with self._idle_draw_cntx(), mainloop.interruptible() as enabled:
                try:
                    self.draw_reporting_errors()
                except KeyboardInterrupt as exc:
                    if not enabled:
                        raise  # a cell's interrupt (plt.pause loop): it stops the cell
                    self._draw_scheduled = False  # the next change draws again
                    self._report_error(exc, "drawing the figure (interrupted)")

    def draw_reporting_errors(self) -> bool:
        """Draw; if an artist raises, tell the user and keep the last good frame on screen.

        The next change (fixing or removing the artist) draws again and the views recover.
        """
        try:
            self.draw()
            return True
        except Exception as exc:
            self._draw_scheduled = False
            self._report_error(exc, "drawing the figure")
            return False

    def flush_events(self):
        # A loop in a cell calls this (or plt.pause) to let the GUI run: input and
        # acknowledgements that came meanwhile (on a subshell) are handled now, then
        # what draw_idle asked for is drawn if a view can take it.
        mainloop.run_handed_over()
        self.draw_if_pending()

    @property
    def unheard(self) -> bool:
        """Acknowledgements cannot reach the main thread now: user code blocks the loop
        (a running cell, plt.pause). On a subshell they still make room (comm.py)."""
        return self.in_event_loop or mainloop.cell_running()

    def start_event_loop(self, timeout=0):
        # plt.pause() inside a cell: the kernel's loop is blocked, so draws happen here
        # (flush_events) and the views' acknowledgements cannot arrive until the cell ends.
        self.in_event_loop = True
        try:
            super().start_event_loop(timeout)
        finally:
            self.in_event_loop = False

    def capture_frame(self) -> None:
        """Hand the renderer's pixels to the manager: after a draw or blit, or later when
        the capture of a blit waited for the views to have room."""
        manager = self.manager
        if manager is not None and hasattr(self, "renderer"):
            manager.frame_ready(np.asarray(self.renderer.buffer_rgba()))

    def set_cursor(self, cursor):
        manager = self.manager
        if manager is not None:
            manager.broadcast({"type": "cursor", "cursor": _CURSORS.get(cursor, "default")})

    # -- input from the browser (already validated) --------------------------------

    def _to_mpl(self, x_css: float, y_css: float) -> tuple[float, float]:
        """CSS pixels from the top-left -> matplotlib display pixels from the bottom-left."""
        dpr = self.device_pixel_ratio
        return x_css * dpr, self.figure.bbox.height - y_css * dpr

    @staticmethod
    def _modifiers(msg) -> list[str]:
        return [_MODIFIER_NAMES[m] for m in msg["modifiers"]]

    def handle_mouse(self, msg):
        x, y = self._to_mpl(msg["x"], msg["y"])
        self._last_xy = (x, y)
        kind, mods = msg["kind"], self._modifiers(msg)
        button = _BUTTON[msg["button"]]
        if kind in ("press", "release", "dblclick"):
            name = "button_release_event" if kind == "release" else "button_press_event"
            MouseEvent(name, self, x, y, button, dblclick=kind == "dblclick", modifiers=mods)._process()
        elif kind == "move":
            extra = {}
            if _HAS_BUTTONS:
                extra["buttons"] = {b for bit, b in _BUTTONS_BITS.items() if msg["buttons"] & bit}
            MouseEvent("motion_notify_event", self, x, y, modifiers=mods, **extra)._process()
        else:
            LocationEvent(f"figure_{kind}_event", self, x, y, modifiers=mods)._process()

    def handle_scroll(self, msg):
        x, y = self._to_mpl(msg["x"], msg["y"])
        self._last_xy = (x, y)
        MouseEvent("scroll_event", self, x, y, step=msg["step"], modifiers=self._modifiers(msg))._process()

    def handle_key(self, msg):
        key = mpl_key(msg["key"], msg["modifiers"])
        if key is not None:
            KeyEvent(f"key_{msg['kind']}_event", self, key, *self._last_xy)._process()
