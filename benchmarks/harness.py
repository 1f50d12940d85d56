"""Benchmark harness: Jupyter servers on 127.0.0.1 (nbclassic, JupyterLab), headless
system Chromium, and a page-side probe that counts the frames reaching a canvas from its
pixels and the bytes on the kernel's websocket from the DevTools protocol.

Nothing here knows which backend runs: bench.py writes the cells. Nothing here knows the
front end either: notebook operations go through the tests' bridge (``window.nbaggTest``,
tests/frontends/classic.js and lab.js), injected into every page as in the browser tests.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import sys
import time
import urllib.request
from pathlib import Path

import nbformat

# The server and browser settings and the front-end bridges are the tests' (one place).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser_harness import BRIDGES, CHROMIUM, CHROMIUM_ARGS, FRONTENDS  # noqa: E402, F401  (re-exported)
from browser_harness import NotebookServer as TestNotebookServer  # noqa: E402

# Injected into every page before its scripts run. A requestAnimationFrame loop samples
# each watched canvas (nearest-neighbour downscale to at most MAX_SAMPLE pixels, then a
# 32-bit FNV-1a hash of the sample) and records the time of every change: one change is
# one distinct frame that reached the canvas. Sampling happens once per display frame, so
# it counts what a person could see (at most the rAF rate, reported with the results).
PROBE_JS = r"""
(() => {
  if (window.__bench) return;
  const MAX_SAMPLE = 160000;
  const watched = [];
  let lastChange = 0, rafTimes = [], armed = false, moveTime = null;
  function sampler(canvas) {
    const off = document.createElement('canvas');
    const ctx = off.getContext('2d', { willReadFrequently: true });
    return () => {
      const w = canvas.width, h = canvas.height;
      if (!w || !h) return { hash: 0, ink: false };
      const s = Math.max(1, Math.ceil(Math.sqrt((w * h) / MAX_SAMPLE)));
      const sw = Math.ceil(w / s), sh = Math.ceil(h / s);
      if (off.width !== sw || off.height !== sh) { off.width = sw; off.height = sh; }
      ctx.imageSmoothingEnabled = false;
      ctx.clearRect(0, 0, sw, sh);
      ctx.drawImage(canvas, 0, 0, sw * s, sh * s, 0, 0, sw, sh);
      const d = new Uint32Array(ctx.getImageData(0, 0, sw, sh).data.buffer);
      let hash = 0x811c9dc5, ink = false;
      for (let i = 0; i < d.length; i++) {
        const v = d[i];
        hash = Math.imul(hash ^ v, 16777619);
        if (v !== 0 && v !== 0xffffffff) ink = true;  // neither transparent nor white
      }
      return { hash: hash >>> 0, ink };
    };
  }
  function tick() {
    const now = performance.now();
    rafTimes.push(now);
    if (rafTimes.length > 20000) rafTimes = rafTimes.slice(-10000);
    for (const w of watched) {
      const { hash, ink } = w.sample();
      if (ink && w.firstInk === null) w.firstInk = now;
      if (hash !== w.last) { w.last = hash; w.changes.push(now); lastChange = now; }
    }
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
  window.addEventListener('pointermove', (e) => {
    if (armed && (e.buttons & 1) && moveTime === null) moveTime = performance.now();
  }, true);

  function waitFor(pred, timeout, what) {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const step = () => {
        let v;
        try { v = pred(); } catch (e) { v = null; }
        if (v) return resolve(v);
        if (performance.now() - t0 > timeout) return reject(new Error('timeout: ' + what));
        requestAnimationFrame(step);
      };
      step();
    });
  }

  window.__bench = {
    now: () => performance.now(),
    lastChange: () => lastChange,
    canvases(selector) { return Array.from(document.querySelectorAll(selector)); },
    /** Watch every canvas matching selector (page-wide); returns their sizes. */
    watch(selector) {
      watched.length = 0;
      for (const el of document.querySelectorAll(selector)) {
        const w = { el, sample: sampler(el), last: null, changes: [], firstInk: null };
        const s = w.sample();
        w.last = s.hash;
        if (s.ink) w.firstInk = performance.now();
        watched.push(w);
      }
      return watched.map((w) => ({ width: w.el.width, height: w.el.height,
        cssWidth: w.el.clientWidth, cssHeight: w.el.clientHeight }));
    },
    /** Changes per watched canvas and rAF ticks within [t0, t1]. */
    window(t0, t1) {
      return {
        changes: watched.map((w) => w.changes.filter((t) => t >= t0 && t <= t1).length),
        raf: rafTimes.filter((t) => t >= t0 && t <= t1).length,
      };
    },
    armPan() { armed = true; moveTime = null; },
    /** True once a watched canvas changed after the armed pointer move. */
    panChanged() {
      return moveTime !== null && watched.length > 0 && watched[0].changes.some((t) => t >= moveTime);
    },
    /** ms from the first pointer move with the button down to the first change after it. */
    panLatency() {
      armed = false;
      if (moveTime === null || !watched.length) return null;
      const after = watched[0].changes.find((t) => t >= moveTime);
      return after === undefined ? null : after - moveTime;
    },
    /** Run cell i (through the bridge); resolve with the ms from running it to first ink
     *  on a canvas matching selector that was not in the page before. */
    async firstPaint(i, selector, timeout) {
      const before = new Set(document.querySelectorAll(selector));
      const t0 = performance.now();
      nbaggTest.runCell(i);
      const canvas = await waitFor(
        () => Array.from(document.querySelectorAll(selector)).find((c) => !before.has(c)), timeout, 'canvas');
      const w = { el: canvas, sample: sampler(canvas), last: null, changes: [], firstInk: null };
      watched.length = 0;
      watched.push(w);
      await waitFor(() => w.firstInk !== null, timeout, 'first pixels');
      return w.firstInk - t0;
    },
    /** Whether a cell still runs, and the errors in the outputs of cell i, as text. */
    cellState(i) {
      const errors = nbaggTest.cellOutputs(i).filter((o) => o.output_type === 'error')
        .map((o) => o.ename + ': ' + o.evalue);
      return { running: nbaggTest.busy(), errors };
    },
    deleteCellsFrom(i) {
      for (let k = nbaggTest.cellCount() - 1; k >= i; k--) nbaggTest.deleteCell(k);
    },
  };
})();
"""


class NotebookServer(TestNotebookServer):
    """The tests' nbclassic server (tests/browser_harness.py) plus the REST calls the
    benchmark needs to stop kernels between scenarios."""

    def _api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernel(self, kernel_id: str) -> None:
        try:
            self._api(f"/api/kernels/{kernel_id}", method="DELETE")
        except OSError:
            pass

    def shutdown_kernels(self) -> None:
        for k in self._api("/api/kernels") or []:
            self._api(f"/api/kernels/{k['id']}", method="DELETE")


def kernel_pid(kernel_id: str) -> int | None:
    """The pid of the kernel process started for ``kernel_id`` (its connection file names it)."""
    needle = f"kernel-{kernel_id}.json".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    return None


_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process, from /proc: read from the
    outside, so it works while the kernel is too busy to answer and costs it nothing."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def write_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = []
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


class WebSocketMeter:
    """Bytes on the kernel's websocket(s), from Network.webSocketFrame* DevTools events.

    Text frames count their UTF-8 length; binary frames arrive base64 in payloadData and
    count their decoded length. Control frames (ping/pong/close) are not counted.
    """

    def __init__(self, cdp, track_frames: bool = False):
        self.track_frames = track_frames
        self.frames: list[tuple[float, int]] = []  # (CDP time received, seq) of nbagg frames
        self.acks: dict[int, float] = {}  # seq -> CDP time the browser sent its ack
        self.urls: dict[str, str] = {}
        self.protocols: dict[str, str] = {}  # requestId -> negotiated websocket subprotocol
        self.counts = {"received": 0, "sent": 0, "received_text": 0, "received_msgs": 0, "sent_msgs": 0}
        cdp.on("Network.webSocketCreated", self._created)
        cdp.on("Network.webSocketHandshakeResponseReceived", self._handshake)
        cdp.on("Network.webSocketFrameReceived", lambda e: self._frame(e, True))
        cdp.on("Network.webSocketFrameSent", lambda e: self._frame(e, False))
        cdp.send("Network.enable")

    def _created(self, event) -> None:
        self.urls[event["requestId"]] = event["url"]

    def _handshake(self, event) -> None:
        headers = {k.lower(): v for k, v in (event["response"].get("headers") or {}).items()}
        self.protocols[event["requestId"]] = headers.get("sec-websocket-protocol", "")

    def _frame(self, event, received: bool) -> None:
        url = self.urls.get(event["requestId"], "")
        if "/api/kernels/" not in url or "/channels" not in url:
            return
        response = event["response"]
        opcode = response.get("opcode")
        payload = response.get("payloadData", "")
        if opcode == 1:
            size = len(payload.encode("utf-8"))
        elif opcode == 2:
            raw = base64.b64decode(payload)
            size = len(raw)
        else:
            return
        if self.track_frames:
            v1 = self.protocols.get(event["requestId"]) == "v1.kernel.websocket.jupyter.org"
            self._track(event["timestamp"], raw if opcode == 2 else payload, received, v1)
        c = self.counts
        if received:
            c["received"] += size
            c["received_msgs"] += 1
            if opcode == 1:
                c["received_text"] += size
        else:
            c["sent"] += size
            c["sent_msgs"] += 1

    def _track(self, stamp: float, payload, received: bool, v1: bool = False) -> None:
        """nbagg's frames arriving and acks leaving (both in the DevTools clock): the
        browser's own time per frame, from the websocket to the ack."""
        try:
            if isinstance(payload, bytes) and v1:
                # JupyterLab's v1.kernel.websocket.jupyter.org: every message binary; a
                # little-endian u64 count, u64 offsets, then channel, header, parent header,
                # metadata, content, buffers.
                n = struct.unpack("<Q", payload[:8])[0]
                offsets = struct.unpack(f"<{n}Q", payload[8 : 8 + 8 * n])
                content = payload[offsets[4] : offsets[5]]
                if b'"frame"' not in content and b'"ack"' not in content:
                    return
                msg = {"content": json.loads(content)}
            elif isinstance(payload, bytes):  # the legacy binary framing: count, offsets, JSON, buffers
                n = struct.unpack("!I", payload[:4])[0]
                offsets = struct.unpack(f"!{n}I", payload[4 : 4 + 4 * n])
                msg = json.loads(payload[offsets[0] : offsets[1]] if n > 1 else payload[offsets[0] :])
            else:
                if '"frame"' not in payload and '"ack"' not in payload:
                    return
                msg = json.loads(payload)
            data = (msg.get("content") or {}).get("data") or {}
        except (ValueError, struct.error, AttributeError):
            return
        if not isinstance(data, dict):
            return
        if received and data.get("type") == "frame":
            self.frames.append((stamp, data.get("seq")))
        elif not received and data.get("type") == "ack":
            self.acks[data.get("seq")] = stamp

    def snapshot(self) -> dict:
        return dict(self.counts)

    @staticmethod
    def delta(b0: dict, b1: dict) -> dict:
        return {k: b1[k] - b0[k] for k in b1}


class BenchPage:
    """One notebook in one browser context, with its kernel, the front end's test bridge
    and the probe."""

    def __init__(
        self, browser, server: NotebookServer, name: str, dpr: float, viewport=(1400, 1000), track_frames=False
    ):
        self.server = server
        self.frontend = server.frontend
        self.context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=dpr
        )
        self.context.add_init_script(path=str(BRIDGES / f"{self.frontend.bridge}.js"))
        self.context.add_init_script(PROBE_JS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        cdp = self.context.new_cdp_session(self.page)
        self.meter = WebSocketMeter(cdp, track_frames)
        self.page.goto(server.notebook_url(name))
        self.page.wait_for_function("() => window.nbaggTest && nbaggTest.ready()", timeout=90_000)
        if self.frontend.name == "lab":
            # The notebook alone in the main area, as wide as the classic Notebook's page
            # allows (JupyterLab opens a new workspace with its file browser on the left).
            self.js("() => window.jupyterapp.shell.collapseLeft()")
        self.kernel_id = self.js("() => nbaggTest.kernelId()")
        self.kernel_pid = kernel_pid(self.kernel_id)
        if self.kernel_pid is None:
            raise RuntimeError(f"no process found for kernel {self.kernel_id}")

    def kernel_cpu(self) -> tuple[float, float]:
        """(monotonic time, kernel process CPU seconds)."""
        return time.monotonic(), process_cpu(self.kernel_pid)

    def close(self) -> None:
        self.context.close()

    def js(self, expr: str, arg=None):
        return self.page.evaluate(expr, arg)

    def execute(self, code: str, timeout: float = 60_000) -> str:
        """Run code in the page's kernel (not as a cell); its stdout after reply and idle."""
        out = self.js("([c, t]) => nbaggTest.execute(c, t)", [code, timeout])
        if (out.get("reply") or {}).get("status") == "error":
            raise RuntimeError(f"kernel error running {code[:60]!r}: {out['stdout']}")
        return out["stdout"]

    def kernel_json(self, expr: str, timeout: float = 60_000):
        out = self.execute(f"import json as _j; print(_j.dumps({expr}))", timeout)
        return json.loads(out.strip().splitlines()[-1])

    def add_cell(self, code: str) -> int:
        return self.js("(c) => nbaggTest.appendCell(c)", code)

    def wait_cell(self, index: int, timeout: float = 60_000) -> None:
        """Wait until cell ``index`` (and every other) finished; raise on an error in its outputs."""
        deadline = time.monotonic() + timeout / 1000
        while True:
            state = self.js("(i) => __bench.cellState(i)", index)
            if not state["running"]:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cell {index} still running after {timeout / 1000:.0f}s")
            self.page.wait_for_timeout(50)
        self.execute("pass")  # round trip: all the cell's messages have arrived
        state = self.js("(i) => __bench.cellState(i)", index)
        if state["errors"]:
            raise RuntimeError(f"cell {index} failed: {state['errors']}")

    def run_cell(self, code: str, timeout: float = 60_000) -> int:
        index = self.add_cell(code)
        self.js("(i) => nbaggTest.runCell(i)", index)
        self.wait_cell(index, timeout)
        return index

    def delete_cells_from(self, index: int) -> None:
        self.js("(i) => __bench.deleteCellsFrom(i)", index)

    def wait(self, ms: float) -> None:
        self.page.wait_for_timeout(ms)

    def wait_settled(self, quiet_ms: float = 250, timeout_ms: float = 5000) -> bool:
        """Wait until no watched canvas changed for ``quiet_ms``; False on timeout."""
        try:
            self.page.wait_for_function(
                "(q) => performance.now() - __bench.lastChange() > q", arg=quiet_ms, timeout=timeout_ms, polling=20
            )
            return True
        except Exception:
            return False
