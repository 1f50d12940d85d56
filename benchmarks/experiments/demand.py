# Experiment: render and capture frames on demand (see README.md). Run via bench.py only.
import numpy as _xnp

import nbagg.canvas as _XC
import nbagg.manager as _XM
import nbagg.view as _XV


def _x_room(manager):
    return any(not v.closed and len(v.in_flight) < _XV.MAX_IN_FLIGHT for v in manager.views.values())


def _x_saturated(manager):
    return bool(manager.views) and not _x_room(manager) and not manager.canvas.in_event_loop


_x_orig_draw_if_pending = _XC.FigureCanvasNbagg.draw_if_pending


def _x_draw_if_pending(self):
    manager = self.manager
    if self._draw_scheduled and manager is not None and manager.frame is not None and _x_saturated(manager):
        return  # every view is full: the next ack draws
    _x_orig_draw_if_pending(self)


_XC.FigureCanvasNbagg.draw_if_pending = _x_draw_if_pending

_x_orig_frame_ready = _XM.FigureManagerNbagg.frame_ready


def _x_frame_ready(self, pixels):
    if self.frame is not None and _x_saturated(self):
        self._x_capture_pending = True  # blitted while every view is full: capture on ack
        return
    self._x_capture_pending = False
    _x_orig_frame_ready(self, pixels)


_XM.FigureManagerNbagg.frame_ready = _x_frame_ready

_x_orig_ack = _XM.FigureManagerNbagg._handlers["ack"]


def _x_on_ack(self, view, msg):
    _x_orig_ack(self, view, msg)
    canvas = self.canvas
    if getattr(canvas, "draw_pending", False):
        canvas.draw_if_pending()
    elif getattr(self, "_x_capture_pending", False) and hasattr(canvas, "renderer"):
        self.frame_ready(_xnp.asarray(canvas.renderer.buffer_rgba()))


_XM.FigureManagerNbagg._handlers["ack"] = _x_on_ack
