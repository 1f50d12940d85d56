"""A figure animated by a loop in a running cell, in a real browser: distinct frames that
reach the canvas while the cell runs (sampled from its pixels, not counted as messages),
and a Slider steering a plt.pause() loop where the front end sends input on a subshell.

Where the front end sends comm messages on a subshell (JupyterLab / Notebook 7 >= 4.4
with ipykernel 7), acknowledgements and input are heard while the cell runs; elsewhere
(the classic Notebook, JupyterLab 4.0) the kernel paces frames and input waits for the
cell to end. The README's limits say the same.
"""

import pytest

pytestmark = pytest.mark.browser

STEPS = 60
LINE = (
    "import time\nx = np.linspace(0, 6.3, 300)\n"
    "fig, ax = plt.subplots(figsize=(4, 3), dpi=72)\nline, = ax.plot(x, np.sin(x)); ax.set_ylim(-1.1, 1.1)"
)
IDIOMS = {
    "draw_idle+flush_events": "fig.canvas.draw_idle(); fig.canvas.flush_events()",
    "draw": "fig.canvas.draw()",
    "pause": "plt.pause(0.001)",
}
# Counts distinct canvas images, one sample per display frame, until stopped.
# The canvas is looked up at every sample: the classic Notebook replaces an output's
# element when the kernel updates its display.
SAMPLER = """() => {
  const seen = new Set();
  window.nbaggSampler = { seen, running: true };
  const sample = () => {
    if (!window.nbaggSampler.running) return;
    const canvas = document.querySelector('.nbagg-figure canvas.nbagg-canvas');
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i += 4) h = (Math.imul(h, 31) + d[i] + (d[i + 1] << 8)) | 0;
    seen.add(h);
    requestAnimationFrame(sample);
  };
  sample();
}"""


def hears_input_while_a_cell_runs(nb) -> bool:
    """The front end sends comm messages on a subshell the kernel serves (see module doc)."""
    if nb.frontend.name == "classic":
        return False
    lab = tuple(int(v) for v in nb.page.evaluate("() => window.jupyterapp.version").split(".")[:2])
    return lab >= (4, 4) and nb.eval("__import__('ipykernel').version_info[0]") >= 7


def distinct_frames_during(nb, code: str) -> int:
    nb.page.evaluate(SAMPLER)
    nb.add_cell(code)  # runs as the user runs it; waits until the cell ends
    count = nb.page.evaluate("() => { window.nbaggSampler.running = false; return window.nbaggSampler.seen.size; }")
    return count - 1  # the image shown before the loop


@pytest.mark.parametrize("idiom", IDIOMS)
def test_a_loop_in_a_cell_animates_the_figure_while_it_runs(open_notebook, idiom):
    nb = open_notebook([LINE])
    nb.wait_live()
    nb.figure().scroll_into_view_if_needed()
    loop = f"for k in range({STEPS}):\n    line.set_ydata(np.sin(x + k / 5))\n    {IDIOMS[idiom]}\n    time.sleep(0.05)"
    frames = distinct_frames_during(nb, loop)
    final = nb.eval("[float(v) for v in line.get_ydata()[:3]]")
    if hears_input_while_a_cell_runs(nb):
        # Paced by the browser's acknowledgements: nearly every step is shown.
        assert frames >= 0.5 * STEPS, f"{idiom}: {frames} distinct frames for {STEPS} steps"
    else:
        # Paced by the kernel (about 10 per second): never the 8-then-nothing stall.
        assert frames >= 15, f"{idiom}: {frames} distinct frames for {STEPS} steps"
    # The last step is what stays on screen.
    nb.page.wait_for_timeout(500)
    assert nb.eval(f"[float(v) for v in np.sin(x + {STEPS - 1} / 5)[:3]]") == final
    assert nb.problems() == [] and nb.console_errors == []


@pytest.mark.parametrize("show", ["plt.show()", "display(fig)"])
def test_a_figure_shown_earlier_in_the_running_cell_animates_while_it_runs(open_notebook, show):
    nb = open_notebook(["pass"])
    nb.wait_idle()
    loop = (
        f"for k in range({STEPS}):\n    line.set_ydata(np.sin(x + k / 5))\n    plt.pause(0.001)\n    time.sleep(0.05)"
    )
    nb.add_cell(f"{LINE}\n{show}\n{loop}", wait=False)
    nb.figure().wait_for(timeout=30_000)
    nb.page.evaluate(SAMPLER)
    nb.wait_idle()
    frames = nb.page.evaluate("() => { window.nbaggSampler.running = false; return window.nbaggSampler.seen.size; }")
    # Shown while the cell runs: live at once where the browser is heard (its view
    # connects at the loop's next plt.pause), else its image is refreshed meanwhile.
    assert frames >= (0.3 * STEPS if hears_input_while_a_cell_runs(nb) else 10), f"{frames} distinct images"
    nb.wait_live()
    assert nb.page.locator(".nbagg-figure").count() == 1
    assert nb.problems() == [] and nb.console_errors == []


def test_a_slider_steers_a_plt_pause_loop(open_notebook):
    nb = open_notebook(
        [
            LINE + "\nfrom matplotlib.widgets import Slider\nfig.subplots_adjust(bottom=0.3)\n"
            "amp = Slider(fig.add_axes([0.2, 0.08, 0.6, 0.06]), 'amp', 0.0, 1.0, valinit=0.2)\n"
            "amp.on_changed(lambda v: (line.set_ydata(v * np.sin(x)), fig.canvas.draw_idle()))"
        ]
    )
    nb.wait_live()
    nb.figure().scroll_into_view_if_needed()
    # At 80% of the slider's width, half its height (figure pixels from the bottom-left).
    px, py = nb.eval("[float(v) for v in amp.ax.transAxes.transform((0.8, 0.5)) / fig.canvas.device_pixel_ratio]")
    box = nb.canvas_box()
    steps_limit = 300  # 300 x 20 ms: the loop ends on its own after about 6 s
    nb.start(f"steps = 0\nwhile amp.val < 0.5 and steps < {steps_limit}:\n    plt.pause(0.02); steps += 1")
    nb.page.wait_for_timeout(1500)
    nb.page.mouse.click(box["x"] + px, box["y"] + box["height"] - py)
    nb.wait_idle(timeout=30_000)
    nb.screenshot("slider-steered-a-loop.png")
    assert nb.eval("round(amp.val, 1)") == 0.8, "the click on the slider was lost"
    steps = nb.eval("steps")
    if hears_input_while_a_cell_runs(nb):
        assert steps < steps_limit, "the slider moved only after the loop had ended"
    else:
        assert steps == steps_limit  # input is handled after the cell
    assert nb.problems() == [] and nb.console_errors == []


def test_a_throttled_link_during_a_loop_gets_frames_at_its_own_pace(open_notebook):
    """DevTools network throttling (it applies to websockets, see test_browser_faults.py)
    before and during a loop in a cell: the kernel never sends faster than the round trips
    it measured, its memory stays flat inside the cell, and the view ends on the last step."""
    from test_browser_faults import assert_canvas_converges_to_kernel, network_session, set_network

    nb = open_notebook(
        [
            LINE
            + "\nimport os\n_rss = lambda: int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20"
        ]
    )
    nb.wait_live()
    nb.figure().scroll_into_view_if_needed()
    window, per_rtt, tracked = nb.eval(
        "[__import__('nbagg.view').view.MAX_IN_FLIGHT, __import__('nbagg.view').view.UNHEARD_PER_RTT,"
        " __import__('nbagg.view').view.MAX_TRACKED]"
    )
    cdp = network_session(nb)
    set_network(cdp, latency=150, throughput=100_000)
    try:
        for _ in range(6):  # the kernel measures the slow link's round trips
            nb.execute("line.set_ydata(np.random.rand(300)); fig.canvas.draw_idle()")
            nb.page.wait_for_timeout(800)
        rtt = nb.eval("[v.rtt for v in fig.canvas.manager.views.values()][0]")
        loop = (
            "view = next(iter(fig.canvas.manager.views.values()))\nstats = []\n_t = time.monotonic()\n"
            f"for k in range({5 * STEPS}):\n"  # as fast as Agg draws: far more than the link takes
            "    line.set_ydata(np.sin(x + k / 5)); fig.canvas.draw()\n"
            "    stats.append((view.frames_sent, len(view.in_flight), _rss()))\n"
            "_loop_s = time.monotonic() - _t"
        )
        nb.add_cell(loop)
        stats, duration = nb.eval("stats"), nb.eval("_loop_s")
    finally:
        set_network(cdp)
    frames = stats[-1][0] - stats[0][0]
    rss = [s[2] for s in stats]
    print(
        f"\nthrottled loop: rtt {rtt:.2f} s, {frames} frames in {duration:.1f} s, RSS {min(rss):.1f}..{max(rss):.1f} MB"
    )
    assert rtt >= 0.12, "the throttled round trip was not measured"
    if hears_input_while_a_cell_runs(nb):  # acknowledgements pace it: a window per round trip
        assert frames <= window * (duration / rtt + 1), frames
        assert max(s[1] for s in stats) <= window
    else:  # nothing heard: the pace the kernel measured before the cell
        assert frames <= window + per_rtt * duration / rtt + 2, frames
    assert frames >= 2  # still live during the loop
    assert max(s[1] for s in stats) <= tracked
    assert max(rss) - min(rss) < 20  # nothing piles up in the kernel inside the cell
    assert_canvas_converges_to_kernel(nb)
    assert nb.problems() == []
