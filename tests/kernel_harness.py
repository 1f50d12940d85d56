"""A real ipykernel driven through jupyter_client, speaking to figures over real comms."""

from __future__ import annotations

import io
import json
import queue
import time
import uuid

import numpy as np
from jupyter_client.manager import start_new_kernel
from PIL import Image

from nbagg.protocol import COMM_TARGET, MIME_TYPE, PROTOCOL_VERSION


class KernelError(AssertionError):
    pass


class Kernel:
    """One kernel process plus helpers to run code and talk to figures."""

    def __init__(self, startup_timeout: float = 60):
        self.km, self.kc = start_new_kernel(kernel_name="python3", startup_timeout=startup_timeout)
        self._pending: list[dict] = []  # iopub messages read but not yet consumed

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    # -- iopub ---------------------------------------------------------------------

    def _read_iopub(self, timeout: float) -> dict:
        """The next message off the wire. Pings are answered here, like a browser does at once."""
        msg = self.kc.get_iopub_msg(timeout=timeout)
        if msg["msg_type"] == "comm_msg" and (msg["content"].get("data") or {}).get("type") == "ping":
            pong = self.kc.session.msg("comm_msg", {"comm_id": msg["content"]["comm_id"], "data": {"type": "pong"}})
            self.kc.shell_channel.send(pong)
        return msg

    def _next_iopub(self, timeout: float) -> dict:
        if self._pending:
            return self._pending.pop(0)
        return self._read_iopub(timeout)

    def execute(self, code: str, timeout: float = 60, allow_error: bool = False) -> list[dict]:
        """Run code; return its iopub outputs (display_data, stream, ...). Comm traffic is kept.

        A request that ipykernel aborted without running it is sent again: after a cell
        fails (an interrupt), ipykernel 6 aborts requests that reach it before it has
        finished aborting its queue, and a test sending its next request at once races that.
        """
        for _ in range(3):
            reply, outputs = self._execute_once(code, timeout)
            if reply["content"]["status"] != "aborted":
                break
        if reply["content"]["status"] != "ok" and not allow_error:
            raise KernelError("\n".join(reply["content"].get("traceback", [])) or str(reply["content"]))
        return outputs

    def _execute_once(self, code: str, timeout: float) -> tuple[dict, list[dict]]:
        msg_id = self.kc.execute(code)
        outputs, kept = [], []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"cell did not finish: {code[:80]!r}")
            try:
                msg = self._next_iopub(remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                kept.append(msg)
                continue
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                break
            if kind in ("comm_msg", "comm_close", "comm_open"):
                kept.append(msg)
            elif kind not in ("status", "execute_input"):
                outputs.append(msg)
        self._pending = kept + self._pending
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        return reply, outputs

    def eval(self, expr: str):
        """The value of an expression evaluated in the kernel, through JSON (numpy -> lists/floats)."""
        code = f"import json as _j, numpy as _n; print(_j.dumps(_n.asarray({expr}, dtype=object).tolist()))"
        outputs = self.execute(code)
        text = "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream")
        return json.loads(text)

    # -- comms ---------------------------------------------------------------------

    def open_view(self, figure_id: str, dpr: float = 1.0, **extra) -> FigureComm:
        comm_id = uuid.uuid4().hex
        data = {"type": "connect", "protocol": PROTOCOL_VERSION, "figure_id": figure_id, "dpr": dpr, **extra}
        content = {"comm_id": comm_id, "target_name": COMM_TARGET, "data": data}
        self.kc.shell_channel.send(self.kc.session.msg("comm_open", content))
        return FigureComm(self, comm_id)


class FigureComm:
    """The browser's side of one view, as a test sees it."""

    def __init__(self, kernel: Kernel, comm_id: str):
        self.kernel = kernel
        self.id = comm_id
        self.closed = False
        self.canvas: np.ndarray | None = None  # what a browser would show, physical pixels
        self.frames: list[dict] = []

    def send(self, data: dict, buffers: list | None = None) -> None:
        msg = self.kernel.kc.session.msg("comm_msg", {"comm_id": self.id, "data": data})
        self.kernel.kc.session.send(self.kernel.kc.shell_channel.socket, msg, buffers=buffers)

    def close(self) -> None:
        msg = self.kernel.kc.session.msg("comm_close", {"comm_id": self.id, "data": {}})
        self.kernel.kc.shell_channel.send(msg)

    def recv(self, timeout: float = 10, type: str | None = None) -> dict:
        """The next message for this comm (of the given type), with ``buffers`` attached."""
        k = self.kernel
        deadline = time.monotonic() + timeout
        for i, msg in enumerate(list(k._pending)):
            if self._mine(msg, type):
                del k._pending[i]
                return self._unpack(msg)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {type or 'message'} on comm {self.id[:8]}")
            try:
                msg = k._read_iopub(remaining)
            except queue.Empty:
                continue
            if self._mine(msg, type):
                return self._unpack(msg)
            k._pending.append(msg)

    def _mine(self, msg: dict, type: str | None) -> bool:
        if msg["msg_type"] not in ("comm_msg", "comm_close"):
            return False
        if msg["content"].get("comm_id") != self.id:
            return False
        if msg["msg_type"] == "comm_close":
            return type in (None, "comm_close")
        return type is None or msg["content"]["data"].get("type") == type

    def _unpack(self, msg: dict) -> dict:
        if msg["msg_type"] == "comm_close":
            self.closed = True
            return {"type": "comm_close"}
        data = dict(msg["content"]["data"])
        data["buffers"] = [bytes(b) for b in msg.get("buffers", [])]
        return data

    def recv_frame(self, timeout: float = 10, ack: bool = True) -> dict:
        """Receive a frame, apply it to ``self.canvas`` like a browser would, and ack it."""
        frame = self.recv(timeout, "frame")
        if frame["full"]:
            self.canvas = np.zeros((frame["height"], frame["width"], 4), np.uint8)
        assert self.canvas is not None, "a partial frame arrived before any full frame"
        assert len(frame["rects"]) == len(frame["buffers"])
        for (x, y, w, h), png in zip(frame["rects"], frame["buffers"]):
            patch = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
            assert patch.shape == (h, w, 4)
            self.canvas[y : y + h, x : x + w] = patch
        self.frames.append(frame)
        if ack:
            self.send({"type": "ack", "seq": frame["seq"]})
        return frame


def figure_ids(outputs: list[dict]) -> list[str]:
    """Figure ids of the new live figure outputs (display_data, not updates) among a cell's outputs."""
    return [
        o["content"]["data"][MIME_TYPE]["figure_id"]
        for o in outputs
        if o["msg_type"] == "display_data" and MIME_TYPE in o["content"].get("data", {})
    ]
