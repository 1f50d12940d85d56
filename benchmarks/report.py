"""Statistics, targets and the Markdown report of a benchmark run (see bench.py)."""

from __future__ import annotations

import statistics
from pathlib import Path

# (scenario, metric, label, unit, decimals); the rows of the main table, in order.
ROWS = [
    ("first_paint", "cold_ms", "First paint, first figure of a kernel", "ms", 0),
    ("first_paint", "warm_ms", "First paint, next figure", "ms", 0),
]
VARIANTS = [("", "640x480"), ("_dpr2", "640x480 @ dpr 2"), ("_large", "1600x1000")]
for _suffix, _what in VARIANTS:
    ROWS += [
        ("anim" + _suffix, "fps", f"Animation fps, {_what}", "fps", 1),
        ("anim" + _suffix, "fps_over_agg", f"Animation fps / pure Agg redraw rate, {_what}", "x", 2),
        ("anim" + _suffix, "agg_fps", f"Pure Agg redraw rate (kernel), {_what}", "/s", 1),
        ("anim" + _suffix, "bytes_per_frame", f"Animation bytes/frame, {_what}", "B", 0),
        ("anim" + _suffix, "kernel_cpu_ms_per_frame", f"Animation kernel CPU/frame, {_what}", "ms", 1),
        ("blit" + _suffix, "fps", f"Blitted fps, {_what}", "fps", 1),
        ("blit" + _suffix, "bytes_per_frame", f"Blitted bytes/frame, {_what}", "B", 0),
        ("blit" + _suffix, "kernel_cpu_ms_per_frame", f"Blitted kernel CPU/frame, {_what}", "ms", 1),
        ("pan" + _suffix, "p50_ms", f"Pan: first move to new pixels p50, {_what}", "ms", 0),
        ("pan" + _suffix, "p95_ms", f"Pan: first move to new pixels p95, {_what}", "ms", 0),
        ("pan" + _suffix, "bytes_per_drag", f"Pan bytes/drag, {_what}", "B", 0),
    ]
ROWS += [
    ("idle", "bytes_total", "Idle: bytes in 5 s, static figure", "B", 0),
    ("views4", "fps", "4 views: fps (mean of the views)", "fps", 1),
    ("views4", "kernel_cpu_ms_per_frame", "4 views: kernel CPU/frame", "ms", 1),
    ("views4", "cpu_per_frame_ratio", "4 views: kernel CPU/frame vs 1 view", "x", 2),
]
# A loop in a running cell updating a figure shown earlier (issue 11), one row set per idiom.
LOOP_WHAT = {"loop_draw": "draw()", "loop_flush": "draw_idle() + flush_events()", "loop_pause": "plt.pause()"}
for _scn, _what in LOOP_WHAT.items():
    ROWS += [
        (_scn, "fps", f"Loop in a cell, {_what}: fps during the loop", "fps", 1),
        (_scn, "fps_over_limit", f"Loop in a cell, {_what}: fps / min(loop rate, Agg rate)", "x", 2),
        (_scn, "bytes_per_frame", f"Loop in a cell, {_what}: bytes/frame", "B", 0),
    ]

BREAKDOWN = [
    ("agg_draw_ms", "Agg draw"),
    ("diff_ms", "diff"),
    ("encode_ms", "PNG encode"),
    ("send_ms", "send"),
    ("compare_copy_ms", "compare+copy, flow control"),
    ("other_ms", "other kernel CPU"),
    ("cpu_ms", "kernel CPU total"),
]

# The results section docs/benchmarks.md keeps for each --frontend mode.
MARKERS = {
    "classic": ("<!-- results:begin -->", "<!-- results:end -->"),
    "lab": ("<!-- results-lab:begin -->", "<!-- results-lab:end -->"),
}

# JupyterLab mode: nbagg in JupyterLab within 10% of nbagg in the classic Notebook on every
# scenario, on its headline metrics: (scenario, metric, higher is better).
WITHIN_CLASSIC = [
    ("first_paint", "cold_ms", False),
    ("first_paint", "warm_ms", False),
    *[
        row
        for suffix, _ in VARIANTS
        for row in (
            ("anim" + suffix, "fps", True),
            ("blit" + suffix, "fps", True),
            ("blit" + suffix, "bytes_per_frame", False),
            ("pan" + suffix, "p50_ms", False),
        )
    ],
    ("views4", "fps", True),
]


def percentile(values, q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    xs = sorted(values)
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _metrics(value: dict) -> dict:
    """Flat numeric metrics of one scenario run (nested dicts one level deep as a.b)."""
    out = {}
    for k, v in value.items():
        if _num(v):
            out[k] = float(v)
        elif isinstance(v, dict):
            for k2, v2 in v.items():
                if _num(v2):
                    out[f"{k}.{k2}"] = float(v2)
    if "bytes_received" in value:
        out["bytes_total"] = float(value["bytes_received"] + value["bytes_sent"])
    return out


def summarize(results: dict) -> dict:
    """scenario -> backend -> metric -> {median, min, max, n}; plus errors."""
    summary: dict = {}
    for scenario, by_backend in results.items():
        for backend, runs in by_backend.items():
            entry = summary.setdefault(scenario, {}).setdefault(backend, {"metrics": {}, "errors": []})
            values: dict[str, list[float]] = {}
            for run in runs:
                if run is None:
                    continue
                if "error" in run:
                    entry["errors"].append(run["error"])
                    continue
                for k, v in _metrics(run).items():
                    values.setdefault(k, []).append(v)
            for k, vs in values.items():
                entry["metrics"][k] = {"median": statistics.median(vs), "min": min(vs), "max": max(vs), "n": len(vs)}
            # Pan latencies: percentiles over every drag of every repeat.
            pooled = [x for run in runs if run and "latencies_ms" in run for x in run["latencies_ms"]]
            if pooled:
                for q in (50, 95):
                    v = percentile(pooled, q)
                    entry["metrics"][f"p{q}_ms"] = {"median": v, "min": v, "max": v, "n": len(pooled)}
    return summary


def paired_ratio(raw: dict, scenario: str, metric: str, a: str = "nbagg", b: str = "mpl"):
    """Median over repeats of a's metric over b's, each pair from the same repeat (the two
    ran minutes apart at most, so a change in the machine's load affects both)."""
    if metric in ("p50_ms", "p95_ms"):  # pooled over all drags: one ratio
        return None
    runs_a = raw.get(scenario, {}).get(a, [])
    runs_b = raw.get(scenario, {}).get(b, [])
    ratios = []
    for x, y in zip(runs_a, runs_b):
        if not x or not y or "error" in x or "error" in y:
            continue
        mx, my = _metrics(x).get(metric), _metrics(y).get(metric)
        if mx is not None and my:
            ratios.append(mx / my)
    return statistics.median(ratios) if ratios else None


def ratio(summary: dict, raw: dict, scenario: str, metric: str, a: str = "nbagg", b: str = "mpl"):
    r = paired_ratio(raw, scenario, metric, a, b)
    if r is not None:
        return r
    x, y = _med(summary, scenario, a, metric), _med(summary, scenario, b, metric)
    return x / y if x is not None and y else None


def _med(summary, scenario, backend, metric):
    try:
        return summary[scenario][backend]["metrics"][metric]["median"]
    except KeyError:
        return None


def _stat(summary, scenario, backend, metric):
    try:
        return summary[scenario][backend]["metrics"][metric]
    except KeyError:
        return None


def targets(summary: dict, raw: dict, frontend: str = "classic") -> list[dict]:
    """The issue's targets: met, not met, or unknown (None). Ratios to a peer are medians
    of per-repeat ratios; pan p50 is over all drags of all repeats."""
    if frontend == "lab":
        return lab_targets(summary, raw)
    out = []

    def add(name, value, goal, met):
        out.append({"target": name, "value": value, "goal": goal, "met": met})

    def ratio_(scn, metric):
        return ratio(summary, raw, scn, metric)

    for suffix, what in VARIANTS:
        r = ratio_("anim" + suffix, "fps")
        add(f"Animation fps ≥ 2.5× matplotlib nbagg ({what})", r, "≥ 2.5", None if r is None else r >= 2.5)
        a = _med(summary, "anim" + suffix, "nbagg", "fps_over_agg")
        add(f"Animation fps ≥ 70% of pure Agg redraw rate ({what})", a, "≥ 0.70", None if a is None else a >= 0.7)
        r = ratio_("blit" + suffix, "fps")
        add(f"Blitted fps ≥ 4× matplotlib nbagg ({what})", r, "≥ 4", None if r is None else r >= 4)
        r = ratio_("blit" + suffix, "bytes_per_frame")
        add(f"Blitted bytes/frame ≤ 1/10 of matplotlib nbagg ({what})", r, "≤ 0.10", None if r is None else r <= 0.1)
        r = ratio_("pan" + suffix, "p50_ms")
        add(f"Pan p50 ≤ 0.5× matplotlib nbagg ({what})", r, "≤ 0.5", None if r is None else r <= 0.5)
    idle = _stat(summary, "idle", "nbagg", "bytes_total")
    add("Idle: 0 bytes in 5 s (every repeat)", idle and idle["max"], "0", None if idle is None else idle["max"] == 0)
    v = _med(summary, "views4", "nbagg", "cpu_per_frame_ratio")
    add("4 views: kernel CPU/frame ≤ 1.5× one view", v, "≤ 1.5", None if v is None else v <= 1.5)
    loop_targets(add, summary, raw, "nbagg")
    return out


def loop_targets(add, summary: dict, raw: dict, ours: str, peer: str | None = "mpl") -> None:
    """Issue 11: a loop in a cell shows >= 0.7 of what it produces (or of the Agg rate), and
    never fewer frames than matplotlib's nbagg."""
    for scn, what in LOOP_WHAT.items():
        a = _med(summary, scn, ours, "fps_over_limit")
        add(
            f"Loop in a cell, {what}: fps ≥ 0.7 of the loop's (or Agg's) rate",
            a,
            "≥ 0.70",
            None if a is None else a >= 0.7,
        )
        if peer is not None:
            r = ratio(summary, raw, scn, "fps", ours, peer)
            add(f"Loop in a cell, {what}: fps ≥ matplotlib nbagg", r, "≥ 1", None if r is None else r >= 1)


def lab_targets(summary: dict, raw: dict) -> list[dict]:
    """JupyterLab mode (issue 10): nbagg in JupyterLab against ipympl in JupyterLab, and
    against nbagg in the classic Notebook measured in the same run."""
    ours, peer, classic = "nbagg-lab", "ipympl-lab", "nbagg"
    out = []

    def add(name, value, goal, met):
        out.append({"target": name, "value": value, "goal": goal, "met": met})

    def r_(scn, metric, b=peer):
        return ratio(summary, raw, scn, metric, ours, b)

    for metric, what in (("cold_ms", "first figure of a kernel"), ("warm_ms", "next figure")):
        r = r_("first_paint", metric)
        add(f"First paint no slower than ipympl ({what})", r, "≤ 1", None if r is None else r <= 1)
    for suffix, what in VARIANTS:
        r = r_("anim" + suffix, "fps")
        add(f"Animation fps ≥ 2.5× ipympl ({what})", r, "≥ 2.5", None if r is None else r >= 2.5)
        r = r_("blit" + suffix, "fps")
        add(f"Blitted fps ≥ 4× ipympl ({what})", r, "≥ 4", None if r is None else r >= 4)
        r = r_("blit" + suffix, "bytes_per_frame")
        add(f"Blitted bytes/frame ≤ 1/10 of ipympl ({what})", r, "≤ 0.10", None if r is None else r <= 0.1)
        r = r_("pan" + suffix, "p50_ms")
        add(f"Pan p50 ≤ 0.5× ipympl ({what})", r, "≤ 0.5", None if r is None else r <= 0.5)
    idle = _stat(summary, "idle", ours, "bytes_total")
    add("Idle: 0 bytes in 5 s (every repeat)", idle and idle["max"], "0", None if idle is None else idle["max"] == 0)
    for scn, metric, higher in WITHIN_CLASSIC:
        r = r_(scn, metric, classic)
        goal = "≥ 0.90" if higher else "≤ 1.10"
        met = None if r is None else (r >= 0.9 if higher else r <= 1.1)
        add(f"Within 10% of nbagg in the classic Notebook: {scn} {metric}", r, goal, met)
    a, b = _stat(summary, "idle", ours, "bytes_total"), _stat(summary, "idle", classic, "bytes_total")
    if a is not None and b is not None:
        add(
            "Within 10% of nbagg in the classic Notebook: idle bytes",
            f"{a['max']:.0f} vs {b['max']:.0f}",
            "equal",
            a["max"] <= b["max"] * 1.1,
        )
    loop_targets(add, summary, raw, ours, peer=None)  # ipympl is not the bar here: its own loop story
    return out


def _fmt(x, decimals: int) -> str:
    if x is None:
        return "–"
    if decimals == 0:
        return f"{x:,.0f}".replace(",", " ")
    return f"{x:.{decimals}f}"


def _cell(stat, decimals: int) -> str:
    if stat is None:
        return "–"
    if stat["n"] == 1 or stat["min"] == stat["max"]:
        return _fmt(stat["median"], decimals)
    return f"{_fmt(stat['median'], decimals)} ({_fmt(stat['min'], decimals)}–{_fmt(stat['max'], decimals)})"


def markdown(data: dict) -> str:
    s = data["summary"]
    backends = list(data["backends"])
    labels = data["backends"]
    ours = data.get("ours", "nbagg")  # results of runs before --frontend: classic, nbagg
    m = data["machine"]
    pk = m["packages"]
    lines = [
        f"Run {data['date']}: `{data['command']}` ({data['repeats']} repeats, {data['duration_s'] // 60} min "
        f"{data['duration_s'] % 60} s).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}, "
        f"Chromium {m['chromium']} (headless, software rendering); "
        + ", ".join(f"{k} {v}" for k, v in pk.items() if v)
        + f"; nbagg at {m['nbagg_revision']}. Load average (1 min) during the run: "
        + ", ".join(f"{la[0]:.1f}" for la in data["loadavg"])
        + ".",
        "",
        *(
            [f"**Experiment:** nbagg ran with `{data['ours_patch']}` applied in its kernel (not the shipped code).", ""]
            if data.get("ours_patch")
            else []
        ),
        "Medians over the repeats, (min–max) when they differ; pan percentiles are over every drag of every "
        f"repeat. Ratios are {labels.get(ours, ours)} over the other column: the median of the per-repeat ratios "
        "(each pair measured minutes apart at most, so a change of the machine's load hits both).",
        "",
    ]
    head = ["Metric"] + [labels[b] for b in backends]
    others = [b for b in backends if b != ours]
    if ours in backends:
        head += [f"{labels[ours]} / {labels[b]}" for b in others]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for scenario, metric, label, unit, dec in ROWS:
        if scenario not in s:
            continue
        stats = [_stat(s, scenario, b, metric) for b in backends]
        if all(x is None for x in stats):
            continue
        row = [f"{label} ({unit})"] + [_cell(x, dec) for x in stats]
        if ours in backends:
            for b in others:
                r = ratio(s, data["raw"], scenario, metric, ours, b)
                row.append("–" if r is None else f"{r:.2f}×")
        lines.append("| " + " | ".join(row) + " |")
    errors = [
        f"- {scn} / {labels.get(b, b)}: {e}"
        for scn, by in s.items()
        for b, entry in by.items()
        for e in sorted(set(entry["errors"]))
    ]
    raf = [_med(s, scn, b, "raf_fps") for scn in s for b in backends if _med(s, scn, b, "raf_fps") is not None]
    if raf:
        lines += [
            "",
            f"Frames are counted once per display frame (requestAnimationFrame ran at "
            f"{min(raf):.0f}–{max(raf):.0f} /s in these runs): no backend can show more.",
        ]
    if errors:
        lines += ["", "Errors:"] + errors
    lines += ["", "### Targets", "", "| Target | Value | Goal | Met |", "|---|---|---|---|"]
    for t in data["targets"]:
        met = "unknown" if t["met"] is None else ("met" if t["met"] else "**not met**")
        value = "–" if t["value"] is None else (f"{t['value']:.2f}" if _num(t["value"]) else str(t["value"]))
        lines.append(f"| {t['target']} | {value} | {t['goal']} | {met} |")
    bd_rows = []
    for scenario in ["anim", "anim_dpr2", "anim_large", "blit", "blit_dpr2", "blit_large", "views4"]:
        entry = s.get(scenario, {}).get(ours)
        if not entry:
            continue
        mm = entry["metrics"]
        total = mm.get("breakdown.cpu_ms", {}).get("median")
        if not total:
            continue
        cells = []
        for key, _ in BREAKDOWN:
            v = mm.get(f"breakdown.{key}", {}).get("median")
            cells.append("–" if v is None else f"{v:.2f} ({100 * v / total:.0f}%)" if key != "cpu_ms" else f"{v:.2f}")
        steps = mm.get("breakdown.steps_per_s", {}).get("median")
        rend = mm.get("breakdown.full_draws_per_s", {}).get("median")
        sent = mm.get("breakdown.frames_sent_per_s", {}).get("median")
        fps = mm.get("fps", {}).get("median")
        rtt = mm.get("kernel_rtt_ms", {}).get("median")
        browser = mm.get("browser_ms_per_frame", {}).get("median")
        cells += [_fmt(steps, 1), _fmt(rend, 1), _fmt(sent, 1), _fmt(fps, 1), _fmt(rtt, 0), _fmt(browser, 0)]
        bd_rows.append(f"| {scenario} | " + " | ".join(cells) + " |")
    if bd_rows:
        lines += [
            "",
            f"### {labels.get(ours, ours)}: kernel time per displayed frame (ms, share of kernel CPU)",
            "",
            "Timers around nbagg's functions in the benchmark kernel (thread CPU time); *other* is the rest of the "
            "kernel process's CPU (ipykernel's message handling, the animation's own step, threads). Round trip: "
            "a frame handed to the comm until the kernel handles its ack (median); of which browser: the frame "
            "arriving on the page's websocket until the ack leaves it (DevTools timestamps); only every 2nd frame "
            "asks for an ack. With at most 8 frames in flight a view gets at most 8 frames per round trip. Each "
            "timer counts its own time, not that of the timed calls inside it (an ack that draws).",
            "",
            "| Scenario | "
            + " | ".join(label for _, label in BREAKDOWN)
            + " | animation steps/s | full draws/s | frames sent/s | fps shown | frame→ack round trip (ms)"
            " | of which browser (ms) |",
            "|---|" + "---|" * (len(BREAKDOWN) + 6),
        ] + bd_rows
    return "\n".join(lines) + "\n"


def update_docs(path: Path, md: str, frontend: str = "classic") -> None:
    """Replace the mode's results section of docs/benchmarks.md (between its markers)."""
    start, end = MARKERS[frontend]
    block = f"{start}\n{md}{end}"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def brief(name: str, value) -> str:
    """One line about one scenario run, for the progress output."""
    if value is None:
        return ""
    if "error" in value:
        return "ERROR " + value["error"]
    keys = [
        "cold_ms",
        "warm_ms",
        "fps",
        "fps_over_agg",
        "fps_over_limit",
        "loop_rate",
        "frames",
        "agg_fps",
        "bytes_per_frame",
        "kernel_cpu_ms_per_frame",
        "cpu_per_frame_ratio",
        "p50_ms",
        "p95_ms",
        "bytes_per_drag",
        "missed",
        "bytes_received",
        "bytes_sent",
        "raf_fps",
    ]
    parts = []
    for k in keys:
        v = value.get(k)
        if _num(v):
            parts.append(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)
