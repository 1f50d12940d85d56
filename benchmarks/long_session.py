"""Long-session measurements (issue 6): memory and leftovers over many figures, many page
reloads, and a long animation. Not part of the test suite (it takes ~20 minutes).

    .venv/bin/python benchmarks/long_session.py              # everything, 10-minute animation
    .venv/bin/python benchmarks/long_session.py --minutes 2 --figures 100 --reloads 20

Writes benchmarks/results/long_session.{json,md}; docs/long-session.md quotes the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from browser_harness import CHROMIUM, CHROMIUM_ARGS, SETUP, NotebookPage, NotebookServer, write_notebook  # noqa: E402
from kernel_harness import Kernel, figure_ids  # noqa: E402

RSS = "int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20"
LEFTOVERS = (
    "[len(nbagg.manager.managers), len(plt.get_fignums()), len(get_comm_manager().comms), "
    "sum(isinstance(o, nbagg.canvas.TimerNbagg) for o in gc.get_objects()), "
    "sum(len(m.views) for m in nbagg.manager.managers.values())]"
)
IMPORTS = "import gc, nbagg.manager, nbagg.canvas\nfrom comm import get_comm_manager"


def many_figures(count: int) -> dict:
    """Create, show, view (one frame), and close `count` figures in one kernel."""
    k = Kernel()
    try:
        k.execute(SETUP + "\n" + IMPORTS)

        def cycle(n):
            for i in range(n):
                out = k.execute(f"fig, ax = plt.subplots(figsize=(4, 3)); ax.plot(np.arange({i % 50 + 2}));")
                view = k.open_view(figure_ids(out)[0])
                view.recv_frame()
                k.execute("t = fig.canvas.new_timer(interval=1000); t.start(); plt.close(fig); t.stop(); del t")
                view.recv(type="comm_close")
            k.execute("gc.collect()")
            k._pending.clear()

        cycle(20)  # warm-up: fonts, caches
        before = k.eval(RSS)
        t0 = time.monotonic()
        cycle(count)
        seconds = time.monotonic() - t0
        after = k.eval(RSS)
        managers, figures, comms, timers, views = k.eval(LEFTOVERS)
        return {
            "figures": count,
            "seconds": round(seconds, 1),
            "rss_before_mb": round(before, 1),
            "rss_after_mb": round(after, 1),
            "left": {"managers": managers, "figures": figures, "comms": comms, "timers": timers, "views": views},
        }
    finally:
        k.shutdown()


def reload_cycles(browser, server, reloads: int, figures: int = 10) -> dict:
    cells = [SETUP + "\n" + IMPORTS] + [
        f"fig{i}, ax{i} = plt.subplots(figsize=(3, 2)); ax{i}.plot(np.random.default_rng({i}).random(100))"
        for i in range(figures)
    ]
    write_notebook(server.root / "reloads.ipynb", cells)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    nb = NotebookPage(context.new_page(), server, "reloads.ipynb")
    try:
        nb.run_all()
        nb.page.wait_for_function(
            f"() => document.querySelectorAll('.nbagg-figure[data-nbagg-state=live]').length === {figures}",
            timeout=60_000,
        )
        nb.page.evaluate("() => Jupyter.notebook.save_notebook()")
        nb.execute("gc.collect()")
        before = nb.eval(RSS)
        t0 = time.monotonic()
        for _ in range(reloads):
            nb.page.reload()
            nb.wait_kernel()
            nb.page.wait_for_function(
                f"() => document.querySelectorAll('.nbagg-figure[data-nbagg-state=live]').length === {figures}",
                timeout=60_000,
            )
        seconds = time.monotonic() - t0
        nb.page.wait_for_timeout(2000)
        nb.execute("gc.collect()")
        after = nb.eval(RSS)
        managers, figs, comms, timers, views = nb.eval(LEFTOVERS)
        return {
            "reloads": reloads,
            "figures": figures,
            "seconds": round(seconds, 1),
            "rss_before_mb": round(before, 1),
            "rss_after_mb": round(after, 1),
            "left": {"managers": managers, "figures": figs, "comms": comms, "timers": timers, "views": views},
            "console_errors": len(nb.console_errors),
        }
    finally:
        context.close()


def long_animation(browser, server, minutes: float) -> dict:
    cells = [
        SETUP,
        "from matplotlib.animation import FuncAnimation\n"
        "fig, ax = plt.subplots(figsize=(6.4, 4.8)); x = np.linspace(0, 6, 2048)\n"
        "ln, = ax.plot(x, np.sin(x)); ax.set_ylim(-1.1, 1.1)\n"
        "def step(i):\n    ln.set_ydata(np.sin(x + i / 10))\n"
        "anim = FuncAnimation(fig, step, interval=20, cache_frame_data=False)",
    ]
    write_notebook(server.root / "animation.ipynb", cells)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    nb = NotebookPage(context.new_page(), server, "animation.ipynb")
    cdp = context.new_cdp_session(nb.page)
    samples = []
    try:
        nb.run_all()
        nb.wait_live(frames=10)
        end = time.monotonic() + minutes * 60
        interval = max(10.0, minutes * 60 / 20)
        while True:
            cdp.send("HeapProfiler.collectGarbage")
            heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
            samples.append(
                {
                    "t": round(minutes * 60 - (end - time.monotonic()), 1),
                    "kernel_rss_mb": round(nb.eval(RSS), 1),
                    "js_heap_mb": round(heap, 2),
                    "frames": nb.frames(),
                }
            )
            if time.monotonic() >= end:
                break
            time.sleep(min(interval, max(0.0, end - time.monotonic())))
        return {"minutes": minutes, "samples": samples, "console_errors": len(nb.console_errors)}
    finally:
        context.close()


def report(results: dict) -> str:
    f, r, a = results["figures"], results["reloads"], results["animation"]
    s0, s1 = a["samples"][0], a["samples"][-1]
    rss = [s["kernel_rss_mb"] for s in a["samples"][1:]] or [s0["kernel_rss_mb"]]
    heap = [s["js_heap_mb"] for s in a["samples"][1:]] or [s0["js_heap_mb"]]
    lines = [
        f"Run {results['date']} on {results['machine']}.",
        "",
        "| scenario | size | time | kernel RSS before → after | left behind |",
        "| --- | --- | --- | --- | --- |",
        f"| create, show, view, close figures | {f['figures']} figures | {f['seconds']} s | "
        f"{f['rss_before_mb']} → {f['rss_after_mb']} MB | {f['left']} |",
        f"| reload a page with {r['figures']} live figures | {r['reloads']} reloads | {r['seconds']} s | "
        f"{r['rss_before_mb']} → {r['rss_after_mb']} MB | {r['left']}, console errors {r['console_errors']} |",
        "",
        f"Animation (2048-point line, 640x480, interval 20 ms) with a view attached for {a['minutes']} min: "
        f"{s1['frames'] - s0['frames']} frames drawn in the browser.",
        "",
        "| | first sample | last sample | min..max after the first |",
        "| --- | --- | --- | --- |",
        f"| kernel RSS | {s0['kernel_rss_mb']} MB | {s1['kernel_rss_mb']} MB | {min(rss)}..{max(rss)} MB |",
        f"| browser JS heap (after GC) | {s0['js_heap_mb']} MB | {s1['js_heap_mb']} MB | {min(heap)}..{max(heap)} MB |",
        "",
        "Nothing lost: every view reconnected live after every reload "
        "(`left` counts managers, figures, comms, timers, views still alive).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--figures", type=int, default=500)
    parser.add_argument("--reloads", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}",
    }
    os.environ.setdefault("NBAGG_STATE_KEY_FILE", str(Path(tempfile.mkdtemp()) / "state.key"))
    print(f"{args.figures} figures ...", flush=True)
    results["figures"] = many_figures(args.figures)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        root, home = Path(tmp) / "nb", Path(tmp) / "home"
        root.mkdir()
        home.mkdir()
        server = NotebookServer(root, home)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            print(f"{args.reloads} reloads ...", flush=True)
            results["reloads"] = reload_cycles(browser, server, args.reloads)
            print(f"{args.minutes} min animation ...", flush=True)
            results["animation"] = long_animation(browser, server, args.minutes)
        finally:
            browser.close()
            server.stop()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "long_session.json").write_text(json.dumps(results, indent=2))
    (out / "long_session.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
