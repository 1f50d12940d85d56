"""What a figure's restore state costs on the wire and in the notebook, in a real kernel.

Navigation (pan, zoom, home, resize, density) sends a small signed view and never the
pickle; a content change sends one state once changes settle; a figure over the size
limit says why it cannot be restored; a restore brings back the latest view.
"""

from __future__ import annotations

import json
import time

import pytest
from kernel_harness import figure_ids

from nbagg.protocol import MIME_TYPE

STATE_QUIET = 1.0  # nbagg.manager.STATE_QUIET
MOUSE = {"type": "mouse", "button": 0, "modifiers": []}


def listen(view, seconds: float) -> list[dict]:
    """Every message the view gets for `seconds`, frames applied and acknowledged."""
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = view.recv(timeout=left)
        except TimeoutError:
            break
        if msg["type"] == "frame":
            view.kernel._pending.insert(0, _repack(view, msg))
            view.recv_frame()
        got.append(msg)
    return got


def _repack(view, msg: dict) -> dict:
    data = {k: v for k, v in msg.items() if k != "buffers"}
    return {"msg_type": "comm_msg", "content": {"comm_id": view.id, "data": data}, "buffers": msg["buffers"]}


def restore_bytes(messages: list[dict]) -> dict[str, int]:
    """JSON bytes of the state and view messages among `messages`, by type."""
    sizes = {"state": 0, "view": 0}
    for msg in messages:
        if msg["type"] in sizes:
            sizes[msg["type"]] += len(json.dumps({k: v for k, v in msg.items() if k != "buffers"}))
    return sizes


def restore_fields(outputs: list[dict]) -> dict:
    data = next(o for o in outputs if o["msg_type"] == "display_data")["content"]["data"][MIME_TYPE]
    return {k: data[k] for k in ("state", "view", "state_note") if k in data}


def pan(view, dx: float, x: float = 200, y: float = 150) -> None:
    view.send({**MOUSE, "kind": "press", "x": x, "y": y, "buttons": 1})
    for step in range(1, 6):
        view.send({**MOUSE, "kind": "move", "x": x + dx * step / 5, "y": y, "buttons": 1})
    view.send({**MOUSE, "kind": "release", "x": x + dx, "y": y, "buttons": 0})


@pytest.fixture
def line(kernel):
    outputs = kernel.execute("fig, ax = plt.subplots(); line, = ax.plot(range(200), [i % 17 for i in range(200)])")
    fid = figure_ids(outputs)[0]
    view = kernel.open_view(fid)
    view.recv_frame()
    listen(view, STATE_QUIET + 0.5)  # whatever the first draw settles into
    yield fid, view, restore_fields(outputs)
    kernel.execute("plt.close('all')")


def test_a_pan_sends_a_small_view_and_no_pickle(kernel, line):
    fid, view, stored = line
    assert "state" in stored and len(stored["state"]["payload"]) > 1000
    view.send({"type": "toolbar", "action": "pan"})
    sizes = []
    for dx in (-60, 40, -25):
        pan(view, dx)
        sizes.append(restore_bytes(listen(view, STATE_QUIET + 1.0)))
    assert all(s["state"] == 0 for s in sizes), sizes
    assert all(0 < s["view"] <= 1000 for s in sizes), sizes
    # Quiet afterwards: no frames, no state, no view.
    assert listen(view, STATE_QUIET + 0.5) == []


def test_zoom_home_back_resize_and_density_send_no_pickle(kernel, line):
    fid, view, _ = line
    view.send({"type": "toolbar", "action": "zoom"})
    view.send({**MOUSE, "kind": "press", "x": 150, "y": 100, "buttons": 1})
    view.send({**MOUSE, "kind": "move", "x": 300, "y": 250, "buttons": 1})
    view.send({**MOUSE, "kind": "release", "x": 300, "y": 250, "buttons": 0})
    zoomed = restore_bytes(listen(view, STATE_QUIET + 1.0))
    view.send({"type": "toolbar", "action": "home"})
    view.send({"type": "toolbar", "action": "back"})
    view.send({"type": "resize", "width": 500, "height": 400})
    view.send({"type": "dpr", "dpr": 2})
    rest = restore_bytes(listen(view, STATE_QUIET + 1.5))
    assert zoomed["state"] == rest["state"] == 0, (zoomed, rest)
    assert 0 < zoomed["view"] <= 1000 and 0 < rest["view"] <= 1000, (zoomed, rest)


def test_a_content_change_sends_one_state_then_silence(kernel, line):
    fid, view, stored = line
    kernel.execute("line.set_color('red'); fig.canvas.draw_idle()")
    messages = listen(view, STATE_QUIET + 1.0)
    states = [m for m in messages if m["type"] == "state"]
    assert len(states) == 1 and states[0]["state"]["payload"] != stored["state"]["payload"]
    assert listen(view, STATE_QUIET + 0.5) == []


def test_a_stopped_animation_sends_at_most_one_state(kernel):
    outputs = kernel.execute(
        "from matplotlib.animation import FuncAnimation\n"
        "fig, ax = plt.subplots(); ln, = ax.plot([0, 1], [0, 1])\n"
        "anim = FuncAnimation(fig, lambda i: ln.set_ydata([0, i % 5]), interval=30, cache_frame_data=False)"
    )
    view = kernel.open_view(figure_ids(outputs)[0])
    view.recv_frame()
    running = listen(view, 1.5)
    assert sum(m["type"] == "frame" for m in running) >= 5
    kernel.execute("anim.pause()")
    after = listen(view, STATE_QUIET + 1.5)
    assert sum(m["type"] == "state" for m in after) <= 1, [m["type"] for m in after]
    assert listen(view, STATE_QUIET + 0.5) == []
    kernel.execute("plt.close('all')")


def test_a_figure_over_the_limit_says_why_and_the_limit_can_be_raised(kernel):
    code = "import numpy as np; fig, ax = plt.subplots(); ax.scatter(np.random.rand(100_000), np.random.rand(100_000))"
    fields = restore_fields(kernel.execute(code))
    assert "state" not in fields
    assert "larger than the" in fields["state_note"] and "nbagg.configure(max_state_bytes=" in fields["state_note"]
    try:
        kernel.execute("import nbagg; nbagg.configure(max_state_bytes=4_000_000)")
        assert "state" in restore_fields(kernel.execute(code))
        kernel.execute("nbagg.configure(store_state=False)")
        assert "off" in restore_fields(kernel.execute(code))["state_note"]
    finally:
        kernel.execute("nbagg.configure(store_state=True, max_state_bytes='auto'); plt.close('all')")


def test_configure_refuses_bad_settings_with_a_clear_error(kernel):
    for bad, words in [("max_state_bytes=-1", "between 1 and"), ("max_state_bytes='big'", "integer or 'auto'"),
                       ("store_state='yes'", "True or False"), ("max_state_bytes=10**9", "between 1 and")]:  # fmt: skip
        outputs = kernel.execute(f"import nbagg; nbagg.configure({bad})", allow_error=True)
        errors = [o for o in outputs if o["msg_type"] == "error"]
        assert errors and words in errors[0]["content"]["evalue"], (bad, outputs)


def test_restore_after_a_pan_gives_the_panned_limits(kernel, fresh_kernel, line):
    fid, view, stored = line
    view.send({"type": "toolbar", "action": "pan"})
    pan(view, -80)
    views = [m["view"] for m in listen(view, STATE_QUIET + 1.0) if m["type"] == "view"]
    assert views, "no view message after a pan"
    panned = kernel.eval("list(ax.get_xlim())")
    k2 = fresh_kernel
    k2.execute("%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt")
    restored = k2.open_view(fid, state=stored["state"], view=views[-1])
    restored.recv_frame()
    assert k2.eval("list(plt.gcf().axes[0].get_xlim())") == pytest.approx(panned)
    # A view made for another state is ignored: the state's own limits come back.
    k2.execute("plt.close('all')")
    other = dict(views[-1], base="0" * 64)
    k2.open_view(fid, state=stored["state"], view=other).recv_frame()
    assert k2.eval("list(plt.gcf().axes[0].get_xlim())") != pytest.approx(panned)


def test_a_state_replayed_under_another_figure_id_is_refused(kernel, fresh_kernel, line):
    fid, view, stored = line
    k2 = fresh_kernel
    k2.execute("%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt")
    replay = k2.open_view("f" * 32, state=stored["state"])
    error = replay.recv(type="error")
    assert error["code"] == "bad_state" and "for this figure" in error["message"]
    assert k2.eval("plt.get_fignums()") == []
