"""What a figure's restore state costs: notebook file size against `%matplotlib inline`,
and restore-state bytes on the wire per pan, zoom and after an animation stops.

    .venv/bin/python benchmarks/state_size.py                     # ~2 min
    .venv/bin/python benchmarks/state_size.py --repeats 3
    .venv/bin/python benchmarks/state_size.py --browser classic   # also: saved from the browser

Notebook sizes: each of four notebooks (one line plot, imshow of a 1000x1000 array, a
100k-point scatter, 20 small figures) is executed headless with nbclient under nbagg
and under `%matplotlib inline`, written with nbformat, and its file size compared. The
nbagg outputs hold the kernel's image and the signed state. With --browser FRONTEND
(classic, lab, notebook7) the nbagg notebooks are also opened in headless Chromium, run,
left to settle and saved from the page, as a user saves them (the image is then the
frame on screen, encoded by the browser).

Wire: a real kernel (tests/kernel_harness.py) and one comm view; for the line plot and
a 3,000-point scatter, pans and zooms through the toolbar's pan and zoom modes, and an
animation that is paused; the JSON bytes of every `state` and `view` message count.
Medians over repeats. Writes benchmarks/results/state_size.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from kernel_harness import Kernel, figure_ids  # noqa: E402
from test_restore_traffic import listen, pan, restore_bytes  # noqa: E402

SETUPS = {
    "inline": "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport numpy as np",
    "nbagg": "%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt\nimport numpy as np",
}
NOTEBOOKS = {
    "one line plot": ["x = np.linspace(0, 10, 200)\nfig, ax = plt.subplots()\nax.plot(x, np.sin(x))"],
    "imshow 1000x1000": ["fig, ax = plt.subplots()\nax.imshow(np.random.default_rng(0).random((1000, 1000)))"],
    "scatter 100k": [
        "r = np.random.default_rng(0)\nfig, ax = plt.subplots()\nax.scatter(r.random(100_000), r.random(100_000))"
    ],
    "20 small figures": [
        f"fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(np.arange(10) ** {i % 4}, marker='o')\nax.set_title('figure {i}')"
        for i in range(20)
    ],
}
MOUSE = {"type": "mouse", "button": 0, "modifiers": []}


def notebook_size(backend: str, cells: list[str], folder: Path) -> tuple[int, int]:
    """(file bytes, nbagg state characters) of the notebook executed under `backend`."""
    nb = new_notebook(cells=[new_code_cell(SETUPS[backend]), *map(new_code_cell, cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    path = folder / f"{backend}.ipynb"
    nbformat.write(nb, path)
    state = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for value in output.get("data", {}).values():
                if isinstance(value, dict) and "state" in value:
                    state += len(json.dumps(value["state"])) + len(json.dumps(value.get("view", "")))
    return path.stat().st_size, state


def browser_sizes(frontend: str, folder: Path) -> dict[str, int]:
    """File bytes of each nbagg notebook run and saved in a real browser."""
    from browser_harness import CHROMIUM, CHROMIUM_ARGS, FRONTENDS, NotebookPage, NotebookServer, write_notebook
    from playwright.sync_api import sync_playwright

    sizes = {}
    (folder / "root").mkdir()
    server = NotebookServer(folder / "root", folder / "home", FRONTENDS[frontend])
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for index, (name, cells) in enumerate(NOTEBOOKS.items()):
                file = f"size-{index}.ipynb"
                write_notebook(server.root / file, [SETUPS["nbagg"], *cells])
                context = browser.new_context(viewport={"width": 1200, "height": 900})
                page = NotebookPage(context.new_page(), server, file)
                page.run_all(timeout=300_000)
                for k in range(len(cells)):
                    page.wait_live(k, timeout=120_000)
                page.page.wait_for_timeout(2500)  # the restore state settles (1 s) and arrives
                page.save()
                sizes[name] = (server.root / file).stat().st_size
                page.shutdown_session()
                context.close()
            browser.close()
    finally:
        server.stop()
    return sizes


def wire_bytes(kernel: Kernel, code: str) -> dict[str, float]:
    """Restore-state bytes per pan, per zoom, and after an animation is paused."""
    fid = figure_ids(kernel.execute(code))[0]
    view = kernel.open_view(fid)
    view.recv_frame()
    listen(view, 2.0)
    view.send({"type": "toolbar", "action": "pan"})
    pans = []
    for dx in (-60, 45, -30):
        pan(view, dx)
        pans.append(sum(restore_bytes(listen(view, 2.0)).values()))
    view.send({"type": "toolbar", "action": "zoom"})
    zooms = []
    for x0 in (120, 160):
        view.send({**MOUSE, "kind": "press", "x": x0, "y": 100, "buttons": 1})
        view.send({**MOUSE, "kind": "move", "x": x0 + 150, "y": 250, "buttons": 1})
        view.send({**MOUSE, "kind": "release", "x": x0 + 150, "y": 250, "buttons": 0})
        zooms.append(sum(restore_bytes(listen(view, 2.0)).values()))
    kernel.execute(
        "from matplotlib.animation import FuncAnimation\n"
        "_art = plt.gcf().axes[0].get_children()[0]\n"
        "anim = FuncAnimation(plt.gcf(), lambda i: _art.set_alpha(0.3 + (i % 7) / 10), interval=40, cache_frame_data=False)\n"
        "plt.gcf().canvas.draw_idle()  # an animation starts on the next draw"
    )
    listen(view, 2.0)
    kernel.execute("anim.pause()")
    stopped = restore_bytes(listen(view, 2.5))
    silent = sum(restore_bytes(listen(view, 2.0)).values())
    kernel.execute("plt.close('all')")
    return {
        "pan": statistics.median(pans),
        "zoom": statistics.median(zooms),
        "after stop": stopped["state"] + stopped["view"],
        "after stop, next 2 s": silent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--browser", choices=["classic", "lab", "notebook7"], help="also save from this front end")
    args = parser.parse_args()
    started = time.time()
    sizes: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cells in NOTEBOOKS.items():
            runs = {b: [notebook_size(b, cells, Path(tmp)) for _ in range(args.repeats)] for b in SETUPS}
            inline = statistics.median(r[0] for r in runs["inline"])
            nbagg = statistics.median(r[0] for r in runs["nbagg"])
            state = statistics.median(r[1] for r in runs["nbagg"])
            sizes[name] = {"inline": inline, "nbagg": nbagg, "state": state, "ratio": nbagg / inline}
            print(
                f"{name}: inline {inline / 1000:.1f} KB, nbagg {nbagg / 1000:.1f} KB ({nbagg / inline:.2f}x)",
                flush=True,
            )
        if args.browser:
            for name, size in browser_sizes(args.browser, Path(tmp)).items():
                sizes[name]["browser"] = size
                sizes[name]["browser ratio"] = size / sizes[name]["inline"]
                print(f"{name}: saved from {args.browser}: {size / 1000:.1f} KB", flush=True)
    kernel = Kernel()
    try:
        kernel.execute("%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt\nimport numpy as np")
        wire = {}
        for name, code in {
            "line plot": "fig, ax = plt.subplots(); ax.plot(np.linspace(0, 10, 200), np.sin(np.linspace(0, 10, 200)))",
            "scatter 3k": "r = np.random.default_rng(1); fig, ax = plt.subplots(); ax.scatter(r.random(3000), r.random(3000))",
        }.items():
            runs = [wire_bytes(kernel, code) for _ in range(args.repeats)]
            wire[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            print(f"{name}: {wire[name]}", flush=True)
    finally:
        kernel.shutdown()
    results = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "repeats": args.repeats,
        "browser": args.browser,
        "seconds": round(time.time() - started),
        "notebooks": sizes,
        "wire": wire,
    }
    out = HERE / "results"
    (out / "state_size.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "state_size.md").write_text(report(results))
    print(report(results))


def report(results: dict) -> str:
    browser = results.get("browser")
    lines = [
        f"# Restore state: notebook size and wire bytes ({results['repeats']} repeat(s), {results['seconds']} s)",
        "",
        "| notebook | `%matplotlib inline` | nbagg (nbclient) | of which state | ratio (target <= 2) |"
        + (f" saved from {browser} | ratio |" if browser else ""),
        "| --- | --- | --- | --- | --- |" + (" --- | --- |" if browser else ""),
    ]
    for name, r in results["notebooks"].items():
        lines.append(
            f"| {name} | {r['inline'] / 1000:.1f} KB | {r['nbagg'] / 1000:.1f} KB | {r['state'] / 1000:.1f} KB |"
            f" {r['ratio']:.2f} |" + (f" {r['browser'] / 1000:.1f} KB | {r['browser ratio']:.2f} |" if browser else "")
        )
    lines += [
        "",
        "| figure | per pan | per zoom | after an animation stops | the 2 s after that |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, w in results["wire"].items():
        lines.append(
            f"| {name} | {w['pan']:.0f} B | {w['zoom']:.0f} B | {w['after stop'] / 1000:.1f} KB | {w['after stop, next 2 s']:.0f} B |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
