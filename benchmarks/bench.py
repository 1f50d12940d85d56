"""nbagg against matplotlib's nbagg and ipympl, side by side, in one run.

Run it with ``bash benchmarks/run`` (see docs/benchmarks.md). In the classic mode every
backend runs in the same nbclassic server; with ``--frontend lab`` nbagg and ipympl run in
one JupyterLab server and nbagg once more in an nbclassic server beside it. Always in the
same Python environment (benchmarks/.venv-peers), each notebook in its own kernel, driven
by headless system Chromium through Playwright.
Frames are counted from the canvas pixels in the page; bytes from the kernel websocket
through the DevTools protocol; kernel CPU from /proc/<pid>/stat of the kernel process.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from harness import CHROMIUM, CHROMIUM_ARGS, FRONTENDS, BenchPage, NotebookServer, write_notebook  # noqa: E402

PRELUDE = """
import json, os, time
import numpy as np, matplotlib, matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation
from IPython.display import display
_x = np.linspace(0, 2 * np.pi, 2048)
_n = [0]
_prof = {}
_STOP = None  # a file the benchmark creates to stop animations from outside the kernel

def _stop_requested():
    return _STOP is not None and os.path.exists(_STOP)

def _sent():
    return 0

def _snap():
    return {"t": time.monotonic(), "cpu": time.process_time(), "steps": _n[0], "sent": _sent(),
            "prof": {k: list(v) for k, v in _prof.items()}}

def _agg_rate(w, h, dpr, seconds=1.5):
    # The limit: the same figure drawn by Agg alone, in this kernel, as fast as it goes.
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    f = Figure(figsize=(w / 100, h / 100), dpi=100 * dpr)
    canvas = FigureCanvasAgg(f)
    a = f.add_subplot()
    l, = a.plot(_x, np.sin(_x))
    a.set_ylim(-1.1, 1.1)
    canvas.draw()
    n, t0 = 0, time.perf_counter()
    while True:
        n += 1
        l.set_ydata(np.sin(_x + n / 10))
        canvas.draw()
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 10:
            return n / dt

def _pan_reset():
    pass

def _rtt_take():
    return []

def _pan_spans():
    return []

def _stop_all():
    g = globals()
    if g.get("ani") is not None:
        try:
            g["ani"].pause()
        except Exception:
            pass
        g["ani"] = None
    plt.close("all")
"""

# Our backend only: timers around the kernel's per-frame work (monkeypatched in the
# benchmark kernel; the product is not changed). Totals are cumulative; _snap() reads them.
OURS_PROFILE = """
import nbagg.frames as _F, nbagg.view as _V, nbagg.manager as _M
from matplotlib.backends.backend_agg import FigureCanvasAgg as _FCA
from matplotlib.axes import Axes as _Axes

_nested = []  # time spent in timed calls inside the timed call at each depth

def _timed(fn, key, only=None):
    # Count calls and exclusive CPU time: time in timed calls nested inside (an ack that
    # draws and encodes) is counted for those, not twice.
    def wrapper(*args, **kwargs):
        if only is not None and not only(args):
            return fn(*args, **kwargs)
        t0 = time.thread_time()  # CPU time of this thread: other processes do not count
        _nested.append(0.0)
        try:
            return fn(*args, **kwargs)
        finally:
            total = time.thread_time() - t0
            inner = _nested.pop()
            if _nested:
                _nested[-1] += total
            e = _prof.setdefault(key, [0, 0.0])
            e[0] += 1
            e[1] += total - inner
    return wrapper

_FCA.draw = _timed(_FCA.draw, "agg_draw")
_FCA.restore_region = _timed(_FCA.restore_region, "agg_blit")
_Axes.draw_artist = _timed(_Axes.draw_artist, "agg_blit")
_M.FigureManagerNbagg.frame_ready = _timed(_M.FigureManagerNbagg.frame_ready, "frame_ready")
_M.FigureManagerNbagg._handlers["ack"] = _timed(_M.FigureManagerNbagg._handlers["ack"], "on_ack")
_F.dirty_rects = _timed(_F.dirty_rects, "diff")
_F.encode_png = _timed(_F.encode_png, "encode")
_V.View.send = _timed(_V.View.send, "send", only=lambda a: a[1].get("type") == "frame")

def _sent():
    return sum(v.frames_sent for m in _M.managers.values() for v in m.views.values())

# Pan: time from the first 'move' with the button down after a press to the first frame sent.
import nbagg.canvas as _C
_pan = {"armed": False, "t_move": None, "spans": []}

def _pan_reset():
    _pan.update(armed=False, t_move=None, spans=[])

def _pan_spans():
    return _pan["spans"]

def _pan_mouse(fn):
    def wrapper(self, msg):
        if msg["kind"] == "press":
            _pan.update(armed=True, t_move=None)
        elif msg["kind"] == "move" and _pan["armed"] and _pan["t_move"] is None and msg["buttons"] & 1:
            _pan["t_move"] = time.perf_counter()
        return fn(self, msg)
    return wrapper

def _pan_send(fn):
    def wrapper(self, msg, buffers=None):
        if _pan["t_move"] is not None and _pan["armed"] and msg.get("type") == "frame":
            _pan["spans"].append(time.perf_counter() - _pan["t_move"])
            _pan["armed"] = False
        return fn(self, msg, buffers)
    return wrapper

_C.FigureCanvasNbagg.handle_mouse = _pan_mouse(_C.FigureCanvasNbagg.handle_mouse)
_V.View.send = _pan_send(_V.View.send)

# Round trip seen by the kernel: frame handed to the comm -> its ack handled.
_sent_at = {}
_rtts = []

def _rtt_send(fn):
    def wrapper(self, msg, buffers=None):
        if msg.get("type") == "frame":
            _sent_at[(self.id, msg["seq"])] = time.perf_counter()
        return fn(self, msg, buffers)
    return wrapper

def _rtt_ack(fn):
    def wrapper(self, view, msg):
        t = _sent_at.pop((view.id, msg.get("seq")), None)
        if t is not None:
            _rtts.append(time.perf_counter() - t)
            del _rtts[:-2000]
        return fn(self, view, msg)
    return wrapper

def _rtt_take():
    out = list(_rtts)
    _rtts.clear()
    return out

_V.View.send = _rtt_send(_V.View.send)
_M.FigureManagerNbagg._handlers["ack"] = _rtt_ack(_M.FigureManagerNbagg._handlers["ack"])
"""

NBAGG_SETUP = "%load_ext nbagg\n%matplotlib notebook"
BACKENDS = {
    # The classic Notebook (nbclassic).
    "nbagg": {
        "label": "nbagg (this)",
        "frontend": "classic",
        "ours": True,
        "setup": NBAGG_SETUP,
        "expect": "module://nbagg",
        "selector": "#notebook-container .output_area .nbagg-figure canvas.nbagg-canvas",
        "another_view": "display(fig)",
        "extra": OURS_PROFILE,
    },
    "mpl": {
        "label": "matplotlib nbagg",
        "frontend": "classic",
        "setup": "%matplotlib notebook",
        "expect": "notebook",
        "selector": "#notebook-container .output_area canvas.mpl-canvas",
        # display(fig) does not make a live view here; reshow() opens one more comm view.
        "another_view": "fig.canvas.manager.reshow()",
        "extra": "",
    },
    "ipympl": {
        "label": "ipympl widget",
        "frontend": "classic",
        "setup": "%matplotlib widget",
        "expect": "widget",
        "selector": "#notebook-container .output_area .jupyter-matplotlib-canvas-div > canvas:first-of-type",
        "another_view": "display(fig.canvas)",
        "extra": "",
    },
    # JupyterLab 4 (matplotlib's own nbagg does not run there).
    "nbagg-lab": {
        "label": "nbagg (JupyterLab)",
        "frontend": "lab",
        "ours": True,
        "setup": NBAGG_SETUP,
        "expect": "module://nbagg",
        "selector": ".jp-OutputArea .nbagg-figure canvas.nbagg-canvas",
        "another_view": "display(fig)",
        "extra": OURS_PROFILE,
    },
    "ipympl-lab": {
        "label": "ipympl widget (JupyterLab)",
        "frontend": "lab",
        "setup": "%matplotlib widget",
        "expect": "widget",
        "selector": ".jp-OutputArea .jupyter-matplotlib-canvas-div > canvas:first-of-type",
        "another_view": "display(fig.canvas)",
        "extra": "",
    },
}
# --frontend: the backends it runs, ours first (the ratios are ours over each of the others).
MODES = {
    "classic": ["nbagg", "mpl", "ipympl"],
    # nbagg in the classic Notebook too, in the same run: JupyterLab against classic.
    "lab": ["nbagg-lab", "ipympl-lab", "nbagg"],
}
# Column labels per mode where they differ from BACKENDS' own.
MODE_LABELS = {"lab": {"nbagg": "nbagg (classic Notebook)"}}

# Scenario ids; --only takes shell patterns over these.
SCENARIOS = [
    "first_paint",
    "idle",
    "anim",
    "views4",
    "blit",
    "pan",
    "anim_dpr2",
    "blit_dpr2",
    "pan_dpr2",
    "anim_large",
    "blit_large",
    "pan_large",
    "loop_draw",
    "loop_flush",
    "loop_pause",
]
SMALL = (640, 480)
LARGE = (1600, 1000)


def line_figure(w: int, h: int) -> str:
    return (
        f"fig, ax = plt.subplots(figsize=({w / 100}, {h / 100}), dpi=100)\n"
        "line, = ax.plot(_x, np.sin(_x))\n"
        "ax.set_ylim(-1.1, 1.1);"
    )


def anim_cell(w: int, h: int) -> str:
    return (
        line_figure(w, h)
        + """
_n[0] = 0
def _update(i):
    if _stop_requested():  # stop without going through the (possibly flooded) shell queue
        ani.event_source.stop()
        return (line,)
    _n[0] += 1
    line.set_ydata(np.sin(_x + _n[0] / 10))
    return (line,)
ani = FuncAnimation(fig, _update, interval=1, blit=False, cache_frame_data=False)"""
    )


# The loop idioms of issue 11, each in a cell of its own run after the figure's cell.
LOOP_IDIOMS = {
    "loop_draw": "fig.canvas.draw()",
    "loop_flush": "fig.canvas.draw_idle(); fig.canvas.flush_events()",
    "loop_pause": "plt.pause(0.001)",
}
LOOP_STEPS, LOOP_SLEEP = 100, 0.02


def loop_cell(idiom: str) -> str:
    return f"""_t = time.monotonic()
for _k in range({LOOP_STEPS}):
    line.set_ydata(np.sin(_x + _k / 5))
    {LOOP_IDIOMS[idiom]}
    time.sleep({LOOP_SLEEP})
_loop_s, _loop_steps = time.monotonic() - _t, {LOOP_STEPS}"""


def blit_cell(w: int, h: int) -> str:
    return f"""fig, ax = plt.subplots(figsize=({w / 100}, {h / 100}), dpi=100)
ax.set_xlim(-1.2, 1.2)
ax.set_ylim(-1.2, 1.2)
ax.plot(np.cos(_x), np.sin(_x), color="0.8")
ax.plot(0.4 * np.cos(_x) - 0.6, 0.4 * np.sin(_x) + 0.6, color="0.8")
marker, = ax.plot([], [], "o", ms=10)
_n[0] = 0
def _init():
    marker.set_data([], [])
    return (marker,)
def _update(i):
    if _stop_requested():
        ani.event_source.stop()
        return (marker,)
    # A small circle in the axes' top-left quarter: on screen for every backend (see docs).
    _n[0] += 1
    a = _n[0] * 0.08
    marker.set_data([0.4 * np.cos(a) - 0.6], [0.4 * np.sin(a) + 0.6])
    return (marker,)
ani = FuncAnimation(fig, _update, init_func=_init, interval=1, blit=True, cache_frame_data=False)"""


class Runner:
    def __init__(self, args, browser, servers: dict, root: Path, labels: dict):
        self.args = args
        self.browser = browser
        self.servers = servers  # front-end name -> NotebookServer
        self.root = root
        self.labels = labels
        self.counter = 0

    def wanted(self, scenario: str) -> bool:
        return any(fnmatch.fnmatch(scenario, pat) for pat in self.args.only)

    def open(self, backend: str, dpr: float) -> BenchPage:
        self.counter += 1
        name = f"{self.counter:02d}-{backend}-dpr{dpr:g}.ipynb"
        write_notebook(self.root / name)
        spec = BACKENDS[backend]
        server = self.servers[spec["frontend"]]
        pg = BenchPage(self.browser, server, name, dpr, track_frames=spec.get("ours", False))
        pg.backend = backend
        pg.stop_file = self.root / f"{name}.stop"
        # The setup cell holds the backend's magics only, so every figure cell below it
        # is on screen; the prelude (and our profile timers) run in the same kernel
        # outside the notebook.
        pg.run_cell(spec["setup"], timeout=120_000)
        pg.execute(PRELUDE + spec["extra"] + f"\n_STOP = {str(pg.stop_file)!r}", timeout=120_000)
        if spec.get("ours") and self.args.ours_patch:
            # Experiments only: try a change to nbagg in the benchmark kernel, unchanged files.
            path = str(Path(self.args.ours_patch).resolve())
            pg.execute(f"_patch_file = {path!r}\nexec(compile(open(_patch_file).read(), _patch_file, 'exec'))")
        got = pg.kernel_json("matplotlib.get_backend()")
        if got != spec["expect"]:
            raise RuntimeError(f"{backend}: backend is {got!r}, expected {spec['expect']!r}")
        return pg

    def reopen(self, pg: BenchPage, backend: str, dpr: float) -> BenchPage:
        """After a failure: drop the page and its kernel (which may still be animating)."""
        print(f"  (reopening {self.labels[backend]} in a new kernel)", flush=True)
        try:
            pg.stop_file.touch()
            pg.close()
        except Exception:
            pass
        pg.server.shutdown_kernel(pg.kernel_id)
        return self.open(backend, dpr)

    def stop_animation(self, pg: BenchPage, timeout: float = 120_000) -> None:
        """Stop the animation from outside (stop file), then close every figure."""
        pg.stop_file.touch()
        try:
            pg.execute("_stop_all()", timeout)  # answers once the kernel has drained its queue
        finally:
            pg.stop_file.unlink(missing_ok=True)

    # -- measuring --------------------------------------------------------------------

    def snap(self, pg: BenchPage) -> dict:
        return pg.kernel_json("_snap()")

    def window(self, pg: BenchPage, seconds: float, kernel: bool = True) -> dict:
        """Frames per watched canvas, bytes and kernel CPU over one window."""
        kernel = kernel and BACKENDS[pg.backend].get("ours", False)  # profile snapshots: our kernel only
        if kernel:
            pg.execute("_rtt_take()")
        k0 = self.snap(pg) if kernel else None
        c0 = pg.kernel_cpu()
        pg.wait(100)
        b0 = pg.meter.snapshot()
        f0 = len(pg.meter.frames)
        t0 = pg.js("() => __bench.now()")
        pg.wait(seconds * 1000)
        t1 = pg.js("() => __bench.now()")
        b1 = pg.meter.snapshot()
        frames = pg.meter.frames[f0:]
        w = pg.js("([a, b]) => __bench.window(a, b)", [t0, t1])
        c1 = pg.kernel_cpu()
        k1 = self.snap(pg) if kernel else None
        rtts = pg.kernel_json("_rtt_take()") if kernel else []
        secs = (t1 - t0) / 1000
        d = pg.meter.delta(b0, b1)
        out = {"seconds": secs, "changes": w["changes"], "raf_fps": w["raf"] / secs, **d}
        # nbagg only: browser time per frame, websocket in -> ack out (DevTools timestamps).
        turn = [1000 * (pg.meter.acks[seq] - t) for t, seq in frames if seq in pg.meter.acks]
        if turn:
            out["browser_ms_per_frame"] = report.percentile(turn, 50)
            out["ws_frames_per_s"] = len(frames) / secs
        if rtts:
            out["kernel_rtt_ms"] = report.percentile([1000 * x for x in rtts], 50)
        out["kernel_cpu_share"] = (c1[1] - c0[1]) / (c1[0] - c0[0])
        if kernel:
            kt = k1["t"] - k0["t"]
            out["kernel_steps_per_s"] = (k1["steps"] - k0["steps"]) / kt
            out["kernel_sent_per_s"] = (k1["sent"] - k0["sent"]) / kt
            out["kernel_seconds"] = kt
            prof = {}
            for key, (n1, s1) in k1["prof"].items():
                n0, s0 = k0["prof"].get(key, [0, 0.0])
                prof[key] = [n1 - n0, (s1 - s0) / kt]  # calls, seconds per second
            out["prof"] = prof
        return out

    def fps_metrics(self, win: dict, views: int = 1) -> dict:
        frames = sum(win["changes"]) / max(1, len(win["changes"]))
        fps = frames / win["seconds"]
        m = {
            "fps": fps,
            "fps_min_view": min(win["changes"]) / win["seconds"] if win["changes"] else 0.0,
            "raf_fps": win["raf_fps"],
            "bytes_per_frame": win["received"] / frames if frames else None,
            # text websocket messages are JSON-only (status, comm messages without buffers)
            "text_bytes_per_frame": win["received_text"] / frames if frames else None,
            "msgs_per_frame": win["received_msgs"] / frames if frames else None,
            "sent_msgs_per_frame": win["sent_msgs"] / frames if frames else None,
            "kb_per_s": win["received"] / win["seconds"] / 1024,
            "sent_kb_per_s": win["sent"] / win["seconds"] / 1024,
            "views": views,
        }
        for key in ("browser_ms_per_frame", "ws_frames_per_s", "kernel_rtt_ms"):
            if key in win:
                m[key] = win[key]
        m["kernel_cpu_share"] = win["kernel_cpu_share"]
        m["kernel_cpu_ms_per_frame"] = 1000 * win["kernel_cpu_share"] / fps if fps else None
        if "kernel_steps_per_s" in win:
            m["kernel_steps_per_s"] = win["kernel_steps_per_s"]
        if win.get("prof"):
            m["breakdown"] = breakdown(win, fps)
        return m

    def cleanup(self, pg: BenchPage, first_cell: int) -> None:
        self.stop_animation(pg)
        pg.delete_cells_from(first_cell)
        pg.js("() => __bench.watch('none-at-all')")  # nothing left to sample
        pg.wait(300)

    def watch(self, pg: BenchPage, backend: str, count: int = 1, timeout: float = 30_000) -> list:
        sel = BACKENDS[backend]["selector"]
        pg.page.wait_for_function(
            "([s, n]) => document.querySelectorAll(s).length >= n", arg=[sel, count], timeout=timeout
        )
        sizes = pg.js("(s) => __bench.watch(s)", sel)
        if len(sizes) != count:
            raise RuntimeError(f"expected {count} canvases, found {len(sizes)}")
        return sizes

    def wait_first_frame(self, pg: BenchPage, backend: str, timeout: float = 30_000) -> None:
        # Some ink (not blank, not all white) on the canvas: the figure has been drawn.
        sel = BACKENDS[backend]["selector"]
        pg.page.wait_for_function(
            """(s) => { const c = document.querySelector(s); if (!c || !c.width) return false;
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 for (let i = 0; i < d.length; i += 4 * 97) {
                   if (d[i + 3] && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) return true; }
                 return false; }""",
            arg=sel,
            timeout=timeout,
            polling=50,
        )

    # -- scenarios ----------------------------------------------------------------------

    def first_paint(self, pg: BenchPage, backend: str) -> dict:
        out = {}
        for label in ("cold_ms", "warm_ms"):
            index = pg.add_cell(line_figure(*SMALL))
            ms = pg.js("([i, s]) => __bench.firstPaint(i, s, 60000)", [index, BACKENDS[backend]["selector"]])
            pg.wait_cell(index)
            out[label] = ms
            self.cleanup(pg, index)
        return out

    def idle_all(self, pages: dict) -> dict:
        """A static figure on every page at once; bytes on each page's socket over 5 s."""
        out, first = {}, {}
        for backend, pg in pages.items():
            try:
                first[backend] = pg.run_cell(line_figure(*SMALL))
                self.watch(pg, backend)
                self.wait_first_frame(pg, backend)
            except Exception as err:
                traceback.print_exc()
                out[backend] = {"error": f"{type(err).__name__}: {err}"}
        pg_ok = {b: pages[b] for b in first if b not in out}
        if not pg_ok:
            return out
        # Waiting in Playwright (not time.sleep) delivers every page's DevTools events.
        any_page = next(iter(pg_ok.values()))
        any_page.wait(2500)  # anything the display itself triggers (e.g. a deferred state) is done
        b0 = {b: pg.meter.snapshot() for b, pg in pg_ok.items()}
        t0 = time.monotonic()
        any_page.wait(self.args.idle_window * 1000)
        secs = time.monotonic() - t0
        any_page.wait(1)
        for b, pg in pg_ok.items():
            d = pg.meter.delta(b0[b], pg.meter.snapshot())
            out[b] = {"bytes_received": d["received"], "bytes_sent": d["sent"], "seconds": secs}
        for b, index in first.items():
            try:
                self.cleanup(pages[b], index)
            except Exception:
                traceback.print_exc()
        return out

    def animation(self, pg: BenchPage, backend: str, size, dpr: float, views4: bool) -> tuple[dict, dict | None]:
        index = pg.run_cell(anim_cell(*size))
        canvas = self.watch(pg, backend)[0]
        self.wait_first_frame(pg, backend)
        pg.wait(self.args.warmup * 1000)
        one = self.fps_metrics(self.window(pg, self.args.window))
        one["canvas"] = canvas
        four = None
        if views4:
            pg.run_cell(f"for _ in range(3):\n    {BACKENDS[backend]['another_view']}")
            self.watch(pg, backend, 4)
            pg.wait(self.args.warmup * 1000)
            win = self.window(pg, self.args.window)
            four = self.fps_metrics(win, views=4)
            four["one_view"] = {k: one.get(k) for k in ("fps", "kernel_cpu_ms_per_frame", "kernel_cpu_share")}
            if one.get("kernel_cpu_ms_per_frame") and four.get("kernel_cpu_ms_per_frame"):
                four["cpu_per_frame_ratio"] = four["kernel_cpu_ms_per_frame"] / one["kernel_cpu_ms_per_frame"]
        self.stop_animation(pg)
        pg.wait(200)
        one["agg_fps"] = pg.kernel_json(f"_agg_rate({size[0]}, {size[1]}, {dpr})")
        one["fps_over_agg"] = one["fps"] / one["agg_fps"]
        self.cleanup(pg, index)
        return one, four

    def loop_in_cell(self, pg: BenchPage, backend: str, idiom: str) -> dict:
        """A figure shown by an earlier cell, updated by a loop in a running cell (issue 11):
        distinct frames that reach the canvas while the loop runs, against the rate the
        loop itself produces and the pure Agg rate."""
        index = pg.run_cell(line_figure(*SMALL))
        self.watch(pg, backend)
        self.wait_first_frame(pg, backend)
        pg.wait(500)
        b0 = pg.meter.snapshot()
        t0 = pg.js("() => __bench.now()")
        pg.run_cell(loop_cell(idiom), timeout=120_000)
        t1 = pg.js("() => __bench.now()")
        pg.wait(1)
        d = pg.meter.delta(b0, pg.meter.snapshot())
        loop_s, steps = pg.kernel_json("[_loop_s, _loop_steps]")
        # Canvas changes from running the cell until it finished (the one frame the end of
        # the cell may bring is among them: 1 of up to LOOP_STEPS).
        changes = pg.js("([a, b]) => __bench.window(a, b)", [t0, t1])["changes"][0]
        agg = pg.kernel_json(f"_agg_rate({SMALL[0]}, {SMALL[1]}, 1.0)")
        loop_rate = steps / loop_s
        fps = changes / loop_s
        self.cleanup(pg, index)
        return {
            "fps": fps,
            "loop_rate": loop_rate,
            "agg_fps": agg,
            "fps_over_limit": fps / min(loop_rate, agg),
            "frames": changes,
            "bytes_per_frame": d["received"] / changes if changes else None,
            "steps": steps,
            "loop_seconds": loop_s,
        }

    def blit(self, pg: BenchPage, backend: str, size) -> dict:
        index = pg.run_cell(blit_cell(*size))
        canvas = self.watch(pg, backend)[0]
        self.wait_first_frame(pg, backend)
        pg.wait(self.args.warmup * 1000)
        m = self.fps_metrics(self.window(pg, self.args.window))
        m["canvas"] = canvas
        m["blit_supported"] = pg.kernel_json("bool(ani._blit)")
        self.cleanup(pg, index)
        return m

    def pan(self, pg: BenchPage, backend: str, size, dpr: float = 1.0) -> dict:
        index = pg.run_cell(line_figure(*size))
        canvas = self.watch(pg, backend)[0]
        self.wait_first_frame(pg, backend)
        pg.execute("fig.canvas.toolbar.pan()")
        mode = pg.kernel_json("str(fig.canvas.toolbar.mode)")
        pg.wait(500)
        sel = BACKENDS[backend]["selector"]
        box = pg.js(
            """(s) => { const c = document.querySelector(s);
                 c.scrollIntoView({block: 'center', inline: 'nearest'});
                 const r = c.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; }""",
            sel,
        )
        vw, vh = pg.page.viewport_size["width"], pg.page.viewport_size["height"]
        # A point inside the axes and on screen: the centre of a small figure, or
        # (400, 300) CSS px into a large one; drags go 60 px right, then back left.
        x0 = box["x"] + min(box["w"] / 2, 400)
        y0 = box["y"] + min(box["h"] / 2, 300)
        if not (60 < x0 < vw - 70 and 0 < y0 < vh):
            raise RuntimeError(f"drag start {x0:.0f},{y0:.0f} is off screen ({box})")
        mouse = pg.page.mouse
        mouse.move(x0 - 20, y0)
        pg.wait(200)
        pg.execute("_pan_reset()")
        latencies, drags, missed = [], [], 0
        pg.wait_settled(200, 3000)
        drags_n = self.args.drags if size == SMALL and dpr == 1.0 else self.args.variant_drags
        for i in range(drags_n):
            sign = 1 if i % 2 == 0 else -1
            start = x0 if sign > 0 else x0 + 60
            mouse.move(start, y0)
            pg.execute("pass")  # the kernel has handled everything sent so far
            pg.wait_settled(150, 3000)
            b0 = pg.meter.snapshot()
            t0 = pg.js("() => __bench.now()")
            mouse.down()
            pg.wait(50)
            pg.js("() => __bench.armPan()")
            for k in range(1, 9):
                mouse.move(start + sign * 7.5 * k, y0)
                pg.wait(16)
            try:  # the first new pixels (however slow), then quiet
                pg.page.wait_for_function("() => __bench.panChanged()", timeout=5000, polling=20)
            except Exception:
                pass
            pg.wait_settled(200, 5000)
            mouse.up()
            pg.wait_settled(200, 5000)
            t1 = pg.js("() => __bench.now()")
            d = pg.meter.delta(b0, pg.meter.snapshot())
            d["frames"] = pg.js("([a, b]) => __bench.window(a, b)", [t0, t1])["changes"][0]
            drags.append(d)
            lat = pg.js("() => __bench.panLatency()")
            if lat is None:
                missed += 1
            else:
                latencies.append(lat)
        spans = pg.kernel_json("_pan_spans()")
        self.cleanup(pg, index)
        n = len(drags)
        frames = sum(d["frames"] for d in drags)
        out = {
            "p50_ms": report.percentile(latencies, 50) if latencies else None,
            "p95_ms": report.percentile(latencies, 95) if latencies else None,
            "latencies_ms": [round(x, 1) for x in latencies],
            "missed": missed,
            "bytes_per_drag": sum(d["received"] for d in drags) / n,
            "sent_bytes_per_drag": sum(d["sent"] for d in drags) / n,
            "frames_per_drag": frames / n,
            "bytes_per_frame": sum(d["received"] for d in drags) / frames if frames else None,
            "msgs_per_drag": sum(d["received_msgs"] for d in drags) / n,
            "sent_msgs_per_drag": sum(d["sent_msgs"] for d in drags) / n,
            "mode": mode,
            "canvas": canvas,
        }
        if spans:
            # Our kernel only: first move message handled -> first frame sent, per drag.
            out["kernel_p50_ms"] = report.percentile([1000 * x for x in spans], 50)
        return out

    # -- one backend in one repeat -------------------------------------------------------

    def run_repeat(self, r: int, backends: list[str], results: dict) -> None:
        """One repeat: every scenario on every backend, the backends back to back per
        scenario (in an order that rotates), so a change in the machine's load between
        scenarios hits all three alike."""

        def store(name, backend, value, seconds):
            results.setdefault(name, {}).setdefault(backend, []).append(value)
            label = self.labels[backend]
            print(f"  {name:12s} {label:26s} {seconds:5.1f}s  {report.brief(name, value)}", flush=True)

        def each(step: int, fn) -> None:
            k = (r + step) % len(backends)
            for backend in backends[k:] + backends[:k]:
                t = time.monotonic()
                try:
                    fn(backend, t)
                except Exception:  # fn stores its own errors; this is a bug in the benchmark
                    traceback.print_exc()

        def scenario(name, step, method, *args):
            if not self.wanted(name):
                return

            def fn(backend, t):
                try:
                    value = method(pages[backend], backend, *args)
                except Exception as err:  # one failed scenario must not lose the others
                    traceback.print_exc()
                    value = {"error": f"{type(err).__name__}: {err}"}
                    pages[backend] = self.reopen(pages[backend], backend, dpr)
                store(name, backend, value, time.monotonic() - t)

            each(step, fn)

        def animation(suffix, step, size, dpr):
            want_anim = self.wanted("anim" + suffix)
            want_views = suffix == "" and self.wanted("views4")
            if not (want_anim or want_views):
                return

            def fn(backend, t):
                try:
                    one, four = self.animation(pages[backend], backend, size, dpr, want_views)
                except Exception as err:
                    traceback.print_exc()
                    one = four = {"error": f"{type(err).__name__}: {err}"}
                    pages[backend] = self.reopen(pages[backend], backend, dpr)
                if want_anim:
                    store("anim" + suffix, backend, one, time.monotonic() - t)
                if want_views:
                    store("views4", backend, four, time.monotonic() - t)

            each(step, fn)

        for dpr in (1.0, 2.0):
            names = [n for n in SCENARIOS if ("dpr2" in n) == (dpr == 2.0) and self.wanted(n)]
            if not names:
                continue
            pages: dict[str, BenchPage] = {}
            try:
                for backend in backends:
                    pages[backend] = self.open(backend, dpr)
                if dpr == 1.0:
                    scenario("first_paint", 0, self.first_paint)
                    if self.wanted("idle"):
                        t = time.monotonic()
                        for backend, value in self.idle_all(pages).items():
                            store("idle", backend, value, time.monotonic() - t)
                    animation("", 1, SMALL, 1.0)
                    scenario("blit", 2, self.blit, SMALL)
                    scenario("pan", 0, self.pan, SMALL)
                    for step, idiom in enumerate(LOOP_IDIOMS):
                        scenario(idiom, step, self.loop_in_cell, idiom)
                    animation("_large", 1, LARGE, 1.0)
                    scenario("blit_large", 2, self.blit, LARGE)
                    scenario("pan_large", 0, self.pan, LARGE)
                else:
                    animation("_dpr2", 1, SMALL, 2.0)
                    scenario("blit_dpr2", 2, self.blit, SMALL)
                    scenario("pan_dpr2", 0, self.pan, SMALL, 2.0)
            finally:
                for backend, pg in pages.items():
                    if pg.errors:
                        print(f"  page errors ({backend}): {pg.errors[:5]}")
                    pg.close()
                for server in self.servers.values():
                    server.shutdown_kernels()


def breakdown(win: dict, fps: float) -> dict:
    """Our kernel's time per displayed frame (ms), by stage, from the profile timers."""
    prof = win["prof"]
    per_s = {k: v[1] for k, v in prof.items()}
    agg = per_s.get("agg_draw", 0.0) + per_s.get("agg_blit", 0.0)
    diff = per_s.get("diff", 0.0)
    encode = per_s.get("encode", 0.0)
    send = per_s.get("send", 0.0)
    # Exclusive times (see _timed): what frame_ready and the ack handler do themselves.
    bookkeeping = per_s.get("frame_ready", 0.0) + per_s.get("on_ack", 0.0)
    frame_work = diff + encode + send + bookkeeping
    cpu = win["kernel_cpu_share"]
    other = max(0.0, cpu - agg - frame_work)

    def ms(x):
        return 1000 * x / fps if fps else None

    return {
        "agg_draw_ms": ms(agg),
        "diff_ms": ms(diff),
        "encode_ms": ms(encode),
        "send_ms": ms(send),
        "compare_copy_ms": ms(bookkeeping),
        "other_ms": ms(other),
        "cpu_ms": ms(cpu),
        "full_draws_per_s": prof.get("agg_draw", [0])[0] / win["kernel_seconds"],
        "steps_per_s": win["kernel_steps_per_s"],
        "frames_sent_per_s": win["kernel_sent_per_s"],
        "busy_share": agg + frame_work,
    }


def machine_info(browser_version: str) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    pkgs = {}
    for name in (
        "nbagg",
        "matplotlib",
        "ipympl",
        "ipywidgets",
        "widgetsnbextension",
        "nbclassic",
        "jupyterlab",
        "jupyterlab_widgets",
        "jupyter_server",
        "ipykernel",
        "ipython",
        "numpy",
        "pillow",
        "playwright",
    ):
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = None
    try:
        rev = subprocess.run(
            ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE.parent), "status", "--porcelain", "--", "nbagg", "js/src", "js/style"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        rev = rev + ("+changes" if dirty else "")
    except OSError:
        rev = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": mem,
        "python": platform.python_version(),
        "chromium": browser_version,
        "packages": pkgs,
        "nbagg_revision": rev,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs of every scenario per backend (default 3)")
    ap.add_argument(
        "--only",
        default="*",
        help="comma-separated shell patterns over scenario ids: " + ", ".join(SCENARIOS) + " (default: all)",
    )
    ap.add_argument(
        "--frontend",
        choices=tuple(MODES),
        default="classic",
        help="classic: nbagg, matplotlib nbagg and ipympl in the classic Notebook (default); lab: nbagg and "
        "ipympl in JupyterLab, and nbagg in the classic Notebook in the same run",
    )
    ap.add_argument(
        "--backends",
        help="comma-separated subset of the mode's backends: "
        + "; ".join(f"{m}: {','.join(bs)}" for m, bs in MODES.items())
        + " (default: all of them)",
    )
    ap.add_argument("--window", type=float, default=4.0, help="seconds per fps measurement (default 4)")
    ap.add_argument("--idle-window", type=float, default=5.0, help="seconds of the idle measurement (default 5)")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds an animation runs before measuring (default 1)")
    ap.add_argument("--drags", type=int, default=20, help="pan drags per run, 640x480 (default 20)")
    ap.add_argument("--variant-drags", type=int, default=10, help="pan drags per run, dpr 2 and 1600x1000 (default 10)")
    ap.add_argument(
        "--out",
        default=str(HERE / "results"),
        help="folder for latest.json and latest.md (latest-lab.* with --frontend lab)",
    )
    ap.add_argument(
        "--ours-patch",
        metavar="FILE",
        help="experiments: Python file run in nbagg's kernel after setup (e.g. benchmarks/experiments/*.py); "
        "the report names it and docs/benchmarks.md is left alone",
    )
    ap.add_argument(
        "--docs", choices=("auto", "yes", "no"), default="auto", help="update docs/benchmarks.md (auto: full runs only)"
    )
    args = ap.parse_args(argv)
    args.only = [p.strip() for p in args.only.split(",") if p.strip()]
    mode = MODES[args.frontend]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()] if args.backends else list(mode)
    for b in backends:
        if b not in mode:
            ap.error(f"unknown backend {b!r} for --frontend {args.frontend} (one of {','.join(mode)})")
    backends = [b for b in mode if b in backends]  # ours first
    labels = {b: MODE_LABELS.get(args.frontend, {}).get(b, BACKENDS[b]["label"]) for b in backends}
    if not Path(CHROMIUM).exists():
        print(f"error: Chromium not found at {CHROMIUM} (apt-get install chromium, or set NBAGG_CHROMIUM)")
        return 2

    from playwright.sync_api import sync_playwright

    command = "bash benchmarks/run" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    work = Path(tempfile.mkdtemp(prefix="nbagg-bench-"))  # notebooks, Jupyter dirs, server log
    root = work / "notebooks"
    root.mkdir(parents=True)
    started = time.time()
    load = [os.getloadavg()]
    results: dict = {}
    servers: dict[str, NotebookServer] = {}
    try:
        for name in dict.fromkeys(BACKENDS[b]["frontend"] for b in backends):
            servers[name] = NotebookServer(root, work / f"home-{name}", FRONTENDS[name])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                info = machine_info(browser.version)
                runner = Runner(args, browser, servers, root, labels)
                for r in range(args.repeats):
                    print(f"repeat {r + 1}/{args.repeats}", flush=True)
                    runner.run_repeat(r, backends, results)
                    load.append(os.getloadavg())
            finally:
                browser.close()
    finally:
        for server in servers.values():
            server.stop()
    data = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(started)),
        "command": command,
        "duration_s": round(time.time() - started),
        "repeats": args.repeats,
        "window_s": args.window,
        "drags": args.drags,
        "frontend": args.frontend,
        "ours": backends[0] if BACKENDS[backends[0]].get("ours") else None,
        "backends": labels,
        "ours_patch": args.ours_patch,
        "machine": info,
        "loadavg": [[round(x, 2) for x in la] for la in load],
        "raw": results,
    }
    data["summary"] = report.summarize(results)
    data["targets"] = report.targets(data["summary"], results, args.frontend)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "latest" if args.frontend == "classic" else f"latest-{args.frontend}"
    (out / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    md = report.markdown(data)
    (out / f"{stem}.md").write_text(md)
    full = args.only == ["*"] and backends == mode and not args.ours_patch
    if args.docs == "yes" or (args.docs == "auto" and full):
        report.update_docs(HERE.parent / "docs" / "benchmarks.md", md, args.frontend)
    print()
    print(md)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
