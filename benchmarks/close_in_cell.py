"""Figures created, shown and closed inside one running cell (issue 11, part 1): kernel
RSS growth for nbagg against `%matplotlib inline` and matplotlib's own nbagg.

    bash benchmarks/run close-in-cell          # 3 repeats, 200 and 2,000 figures (~50 min on 2 cores)
    .venv/bin/python benchmarks/close_in_cell.py --repeats 1 --figures 200 --backends nbagg   # ~1 min

Every repeat starts a fresh kernel (real ipykernel through jupyter_client, no browser),
selects the backend, runs 20 warm-up figures in a cell of their own, then one cell that
loops ``fig = plt.figure(); plt.plot(...); fig.canvas.draw(); [plt.show();] plt.close(fig)``
and, at every checkpoint (200 and 2,000 figures by default), runs gc.collect() and
records RSS growth and the Figure objects still alive, all while that cell runs. The
next cell measures again after the cell ended. Medians over the repeats.
Writes benchmarks/results/close_in_cell.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from kernel_harness import Kernel  # noqa: E402

BACKENDS = {
    "nbagg": ("nbagg", "%load_ext nbagg\n%matplotlib notebook"),
    "inline": ("%matplotlib inline", "%matplotlib inline"),
    "mpl": ("matplotlib nbagg", "%matplotlib module://matplotlib.backends.backend_nbagg"),
}

HELPERS = """
import gc, json, time
import matplotlib, matplotlib.pyplot as plt
from matplotlib.figure import Figure

def _rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20

def _live():
    return sum(isinstance(o, Figure) for o in gc.get_objects())

def _loop(n, show, checkpoints=(), rss0=0.0):
    rows, t0 = [], time.perf_counter()
    for i in range(1, n + 1):
        fig = plt.figure(); plt.plot([1, 2, 3]); fig.canvas.draw()
        if show:
            plt.show()
        plt.close(fig)
        if i in checkpoints:
            del fig
            gc.collect()
            rows.append([i, _rss() - rss0, _live(), time.perf_counter() - t0])
    return rows
"""


def run_once(backend: str, show: bool, checkpoints: list[int]) -> dict:
    k = Kernel()
    try:
        k.execute(BACKENDS[backend][1] + "\n" + HELPERS)
        k.execute(f"_loop(20, {show}); gc.collect()")  # warm-up: fonts, caches, first draws
        code = (
            f"gc.collect(); _rss0 = _rss(); print(json.dumps(_loop({max(checkpoints)}, {show}, {checkpoints}, _rss0)))"
        )
        outputs = k.execute(code, timeout=3600)
        k._pending.clear()  # comm traffic (matplotlib's nbagg opens a comm per figure)
        text = "".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream")
        rows = json.loads(text.strip().splitlines()[-1])
        after = k.eval("[gc.collect(), _rss() - _rss0, _live()][1:]")
        return {
            "checkpoints": {
                str(n): {"rss_mb": round(mb, 2), "figures_alive": alive, "seconds": round(s, 2)}
                for n, mb, alive, s in rows
            },
            "after_cell": {"rss_mb": round(after[0], 2), "figures_alive": after[1]},
        }
    finally:
        k.shutdown()


def summarize(raw: dict, checkpoints: list[int]) -> list[dict]:
    rows = []
    for key, runs in raw.items():
        backend, mode = key.split("/")
        for n in checkpoints:
            points = [r["checkpoints"][str(n)] for r in runs]
            rows.append(
                {
                    "backend": backend,
                    "show": mode == "show",
                    "figures": n,
                    "rss_mb": round(statistics.median(p["rss_mb"] for p in points), 1),
                    "rss_range": [
                        round(min(p["rss_mb"] for p in points), 1),
                        round(max(p["rss_mb"] for p in points), 1),
                    ],
                    "figures_alive": max(p["figures_alive"] for p in points),
                    "ms_per_figure": round(1000 * statistics.median(p["seconds"] / n for p in points), 1),
                    "after_cell_mb": round(statistics.median(r["after_cell"]["rss_mb"] for r in runs), 1),
                }
            )
    return rows


def markdown(data: dict) -> str:
    lines = [
        f"Run {data['date']} on {data['machine']}; `{data['command']}`; median of {data['repeats']} "
        "repeat(s) (range in brackets).",
        "",
        "RSS growth after gc.collect(), measured inside the running cell after 20 warm-up figures; "
        "`alive`: Figure objects still alive then (most over the repeats); `after cell`: the growth "
        "once the cell has ended (at the last checkpoint).",
        "",
        "| backend | plt.show() | figures in one cell | RSS growth | alive | ms / figure | after cell |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in data["summary"]:
        lo, hi = r["rss_range"]
        lines.append(
            f"| {BACKENDS[r['backend']][0]} | {'yes' if r['show'] else 'no'} | {r['figures']:,} | "
            f"{r['rss_mb']:+.1f} MB [{lo:+.1f}..{hi:+.1f}] | {r['figures_alive']} | {r['ms_per_figure']} | "
            f"{r['after_cell_mb']:+.1f} MB |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="fresh kernels per backend and mode (default 3)")
    ap.add_argument("--figures", default="200,2000", help="comma-separated checkpoints in one cell (default 200,2000)")
    ap.add_argument("--backends", default="nbagg,inline,mpl", help="comma-separated subset of nbagg,inline,mpl")
    ap.add_argument("--modes", default="show,noshow", help="with and/or without plt.show() (default show,noshow)")
    ap.add_argument("--out", default=str(HERE / "results"), help="folder for close_in_cell.json and .md")
    args = ap.parse_args(argv)
    checkpoints = sorted({int(n) for n in args.figures.split(",") if n.strip()})
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for b in backends:
        if b not in BACKENDS:
            ap.error(f"unknown backend {b!r}")
    for m in modes:
        if m not in ("show", "noshow"):
            ap.error(f"unknown mode {m!r}")
    os.environ.setdefault("NBAGG_STATE_KEY_FILE", str(Path(tempfile.mkdtemp()) / "state.key"))
    command = "benchmarks/close_in_cell.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    from importlib import metadata

    started = time.time()
    raw: dict[str, list] = {}
    for r in range(args.repeats):
        for backend in backends:
            for mode in modes:
                print(f"repeat {r + 1}/{args.repeats}: {backend}, {mode}, {max(checkpoints)} figures ...", flush=True)
                raw.setdefault(f"{backend}/{mode}", []).append(run_once(backend, mode == "show", checkpoints))
    data = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(started)),
        "command": command,
        "duration_s": round(time.time() - started),
        "repeats": args.repeats,
        "machine": f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
        f"matplotlib {metadata.version('matplotlib')}, ipykernel {metadata.version('ipykernel')}",
        "raw": raw,
    }
    data["summary"] = summarize(raw, checkpoints)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "close_in_cell.json").write_text(json.dumps(data, indent=1) + "\n")
    md = markdown(data)
    (out / "close_in_cell.md").write_text(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
