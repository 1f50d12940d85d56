"""The comm target: browsers open one comm per view to a figure id.

Handlers here may be called on a subshell thread (ipykernel 7); they hand every message
to the main loop through mainloop.on_main_thread before touching a figure.
"""

from __future__ import annotations

import logging
import threading
import time

from . import mainloop, protocol
from .manager import get_manager, restore_figure
from .order import GAP_TIMEOUT
from .state import StateError
from .view import View

log = logging.getLogger("nbagg")

_registered = False


def register_target() -> None:
    """Register the comm target with the running kernel (idempotent; no-op outside one)."""
    global _registered
    if _registered:
        return
    try:
        from IPython import get_ipython

        if getattr(get_ipython(), "kernel", None) is None:
            return
        from comm import get_comm_manager

        get_comm_manager().register_target(protocol.COMM_TARGET, _on_open)
        _registered = True
    except Exception:
        log.exception("nbagg: could not register the comm target")


def _error(code: str, message: str, request: str | None = None) -> dict:
    msg = {"type": "error", "code": code, "message": message}
    if request is not None:
        msg["request"] = request
    return msg


def _send_to(comm):
    def send(msg: dict, buffers: list) -> None:
        comm.send(data=msg, buffers=buffers or None)

    return send


@mainloop.on_main_thread
def _on_open(comm, open_msg) -> None:
    content = open_msg.get("content", {})
    try:
        hello = protocol.parse(content.get("data"), open_msg.get("buffers"))
        if hello["type"] != "connect":
            raise protocol.ProtocolError("the first message of a view must be 'connect'")
        if hello["protocol"] != protocol.PROTOCOL_VERSION:
            raise protocol.ProtocolError(
                f"protocol {hello['protocol']} is not supported (kernel speaks {protocol.PROTOCOL_VERSION}); "
                "reinstall nbagg so the kernel and the browser extension match"
            )
    except protocol.ProtocolError as err:
        log.warning("nbagg: refused a view: %s", err)
        comm.send(data=_error("bad_message", str(err), "connect"))
        comm.close()
        return
    manager = get_manager(hello["figure_id"])
    if manager is None and "state" in hello:
        # The user asked to bring a figure back from the state stored in its output.
        try:
            manager = restore_figure(hello["figure_id"], hello["state"], hello.get("view"))
        except StateError as err:
            log.warning("nbagg: refused to restore figure %s: %s", hello["figure_id"], err)
            comm.send(data=_error("bad_state", str(err), "connect"))
            comm.close()
            return
    if manager is None:
        comm.send(data=_error("unknown_figure", "this figure is not open in the kernel"))
        comm.close()
        return
    view = View(comm.comm_id, _send_to(comm), hello["dpr"], close=comm.close)
    _keep_the_front_ends_shell(comm)
    comm.on_msg(lambda msg: _on_message(manager, view, msg))
    comm.on_close(lambda msg: _on_close(manager, view))
    manager.add_view(view)


def _keep_the_front_ends_shell(comm) -> None:
    """Let this comm's messages come on the shell the front end sends them on, but its
    goodbyes on the main shell.

    ipykernel 7.4 routes a comm's incoming messages to the shell that last published on
    it, so that a widget's reply reaches a cell awaiting it. Frames published by a running
    cell would then pull the browser's acknowledgements and input onto the main shell,
    where they wait for the cell to end, instead of the subshell JupyterLab sends them on
    (where they are heard at once, below). nbagg hands every message to the main thread
    itself, so the front end's choice is right for those. The goodbyes (output_removed,
    the comm's close) are not: JupyterLab deletes a comm's subshell as soon as its last
    comm closes, and what is still queued on it dies with it, which left the figure of a
    re-run cell open. (A private ipykernel hook: a kernel without it routes by the
    message's own header, and has no per-comm subshells either.)
    """
    if hasattr(comm, "_reply_subshell_for"):
        comm._reply_subshell_for = _front_ends_shell_but_goodbyes_on_main


def _front_ends_shell_but_goodbyes_on_main(data, default: str | None) -> str | None:
    """The subshell (None: the main shell) a view's incoming message is handled on.

    ``data`` is a comm_msg's data or a comm_close's (``{}``, no type)."""
    kind = data.get("type") if isinstance(data, dict) else None
    return default if kind is not None and kind != "output_removed" else None


def _on_message(manager, view: View, comm_msg) -> None:
    """Called on the thread of the shell the message came on (ipykernel 7: maybe a subshell)."""
    if threading.current_thread() is not threading.main_thread():
        _hear_ack(view, comm_msg)
    _on_message_in_order(manager, view, comm_msg)


def _hear_ack(view: View, comm_msg) -> None:
    """An acknowledgement on a subshell thread makes room in the view at once, so that a
    cell animating the figure (which keeps the main thread busy) can send its next frame.
    The message is still handled on the main thread too, in order (view.ack is idempotent)."""
    data = comm_msg.get("content", {}).get("data")
    if not isinstance(data, dict) or data.get("type") != "ack":
        return
    try:
        view.ack(protocol.parse(data)["seq"], off_main_thread=True)
    except protocol.ProtocolError:
        pass  # answered on the main thread


@mainloop.on_main_thread
def _on_message_in_order(manager, view: View, comm_msg) -> None:
    content = comm_msg.get("content", {})
    data = content.get("data")
    try:
        msg = protocol.parse(data, comm_msg.get("buffers"))
    except protocol.ProtocolError as err:
        request = data.get("type") if isinstance(data, dict) and isinstance(data.get("type"), str) else None
        log.warning("nbagg: bad message from view %s: %s", view.id, err)
        view.send(_error("bad_message", str(err), request and request[: protocol.MAX_STRING]))
        return
    for ready in view.order.accept(msg, time.monotonic()):
        _handle(manager, view, ready)
    _watch_gap(manager, view)


def _watch_gap(manager, view: View) -> None:
    if view.order.waiting and view.gap_timer is None:
        view.gap_timer = mainloop.call_later(GAP_TIMEOUT, _on_gap_timeout, manager, view)


def _on_gap_timeout(manager, view: View) -> None:
    """A message the view sent has not come (order.py): handle what followed it."""
    view.gap_timer = None
    for ready in view.order.overdue(time.monotonic()):
        _handle(manager, view, ready)
    _watch_gap(manager, view)


def _handle(manager, view: View, msg: dict) -> None:
    if manager.closed or view.closed:
        return
    try:
        manager.handle(view, msg)
    except protocol.ProtocolError as err:
        view.send(_error("bad_message", str(err), msg["type"]))
    except Exception as err:  # a failure handling one message must not reach the kernel
        log.exception("nbagg: error handling %s", msg["type"])
        view.send(_error("internal_error", f"{type(err).__name__}: {err}", msg["type"]))


@mainloop.on_main_thread
def _on_close(manager, view: View) -> None:
    # Nothing more comes from a closed comm: what waits for a gap is handled now (a
    # goodbye on the main shell may overtake what the front end sent before it).
    for ready in view.order.give_up():
        _handle(manager, view, ready)
    manager.remove_view(view.id)
