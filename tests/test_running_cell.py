"""A figure animated by a loop inside a running cell: frames reach the view while the cell
runs, acknowledgements sent on a subshell are heard, input reaches matplotlib at the
loop's flush_events()/plt.pause(), and where nothing can be heard the kernel paces.

A real kernel through jupyter_client; the view here plays the browser: it decodes and
acknowledges frames, on a subshell (as JupyterLab >= 4.4 does) or on the main shell (as
the classic Notebook does, where acknowledgements wait for the cell to end).
"""

import queue
import time

import pytest
from kernel_harness import figure_ids

from nbagg.view import MAX_IN_FLIGHT, UNHEARD_PER_RTT

STEPS = 40
PAUSE = 0.03  # the loop's own work per step: it could show STEPS / (STEPS * PAUSE) fps

LINE = (
    "import time\nx = np.linspace(0, 6.3, 200)\n"
    "fig, ax = plt.subplots(figsize=(4, 3), dpi=72)\nline, = ax.plot(x, np.sin(x))\n"
)
IDIOMS = {
    "draw": "fig.canvas.draw()",
    "draw_idle+flush_events": "fig.canvas.draw_idle(); fig.canvas.flush_events()",
    "pause": "plt.pause(0.001)",
}


def loop(idiom: str) -> str:
    return (
        f"for k in range({STEPS}):\n"
        "    line.set_ydata(np.sin(x + k / 5))\n"
        f"    {IDIOMS[idiom]}\n"
        f"    time.sleep({PAUSE})\n"
    )


def subshell(kernel) -> str | None:
    if int(kernel.eval("__import__('ipykernel').__version__").split(".")[0]) < 7:
        return None
    kernel.kc.control_channel.send(kernel.kc.session.msg("create_subshell_request", {}))
    return kernel.kc.get_control_msg(timeout=10)["content"]["subshell_id"]


def send(kernel, view, data, subshell_id=None):
    msg = kernel.kc.session.msg("comm_msg", {"comm_id": view.id, "data": data})
    if subshell_id:
        msg["header"]["subshell_id"] = subshell_id
    kernel.kc.shell_channel.send(msg)


def run_while_watching(kernel, view, code, subshell_id, on_frame=None, timeout=60):
    """Run ``code`` without waiting for it; while it runs, take the view's frames, apply
    and acknowledge them (on ``subshell_id``, or the main shell if None). Returns the
    number of frames that arrived before the cell finished and the cell's duration."""
    msg_id = kernel.kc.execute(code)
    started, frames, deadline = None, 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kernel._read_iopub(0.5)
        except queue.Empty:
            continue
        parent = msg["parent_header"].get("msg_id")
        if msg["msg_type"] == "status" and parent == msg_id:
            if msg["content"]["execution_state"] == "busy":
                started = time.monotonic()
            else:
                duration = time.monotonic() - started
                break
        elif view._mine(msg, "frame"):
            kernel._pending.insert(0, msg)
            frame = view.recv_frame(ack=False)
            frames += 1
            if frame["ack"]:
                send(kernel, view, {"type": "ack", "seq": frame["seq"], "n": view.next_n()}, subshell_id)
            if on_frame:
                on_frame(frames)
        elif msg["msg_type"] not in ("status", "execute_input"):
            kernel._pending.append(msg)
    else:
        raise TimeoutError("the cell did not finish")
    reply = kernel.kc.get_shell_msg(timeout=10)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.kc.get_shell_msg(timeout=10)
    assert reply["content"]["status"] == "ok", reply["content"]
    return frames, duration


def numbered_view(kernel, fid):
    """A view that numbers its messages as the browser does (nbagg/order.py)."""
    view = kernel.open_view(fid)
    count = iter(range(1, 10**9))
    view.next_n = lambda: next(count)
    view.recv_frame(ack=False)
    send(kernel, view, {"type": "ack", "seq": view.frames[-1]["seq"], "n": view.next_n()})
    return view


@pytest.fixture
def line_view(kernel):
    fid = figure_ids(kernel.execute(LINE))[0]
    view = numbered_view(kernel, fid)
    yield view
    kernel.execute("plt.close(fig)")


def unheard_intervals(kernel):
    return kernel.eval("[v.unheard_interval() for v in fig.canvas.manager.views.values()]")


@pytest.mark.parametrize("idiom", IDIOMS)
def test_a_loop_in_a_cell_animates_the_view_when_acks_come_on_a_subshell(kernel, line_view, idiom):
    shell = subshell(kernel)
    [interval] = unheard_intervals(kernel)
    frames, duration = run_while_watching(kernel, line_view, loop(idiom), shell)
    # Every step changes the line: the view sees nearly every one of them while the cell
    # runs (never stalled behind the window of MAX_IN_FLIGHT frames). ipykernel 6 (the
    # oldest versions) has no subshells: the kernel paces by the measured round trip.
    least = 0.7 * STEPS if shell else min(0.7 * STEPS, MAX_IN_FLIGHT + 0.3 * duration / interval)
    assert frames >= least, f"{idiom}: {frames} frames in {duration:.2f} s for {STEPS} steps"
    assert line_view.canvas is not None
    # The last step's pixels are what the view shows once the cell has ended.
    kernel.execute("pass")
    assert kernel.eval("int(fig.canvas.figure.stale)") == 0


@pytest.mark.parametrize("idiom", IDIOMS)
def test_where_acks_cannot_be_heard_a_loop_in_a_cell_is_paced_not_stalled(kernel, line_view, idiom):
    [interval] = unheard_intervals(kernel)
    frames, duration = run_while_watching(kernel, line_view, loop(idiom), None)
    paced = duration / interval
    # The window, then one frame per round trip measured before the cell (rounded up to
    # the loop's steps): never the 8-then-nothing stall, never more than the pace allows.
    assert frames >= min(0.7 * STEPS, MAX_IN_FLIGHT + 0.3 * paced), f"{idiom}: {frames} frames in {duration:.2f} s"
    assert frames <= MAX_IN_FLIGHT + paced + 2, f"{idiom}: {frames} frames in {duration:.2f} s"


def test_a_slow_link_that_cannot_be_heard_gets_frames_at_its_own_pace(kernel, line_view):
    """A browser that took 0.3 s to acknowledge each frame before the cell is sent two frames
    per 0.3 s during it (the throttled link of the fault tests, measured by the kernel;
    the moving average gets most of the way there)."""
    for _ in range(6):
        kernel.execute("line.set_ydata(np.random.rand(200)); fig.canvas.draw_idle()")
        frame = line_view.recv_frame(ack=False)
        time.sleep(0.3)
        send(kernel, line_view, {"type": "ack", "seq": frame["seq"], "n": line_view.next_n()})
    kernel.execute("pass")
    [interval] = unheard_intervals(kernel)
    rtt = kernel.eval("[v.rtt for v in fig.canvas.manager.views.values()]")[0]
    assert 0.2 <= rtt < 1.0 and interval == pytest.approx(rtt / UNHEARD_PER_RTT), (rtt, interval)
    frames, duration = run_while_watching(kernel, line_view, loop("draw"), None)
    assert frames <= MAX_IN_FLIGHT + duration / interval + 2, f"{frames} frames in {duration:.2f} s"
    assert frames >= MAX_IN_FLIGHT, f"{frames} frames in {duration:.2f} s"


def test_keys_sent_on_a_subshell_reach_a_plt_pause_loop_that_waits_for_them(kernel, line_view):
    shell = subshell(kernel)
    kernel.execute("stop = []\nfig.canvas.mpl_connect('key_press_event', lambda e: stop.append(e.key))")
    code = (
        "steps = 0\n"
        "while not stop and steps < 500:\n"
        "    line.set_ydata(np.sin(x + steps / 5)); plt.pause(0.01); steps += 1\n"
    )
    sent = []

    def press_q(frames):
        if frames == 5 and not sent:
            sent.append(time.monotonic())
            key = {"type": "key", "kind": "press", "key": "q", "n": line_view.next_n()}
            send(kernel, line_view, key, shell)

    frames, duration = run_while_watching(kernel, line_view, code, shell, on_frame=press_q)
    assert sent, f"only {frames} frames arrived"
    assert kernel.eval("stop") == ["q"]
    if shell:
        assert kernel.eval("steps") < 500, "the key reached matplotlib only after the loop"
        assert duration < 10
    else:  # ipykernel 6: the key waits for the cell to end, and is not lost
        assert kernel.eval("steps") == 500


def test_a_slow_browser_heard_on_a_subshell_is_not_flooded_by_a_loop(kernel, line_view):
    shell = subshell(kernel)
    run_while_watching(kernel, line_view, loop("draw"), shell)  # its acks were heard on the subshell
    kernel.execute("pass")
    [interval] = unheard_intervals(kernel)
    kernel.kc.execute(loop("draw"))  # now the browser stops acknowledging (a stalled tab)
    got = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            got.append(line_view.recv(timeout=deadline - time.monotonic(), type="frame"))
        except TimeoutError:
            break
    if shell:  # the window and no more: it said itself that it has no room
        assert len(got) <= MAX_IN_FLIGHT, f"{len(got)} frames sent to a browser that acknowledged none"
    else:  # ipykernel 6: never heard while busy, so paced by its round trip, and bounded
        assert MAX_IN_FLIGHT <= len(got) <= MAX_IN_FLIGHT + 3 / interval + 2, len(got)
    kernel.execute("pass", timeout=30)


def test_interrupt_stops_a_loop_in_a_cell_and_the_figure_stays_live(kernel, line_view):
    shell = subshell(kernel)
    msg_id = kernel.kc.execute("while True:\n    line.set_ydata(np.random.rand(200)); plt.pause(0.01)")
    time.sleep(1.5)
    kernel.km.interrupt_kernel()
    reply = kernel.kc.get_shell_msg(timeout=20)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.kc.get_shell_msg(timeout=20)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    # The figure still answers its view: a refresh gets a full frame of the current state.
    kernel.execute("line.set_ydata(np.zeros(200)); fig.canvas.draw_idle()")
    send(kernel, line_view, {"type": "refresh", "n": line_view.next_n()}, shell)
    deadline = time.monotonic() + 10
    while True:
        frame = line_view.recv_frame(timeout=max(0.1, deadline - time.monotonic()), ack=False)
        if frame["full"]:
            break
    assert kernel.eval("fig.canvas.manager.closed") is False
