"""What a restore needs, and when it travels to the browser.

A figure's restorable state has two parts (state.py signs both): the pickle, which
changes only when the figure's content does, and the *view* (every Axes' limits, the
figure's size), which navigation changes. RestoreTracker tells the two kinds of change
apart and decides, once changes settle, what the browser gets: a new state after a
content change, a view of a few hundred bytes after navigation, nothing otherwise.

Every change to an artist marks the figure stale, and the figure tells its
``stale_callback`` synchronously, where the change is made: the tracker hooks that
callback. A change counts as navigation when it happens while the kernel handles a
toolbar, resize or density message, or a mouse or scroll event that only matplotlib's
own handlers (the toolbar's pan and zoom, 3D rotation) hear. Anything else (a cell, a
timer, a widget or any user callback) is a content change: the safe side is to store
the pickle. Blitted animations change animated artists, which mark nothing stale: a
blit outside navigation is a content change too.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

from .protocol import MAX_VIEW_AXES
from .settings import state_limit
from .state import StateOmitted, dump_figure, sign_view

# matplotlib events a browser message can fire, by message (mouse: by kind).
_EVENTS = {
    "move": ("motion_notify_event", "axes_enter_event", "axes_leave_event", "figure_enter_event", "figure_leave_event"),
    "press": ("button_press_event", "pick_event"),
    "dblclick": ("button_press_event", "pick_event"),
    "release": ("button_release_event",),
    "enter": ("figure_enter_event",),
    "leave": ("figure_leave_event", "axes_leave_event"),
    "scroll": ("scroll_event", "pick_event"),
}
_NAVIGATION_MESSAGES = {"toolbar": (), "dpr": (), "resize": ("resize_event",)}


def _own_callback_ids(canvas) -> set[int]:
    """Callback ids matplotlib itself connected (not the user's): the toolbar's pan and
    zoom, the figure's event dispatch and pick, the manager's default key handler and
    3D rotation."""
    ids = set()
    figure, toolbar, manager = canvas.figure, canvas.toolbar, canvas.manager
    ids.update(getattr(figure, "_mouse_key_ids", ()))
    ids.update(filter(None, (getattr(figure, "_button_pick_id", None), getattr(figure, "_scroll_pick_id", None))))
    if toolbar is not None:
        for name in ("_id_press", "_id_release", "_id_drag"):
            ids.add(getattr(toolbar, name, None))
        for info in (getattr(toolbar, "_pan_info", None), getattr(toolbar, "_zoom_info", None)):
            ids.add(getattr(info, "cid", None))
    if manager is not None:
        for name in ("key_press_handler_id", "button_press_handler_id", "_cidgcf"):  # _cidgcf: pyplot's gcf
            ids.add(getattr(manager, name, None))
    for ax in figure.axes:
        ids.update(getattr(ax, "_cids", ()))  # Axes3D: mouse rotation
    ids.discard(None)
    return ids


def is_navigation(msg: dict, canvas) -> bool:
    """Whether what this (validated) browser message makes the figure draw is navigation."""
    kind = msg["type"]
    if kind in _NAVIGATION_MESSAGES:
        events = _NAVIGATION_MESSAGES[kind]
    elif kind == "mouse":
        events = _EVENTS[msg["kind"]]
    elif kind == "scroll":
        events = _EVENTS["scroll"]
    else:
        return False  # keys toggle grids and scales; the rest draws nothing of its own
    registry = canvas.callbacks.callbacks
    ours = _own_callback_ids(canvas)
    return all(cid in ours for event in events for cid in registry.get(event, {}))


def _axes_view(ax) -> list[float] | None:
    values = [*ax.get_xlim(), *ax.get_ylim()]
    if hasattr(ax, "get_zlim"):  # 3D: its camera too
        values += [*ax.get_zlim(), ax.elev, ax.azim, getattr(ax, "roll", 0.0) or 0.0]
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return numbers if all(math.isfinite(v) for v in numbers) else None


def figure_view(figure) -> dict | None:
    """What navigation changes: each Axes' limits (and a 3D camera) and the size in inches.
    None when it cannot be told in plain numbers (then the pickle carries it)."""
    if len(figure.axes) > MAX_VIEW_AXES:  # the pickle carries the view
        return None
    axes = [_axes_view(ax) for ax in figure.axes]
    if any(values is None for values in axes):
        return None
    width, height = (float(v) for v in figure.get_size_inches())
    return {"axes": axes, "size": [width, height]}


def apply_view(figure, view: dict) -> None:
    """Give a restored figure the limits and size it had when the view was taken (a
    verified view: see state.verify_view)."""
    axes, size = view.get("axes"), view.get("size")
    if not isinstance(axes, list) or len(axes) != len(figure.axes):
        return  # a view of another layout: keep the state's own
    for ax, values in zip(figure.axes, axes, strict=True):
        if not isinstance(values, list) or values == _axes_view(ax):
            continue
        ax.set_xlim(values[0], values[1])
        ax.set_ylim(values[2], values[3])
        if len(values) == 9 and hasattr(ax, "set_zlim"):
            ax.set_zlim(values[4], values[5])
            ax.view_init(elev=values[6], azim=values[7], roll=values[8])
    if isinstance(size, list) and len(size) == 2 and [float(v) for v in figure.get_size_inches()] != size:
        figure.set_size_inches(size[0], size[1], forward=False)


class RestoreTracker:
    """One figure's restore bookkeeping: what changed since the outputs got their state."""

    def __init__(self) -> None:
        self.content_changed = True  # nothing stored yet
        self.state: dict | None = None  # the signed state the outputs hold
        self.note: str | None = None  # why the outputs hold none
        self.view: dict | None = None  # the figure's view as the outputs know it
        self.signed_view: dict | None = None  # the last view message (amends self.state)
        self.image_chars = 0  # base64 size of the figure's last published PNG
        self._navigating = 0

    def watch(self, figure) -> None:
        """Hear every change to the figure (see the module docstring). pyplot may set its
        own stale_callback later: then the hook is put back, and the change counted."""
        callback = figure.stale_callback
        if getattr(callback, "_nbagg_tracker", None) is self:
            return
        self.content_changed = True

        def stale_callback(fig, value, _then=callback):
            if value and not self._navigating:
                self.content_changed = True
            if _then is not None:
                _then(fig, value)

        stale_callback._nbagg_tracker = self  # type: ignore[attr-defined]
        figure.stale_callback = stale_callback

    @contextmanager
    def navigation(self):
        """Changes made inside this block are navigation (see is_navigation)."""
        self._navigating += 1
        try:
            yield
        finally:
            self._navigating -= 1

    def blitted(self) -> None:
        if not self._navigating:
            self.content_changed = True

    def restored(self, state: dict, signed_view: dict | None, figure) -> None:
        """The figure came back from this state (and view): the outputs hold both."""
        self.state, self.note, self.signed_view = state, None, signed_view
        self.view = figure_view(figure)
        self.content_changed = False

    def bundle_fields(self, figure, figure_id: str) -> dict:
        """The restore fields of a new output of the figure (see docs/protocol.md)."""
        if self.content_changed or (self.state is None and self.note is None):
            self.settled_message(figure, figure_id)
        return self.fields()

    def fields(self) -> dict:
        """The restore fields the outputs hold now (nothing is pickled)."""
        if self.state is None:
            return {"state_note": self.note} if self.note else {}
        return {"state": self.state, **({"view": self.signed_view} if self.signed_view else {})}

    def settled_message(self, figure, figure_id: str) -> dict | None:
        """After changes settled: the message that brings the outputs up to date, or None."""
        view = figure_view(figure)
        if self.content_changed or (self.state is not None and view is None):
            return self._dump(figure, figure_id, view)
        if self.state is None or view == self.view:
            return None  # nothing to amend, or nothing moved
        try:
            signed = sign_view(view, figure_id, self.state)
        except StateOmitted:
            return None
        self.view, self.signed_view = view, signed
        return {"type": "view", "view": signed}

    def _dump(self, figure, figure_id: str, view: dict | None) -> dict | None:
        self.content_changed = False
        try:
            state, note = dump_figure(figure, figure_id, state_limit(self.image_chars)), None
        except StateOmitted as omitted:
            state, note = None, str(omitted)
        if state is None and note == self.note:
            return None  # the outputs already say why there is no state
        self.state, self.note, self.view, self.signed_view = state, note, view, None
        if state is None:
            return {"type": "state", "state": None, "note": note}
        return {"type": "state", "state": state}
