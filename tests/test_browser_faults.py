"""Faults in the browser: a reload in the middle of an animation, a slow browser."""

import hashlib
import time

import numpy as np
import pytest
from test_browser_session import canvas_array, settle

from nbagg.view import MAX_IN_FLIGHT

pytestmark = pytest.mark.browser

ANIMATION = (
    "from matplotlib.animation import FuncAnimation\n"
    "fig, ax = plt.subplots(figsize=(4, 3), dpi=100); x = np.linspace(0, 6, 2048)\n"
    "ln, = ax.plot(x, np.sin(x)); ax.set_ylim(-1.1, 1.1)\n"
    "def step(i):\n    ln.set_ydata(np.sin(x + i / 5))\n    ax.set_title(f'frame {i}')\n"
    "anim = FuncAnimation(fig, step, interval=5, cache_frame_data=False)"
)


def kernel_views(nb):
    return nb.eval("len(fig.canvas.manager.views)")


def test_reload_during_an_animation(open_notebook):
    nb = open_notebook([ANIMATION])
    nb.wait_live(frames=5)
    nb.page.evaluate("() => Jupyter.notebook.save_notebook()")
    nb.page.reload()
    nb.wait_kernel()
    nb.wait_live(frames=5)  # the same animation, live again, no re-run
    # The old page's goodbye (comm close) may not get out during unload; then the kernel
    # drops the silent view after DEAD_VIEW_TIMEOUT (15 s) of frames without acknowledgement.
    deadline = time.monotonic() + 30
    while kernel_views(nb) != 1 and time.monotonic() < deadline:
        nb.page.wait_for_timeout(200)
    assert kernel_views(nb) == 1
    assert nb.page.locator(".nbagg-figure").count() == 1
    # iopub is shared: messages to the old page's comm (its last frames, the ping, the
    # close when it is dropped) reach the new page, and the classic Notebook logs "Comm
    # promise not found" for them. Its own logging, not an nbagg error.
    foreign = "Comm promise not found for comm id"
    assert [e for e in nb.console_errors if not e.startswith(foreign)] == []


def test_slow_browser_gets_the_newest_state_not_a_backlog(open_notebook):
    nb = open_notebook([ANIMATION])
    nb.wait_live(frames=3)
    cdp = nb.page.context.new_cdp_session(nb.page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 20})
    try:
        in_flight, rss = [], []
        for _ in range(6):
            nb.page.wait_for_timeout(500)
            in_flight.append(nb.eval("max(len(v.in_flight) for v in fig.canvas.manager.views.values())"))
            rss.append(nb.eval("int(open('/proc/self/statm').read().split()[1]) * 4096 // 2**20"))
        assert max(in_flight) <= MAX_IN_FLIGHT  # flow control: nothing queued beyond the window
        assert max(rss) - min(rss) < 20, rss  # kernel memory bounded while the browser lags
    finally:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    nb.execute("anim.event_source.stop(); ax.set_title('final state'); fig.canvas.draw_idle()")
    settle(nb)
    want = nb.eval("__import__('hashlib').sha256(np.asarray(fig.canvas.buffer_rgba()).tobytes()).hexdigest()")
    got = hashlib.sha256(canvas_array(nb).astype(np.uint8).tobytes()).hexdigest()
    assert got == want  # the browser caught up with the newest frame
