"""Kernel-level tests: a real ipykernel, real comms, frames decoded and checked pixel by pixel."""

import hashlib
import queue
import time

import pytest
from kernel_harness import figure_ids

from nbagg.order import GAP_TIMEOUT
from nbagg.protocol import MAX_SIZE, MIME_TYPE
from nbagg.view import ACK_EVERY, LAG_TIMEOUT, MAX_IN_FLIGHT

RED, BLUE = (255, 0, 0, 255), (0, 0, 255, 255)


def kernel_pixels_sha(kernel, fig="fig"):
    return kernel.eval(f"__import__('hashlib').sha256(np.asarray({fig}.canvas.buffer_rgba()).tobytes()).hexdigest()")


def sha(canvas):
    return hashlib.sha256(canvas.tobytes()).hexdigest()


def show_figure(kernel, code="fig, ax = plt.subplots(); ax.plot([0, 1], [0, 1]);"):
    outputs = kernel.execute(code)
    ids = figure_ids(outputs)
    assert len(ids) == 1, outputs
    return ids[0], outputs


def test_magic_routes_notebook_and_inline_switches_back(fresh_kernel):
    k = fresh_kernel
    k.execute("%load_ext nbagg\n%matplotlib notebook")
    assert k.eval("__import__('matplotlib').get_backend()") == "module://nbagg"
    k.execute("%matplotlib inline")
    assert "inline" in k.eval("__import__('matplotlib').get_backend()")
    k.execute("%matplotlib nbagg")
    assert k.eval("__import__('matplotlib').get_backend()") == "module://nbagg"


def test_module_backend_works_without_extension(fresh_kernel):
    k = fresh_kernel
    k.execute("import matplotlib; matplotlib.use('module://nbagg'); import matplotlib.pyplot as plt")
    outputs = k.execute("fig = plt.figure(); plt.plot([1, 2]); plt.show()")
    assert len(figure_ids(outputs)) == 1


def test_figure_appears_once_at_end_of_cell_with_static_fallback(kernel):
    outputs = kernel.execute("fig, ax = plt.subplots(figsize=(4, 3), dpi=100)\nprint('after')")
    kinds = [o["msg_type"] for o in outputs]
    assert kinds == ["stream", "display_data"], kinds  # the figure comes after the cell's own output
    data = outputs[1]["content"]["data"]
    assert set(data) == {MIME_TYPE, "image/png", "text/plain"}
    assert data[MIME_TYPE]["width"] == 400 and data[MIME_TYPE]["height"] == 300
    assert outputs[1]["content"]["metadata"]["image/png"] == {"width": 400, "height": 300}
    assert outputs[1]["content"]["transient"]["display_id"].startswith("nbagg-")
    # A later cell that does not create a figure shows nothing new.
    assert figure_ids(kernel.execute("ax.set_title('later')")) == []


def test_several_figures_in_one_cell_all_appear(kernel):
    outputs = kernel.execute("f1 = plt.figure(); f2 = plt.figure(); f3, _ = plt.subplots()")
    assert len(set(figure_ids(outputs))) == 3


def test_non_interactive_mode_shows_on_plt_show(kernel):
    try:
        assert figure_ids(kernel.execute("plt.ioff(); g = plt.figure(); plt.plot([3, 1])")) == []
        assert len(figure_ids(kernel.execute("plt.show()"))) == 1
        assert figure_ids(kernel.execute("plt.show()")) == []  # already shown
    finally:
        kernel.execute("plt.ion()")


def test_display_fig_adds_a_view_and_fig_show_shows_once(kernel):
    fid, _ = show_figure(kernel)
    assert figure_ids(kernel.execute("display(fig)")) == [fid]
    assert figure_ids(kernel.execute("fig.show()")) == []  # already shown: fig.show() only redraws
    assert figure_ids(kernel.execute("h = plt.figure(); h.show()")) != []


def test_first_frame_is_full_and_pixels_match_the_kernel(kernel):
    fid, _ = show_figure(kernel, "fig = plt.figure(figsize=(2, 1), dpi=100, facecolor='red')")
    view = kernel.open_view(fid)
    frame = view.recv_frame()
    assert frame["full"] and (frame["width"], frame["height"]) == (200, 100)
    assert (view.canvas == RED).all()
    assert sha(view.canvas) == kernel_pixels_sha(kernel)


def test_later_cell_sends_only_the_changed_region(kernel):
    fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100); ax.plot([0, 1], [0, 1]);")
    view = kernel.open_view(fid)
    view.recv_frame()
    kernel.execute("ax.set_title('hello title')")
    frame = view.recv_frame()
    assert not frame["full"]
    area = sum(w * h for _, _, w, h in frame["rects"])
    assert 0 < area < 0.1 * 640 * 480
    assert all(y < 60 for _, y, _, _ in frame["rects"]), frame["rects"]  # the title is at the top
    assert sha(view.canvas) == kernel_pixels_sha(kernel)


def test_nothing_changing_sends_nothing(kernel):
    fid, _ = show_figure(kernel)
    view = kernel.open_view(fid)
    view.recv_frame()
    kernel.execute("fig.canvas.draw_idle(); x = 1")  # a redraw with identical pixels
    with pytest.raises(TimeoutError):
        view.recv(timeout=1.5, type="frame")


def test_flow_control_coalesces_to_the_newest_state(kernel):
    fid, _ = show_figure(kernel, "fig = plt.figure(figsize=(2, 2), dpi=50); ax = fig.add_axes([0, 0, 1, 1])")
    view = kernel.open_view(fid)
    view.recv_frame(ack=False)  # seq 1 in flight
    colors = [f"C{i}" for i in range(MAX_IN_FLIGHT + 2)] + ["cyan"]
    for color in colors:
        # Drawn on the event loop after each cell, where acknowledgements can be heard
        # (a draw inside a running cell is paced instead: test_running_cell.py).
        kernel.execute(f"ax.set_facecolor('{color}'); fig.canvas.draw_idle()")
    for _ in range(MAX_IN_FLIGHT - 1):
        view.recv_frame(ack=False)  # until the view is full; after that the kernel must hold back
    with pytest.raises(TimeoutError):
        view.recv(timeout=1.0, type="frame")
    view.send({"type": "ack", "seq": MAX_IN_FLIGHT})  # acknowledges all of them
    frame = view.recv_frame()
    assert frame["seq"] == MAX_IN_FLIGHT + 1
    assert tuple(view.canvas[50, 50]) == (0, 255, 255, 255)  # cyan: the newest state, no backlog
    with pytest.raises(TimeoutError):
        view.recv(timeout=1.0, type="frame")


def test_bad_messages_get_errors_and_change_nothing(kernel):
    fid, _ = show_figure(kernel, "fig = plt.figure(figsize=(2, 1), dpi=100, facecolor='red')")
    view = kernel.open_view(fid)
    other = kernel.open_view(fid)
    view.recv_frame()
    other.recv_frame()
    bad = [
        {"type": "nope"},
        {"no": "type"},
        {"type": "mouse", "kind": "press", "x": float("nan"), "y": 1},
        {"type": "mouse", "kind": "press", "x": 1e300, "y": 1},
        {"type": "toolbar", "action": "__init__"},
        {"type": "resize", "width": "big", "height": 1},
        {"type": "key", "kind": "press", "key": "a" * 1000},
        {"type": "ack"},
    ]
    for msg in bad:
        view.send(msg)
        error = view.recv(type="error")
        assert error["code"] == "bad_message" and error["message"]
    view.send({"type": "refresh"}, buffers=[b"unexpected"])
    assert view.recv(type="error")["code"] == "bad_message"
    kernel.execute("fig.patch.set_facecolor('blue')")
    view.recv_frame()
    other.recv_frame()
    assert (view.canvas == BLUE).all() and (other.canvas == BLUE).all()
    assert kernel.eval("1 + 1") == 2


def test_resize_to_absurd_size_is_clamped(kernel):
    fid, _ = show_figure(kernel)
    view = kernel.open_view(fid)
    view.recv_frame()
    view.send({"type": "resize", "width": 1e9, "height": 1e9})
    frame = view.recv_frame()
    assert frame["full"]
    assert frame["width"] <= MAX_SIZE and frame["height"] <= MAX_SIZE
    assert frame["width"] * frame["height"] <= 16_000_000
    view.send({"type": "resize", "width": 300, "height": 200})
    frame = view.recv_frame()
    assert (frame["width"], frame["height"]) == (300, 200)
    assert kernel.eval("list(fig.get_size_inches() * fig.dpi)") == [300, 200]


def test_hidpi_view_gets_device_resolution(kernel):
    fid, _ = show_figure(kernel, "fig = plt.figure(figsize=(3, 2), dpi=100, facecolor='red')")
    view = kernel.open_view(fid, dpr=2)
    frame = view.recv_frame()
    assert (frame["width"], frame["height"], frame["dpr"]) == (600, 400, 2.0)
    assert (view.canvas == RED).all()


def test_mouse_events_reach_callbacks_with_data_coordinates(kernel):
    fid, _ = show_figure(
        kernel,
        "fig, ax = plt.subplots(figsize=(4, 4), dpi=100); ax.set_xlim(0, 10); ax.set_ylim(0, 10)\n"
        "events = []\n"
        "fig.canvas.mpl_connect('button_press_event', lambda e: events.append((e.button.value, e.xdata, e.ydata)))",
    )
    for dpr in (1, 2):
        view = kernel.open_view(fid, dpr=dpr)
        view.recv_frame()
        # The axes centre in CSS pixels from the top-left.
        cx, cy = kernel.eval("[float(v) for v in ax.transAxes.transform((0.5, 0.5)) / fig.canvas.device_pixel_ratio]")
        css_y = 400 - cy
        view.send({"type": "mouse", "kind": "press", "x": cx, "y": css_y, "button": 2, "buttons": 2, "modifiers": []})
        view.send({"type": "mouse", "kind": "release", "x": cx, "y": css_y, "button": 2, "buttons": 0, "modifiers": []})
        kernel.execute("x = 1")  # the comm messages were handled before this cell
        button, x, y = kernel.eval("events[-1]")
        assert button == 3 and x == pytest.approx(5, abs=0.05) and y == pytest.approx(5, abs=0.05)
        view.close()


def test_two_views_converge(kernel):
    fid, _ = show_figure(kernel)
    a, b = kernel.open_view(fid), kernel.open_view(fid)
    a.recv_frame()
    b.recv_frame()
    a.send({"type": "toolbar", "action": "zoom"})
    kernel.execute("ax.plot([0, 1], [1, 0])")
    a.recv_frame()
    b.recv_frame()
    assert sha(a.canvas) == sha(b.canvas) == kernel_pixels_sha(kernel)


def test_download_formats_are_valid_files(kernel):
    fid, _ = show_figure(kernel)
    view = kernel.open_view(fid)
    view.recv_frame()
    for fmt, magic in [("png", b"\x89PNG\r\n\x1a\n"), ("svg", b"<?xml"), ("pdf", b"%PDF-")]:
        view.send({"type": "download", "format": fmt})
        msg = view.recv(type="download")
        assert msg["buffers"][0].startswith(magic) and msg["filename"].endswith("." + fmt)


def test_close_from_the_view_leaves_a_static_image(kernel):
    fid, _ = show_figure(kernel)
    view = kernel.open_view(fid)
    view.recv_frame()
    view.send({"type": "close"})
    assert view.recv(type="closed")
    assert view.recv(type="comm_close")
    update = None
    while update is None:
        msg = kernel._next_iopub(timeout=10)
        if msg["msg_type"] == "update_display_data":
            update = msg
    assert set(update["content"]["data"]) == {"image/png", "text/plain"}
    assert update["content"]["transient"]["display_id"] == f"nbagg-{fid}"
    assert kernel.eval("plt.fignum_exists(fig.number)") is False
    late = kernel.open_view(fid)
    assert late.recv(type="error")["code"] == "unknown_figure"
    assert late.recv(type="comm_close")


def test_comm_messages_from_a_subshell_thread_run_on_the_main_thread(kernel):
    """ipykernel 7 runs a comm message on the thread of the subshell named in its header."""
    fid, _ = show_figure(
        kernel,
        "import threading\nthreads = []\nfig, ax = plt.subplots()\n"
        "fig.canvas.mpl_connect('key_press_event', "
        "lambda e: threads.append((threading.current_thread() is threading.main_thread(), e.key)))",
    )
    view = kernel.open_view(fid)
    view.recv_frame()
    major = int(kernel.eval("__import__('ipykernel').__version__").split(".")[0])
    msg = kernel.kc.session.msg("comm_msg", {"comm_id": view.id, "data": {"type": "key", "kind": "press", "key": "q"}})
    if major >= 7:
        kernel.kc.control_channel.send(kernel.kc.session.msg("create_subshell_request", {}))
        reply = kernel.kc.get_control_msg(timeout=10)
        msg["header"]["subshell_id"] = reply["content"]["subshell_id"]
    kernel.kc.shell_channel.send(msg)
    for _ in range(50):
        got = kernel.eval("threads")
        if got:
            break
        try:
            kernel.kc.get_iopub_msg(timeout=0.1)
        except queue.Empty:
            pass
    assert got == [[True, "q"]]


def test_a_goodbye_on_a_subshell_deleted_with_its_comm_still_closes_the_figure(kernel):
    """JupyterLab sends a comm's messages on a subshell it deletes as soon as the comm
    closes: output_removed, then comm_close, then delete_subshell_request. A message still
    queued on that subshell dies with it, so the goodbyes must take the main shell.
    (ipykernel 6 has no subshells: there the same goodbyes come on the main shell.)"""
    subshells = int(kernel.eval("__import__('ipykernel').__version__").split(".")[0]) >= 7
    fids = []
    for _ in range(5):
        fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)\nax.plot([1, 3, 2])")
        view = kernel.open_view(fid)
        view.recv_frame()
        if subshells:
            kernel.kc.control_channel.send(kernel.kc.session.msg("create_subshell_request", {}))
            subshell = kernel.kc.get_control_msg(timeout=10)["content"]["subshell_id"]
        for msg_type, data in (("comm_msg", {"type": "output_removed", "n": 2}), ("comm_close", {})):
            msg = kernel.kc.session.msg(msg_type, {"comm_id": view.id, "data": data})
            if subshells:
                msg["header"]["subshell_id"] = subshell
            kernel.kc.shell_channel.send(msg)
        if subshells:
            delete = kernel.kc.session.msg("delete_subshell_request", {"subshell_id": subshell})
            kernel.kc.control_channel.send(delete)
            assert kernel.kc.get_control_msg(timeout=10)["content"]["status"] == "ok"
        fids.append(fid)
    open_ids = "[m.figure_id for m in __import__('nbagg.manager').manager.managers.values()]"
    assert not set(fids) & set(_wait_for(kernel, open_ids, lambda ids: not set(fids) & set(ids)))


def _wait_for(kernel, expr, ready, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = kernel.eval(expr)
        if ready(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_messages_come_out_in_the_order_the_view_numbered_them(kernel):
    """ipykernel 7 may hand a comm's messages to the main shell and to a subshell: one can
    overtake the other. The browser's numbers put them back in order."""
    fid, _ = show_figure(
        kernel,
        "keys = []\nfig, ax = plt.subplots()\nfig.canvas.mpl_connect('key_press_event', lambda e: keys.append(e.key))",
    )
    view = kernel.open_view(fid)
    view.recv_frame()
    subshell = None
    if int(kernel.eval("__import__('ipykernel').__version__").split(".")[0]) >= 7:
        kernel.kc.control_channel.send(kernel.kc.session.msg("create_subshell_request", {}))
        subshell = kernel.kc.get_control_msg(timeout=10)["content"]["subshell_id"]

    def key(letter, n, on_subshell=False):
        data = {"type": "key", "kind": "press", "key": letter, "n": n}
        msg = kernel.kc.session.msg("comm_msg", {"comm_id": view.id, "data": data})
        if on_subshell and subshell:
            msg["header"]["subshell_id"] = subshell
        kernel.kc.shell_channel.send(msg)

    key("b", 2)
    key("c", 3, on_subshell=True)
    assert _wait_for(kernel, "keys", lambda v: False, timeout=0.3) == []  # waiting for 1
    key("a", 1, on_subshell=True)
    assert _wait_for(kernel, "keys", lambda v: len(v) >= 3) == ["a", "b", "c"]

    # A message that never comes holds the ones after it for GAP_TIMEOUT only.
    started = time.monotonic()
    key("e", 5)
    assert _wait_for(kernel, "keys", lambda v: len(v) >= 4) == ["a", "b", "c", "e"]
    assert time.monotonic() - started >= GAP_TIMEOUT
    key("d", 4)  # late beats lost
    key("f", 6)
    assert _wait_for(kernel, "keys", lambda v: len(v) >= 6) == ["a", "b", "c", "e", "d", "f"]


def test_pan_drag_and_motion_events(kernel):
    fid, _ = show_figure(
        kernel,
        "fig, ax = plt.subplots(figsize=(4, 4), dpi=100); ax.set_xlim(0, 10); ax.set_ylim(0, 10)\n"
        "moves = []\nfig.canvas.mpl_connect('motion_notify_event', lambda e: moves.append(e.xdata))",
    )
    view = kernel.open_view(fid)
    view.recv_frame()
    view.send({"type": "toolbar", "action": "pan"})
    cx, cy = kernel.eval("[float(v) for v in ax.transAxes.transform((0.5, 0.5))]")
    y = 400 - cy
    mouse = {"type": "mouse", "button": 0, "modifiers": []}
    view.send({**mouse, "kind": "press", "x": cx, "y": y, "buttons": 1})
    view.send({**mouse, "kind": "move", "x": cx - 50, "y": y, "buttons": 1})
    view.send({**mouse, "kind": "release", "x": cx - 50, "y": y, "buttons": 0})
    frame = view.recv_frame()
    assert not frame["full"]
    assert len(kernel.eval("moves")) == 1
    x0, x1 = kernel.eval("list(ax.get_xlim())")
    width_px = kernel.eval("float(ax.bbox.width)")
    shift = 50 / width_px * 10
    assert x0 == pytest.approx(shift, abs=0.01) and x1 == pytest.approx(10 + shift, abs=0.01)


def test_close_event_fires_and_stops_animation(kernel):
    fid, _ = show_figure(
        kernel,
        "from matplotlib.animation import FuncAnimation\n"
        "fig, ax = plt.subplots(figsize=(2, 2), dpi=50); ln, = ax.plot([0, 1], [0, 0])\n"
        "closed = []; fig.canvas.mpl_connect('close_event', lambda e: closed.append(True))\n"
        "anim = FuncAnimation(fig, lambda i: ln.set_ydata([0, i % 5]), interval=20, cache_frame_data=False)",
    )
    view = kernel.open_view(fid)
    for _ in range(5):  # the animation runs on the kernel's loop while no cell executes
        view.recv_frame()
    kernel.execute("plt.close(fig)")
    assert kernel.eval("closed") == [True]
    assert kernel.eval("anim.event_source is None")  # matplotlib stopped it on close_event


def test_deleting_an_animation_stops_its_timer(kernel):
    fid, _ = show_figure(
        kernel,
        "from matplotlib.animation import FuncAnimation\nimport gc, weakref\n"
        "fig, ax = plt.subplots(figsize=(2, 2), dpi=50); ln, = ax.plot([0, 1], [0, 0])\n"
        "anim = FuncAnimation(fig, lambda i: ln.set_ydata([0, i % 5]), interval=20, cache_frame_data=False)",
    )
    view = kernel.open_view(fid)
    view.recv_frame()
    view.recv_frame()
    kernel.execute("timer_ref = weakref.ref(anim.event_source); del anim; gc.collect()")
    assert kernel.eval("timer_ref() is None")
    while True:  # drain frames already sent, then expect silence
        try:
            view.recv_frame(timeout=0.5)
        except TimeoutError:
            break
    with pytest.raises(TimeoutError):
        view.recv(timeout=1.0, type="frame")


def test_callback_exception_is_shown_in_the_figure_cell_and_figure_keeps_working(kernel):
    outputs = kernel.execute(
        "fig, ax = plt.subplots(figsize=(4, 4), dpi=100)\n"
        "def bad(event):\n    raise ValueError('boom in callback')\n"
        "fig.canvas.mpl_connect('button_press_event', bad)"
    )
    fid = figure_ids(outputs)[0]
    display_parent = outputs[-1]["parent_header"]["msg_id"]
    view = kernel.open_view(fid)
    view.recv_frame()
    view.send({"type": "mouse", "kind": "press", "x": 200, "y": 200, "button": 0, "buttons": 1, "modifiers": []})
    error = view.recv(type="error")
    assert error["code"] == "callback_error" and "boom in callback" in error["message"]
    stream = None
    while stream is None:
        msg = kernel._next_iopub(timeout=10)
        if msg["msg_type"] == "stream" and "boom in callback" in msg["content"]["text"]:
            stream = msg
    assert stream["content"]["name"] == "stderr" and "ValueError" in stream["content"]["text"]
    assert stream["parent_header"]["msg_id"] == display_parent  # shown under the figure's cell
    kernel.execute("ax.set_title('still alive')")
    assert not view.recv_frame()["full"]


def test_blit_sends_only_the_blitted_region(kernel):
    fid, _ = show_figure(
        kernel,
        "fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100); ax.set_xlim(0, 10); ax.set_ylim(0, 10)\n"
        "pt, = ax.plot([5], [5], 'o', animated=True)",
    )
    view = kernel.open_view(fid)
    view.recv_frame()
    kernel.execute(
        "bg = fig.canvas.copy_from_bbox(ax.bbox)\n"
        "fig.canvas.restore_region(bg); pt.set_data([2], [2]); ax.draw_artist(pt); fig.canvas.blit(ax.bbox)"
    )
    frame = view.recv_frame()
    assert not frame["full"]
    area = sum(w * h for _, _, w, h in frame["rects"])
    assert 0 < area < 400, frame["rects"]  # one marker, not the axes
    assert kernel.eval("fig.canvas.supports_blit") is True


def test_plt_pause_loop_updates_the_view_while_the_cell_runs(kernel):
    fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)")
    view = kernel.open_view(fid)
    view.recv_frame()
    kernel.execute("for i in range(8):\n    ax.set_title(str(i))\n    plt.pause(0.15)")
    seen = 0
    try:
        while True:
            view.recv_frame(timeout=0.5, ack=False)
            seen += 1
    except TimeoutError:
        pass
    assert seen >= 5, f"only {seen} frames reached the view during the pause loop"


def stored_state(outputs):
    return next(o for o in outputs if o["msg_type"] == "display_data")["content"]["data"][MIME_TYPE]["state"]


def test_figure_is_restored_in_a_new_kernel_from_its_stored_state(kernel, fresh_kernel):
    outputs = kernel.execute(
        "fig, ax = plt.subplots(figsize=(3, 2), dpi=100); ax.plot([0, 1, 2], [2, 0, 1]); ax.set_xlim(0.5, 1.5)"
    )
    fid, state = figure_ids(outputs)[0], stored_state(outputs)
    original = kernel.open_view(fid)
    original.recv_frame()
    k2 = fresh_kernel
    k2.execute("%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt")
    view = k2.open_view(fid, state=state)
    frame = view.recv_frame()
    assert frame["full"] and sha(view.canvas) == sha(original.canvas)
    assert k2.eval("[list(f.axes[0].get_xlim()) for f in map(plt.figure, plt.get_fignums())]") == [[0.5, 1.5]]
    # Interactive: a pan in the restored figure moves its limits.
    view.send({"type": "toolbar", "action": "pan"})
    mouse = {"type": "mouse", "button": 0, "modifiers": []}
    view.send({**mouse, "kind": "press", "x": 150, "y": 100, "buttons": 1})
    view.send({**mouse, "kind": "move", "x": 100, "y": 100, "buttons": 1})
    view.send({**mouse, "kind": "release", "x": 100, "y": 100, "buttons": 0})
    view.recv_frame()
    assert k2.eval("plt.gcf().axes[0].get_xlim()[0]") > 0.5
    # A second view of the restored figure connects without the state: same id.
    assert k2.open_view(fid).recv_frame()["full"]


def test_tampered_or_foreign_state_is_refused_and_nothing_runs(kernel, fresh_kernel, tmp_path):
    outputs = kernel.execute("fig, ax = plt.subplots(figsize=(2, 2), dpi=50)")
    fid, state = figure_ids(outputs)[0], stored_state(outputs)
    k2 = fresh_kernel
    k2.execute("%load_ext nbagg\n%matplotlib notebook")
    tampered = dict(state, payload=state["payload"][:-8] + "AAAAAAA=")
    view = k2.open_view(fid, state=tampered)
    error = view.recv(type="error")
    assert error["code"] == "bad_state" and "not signed by this user's key" in error["message"]
    assert view.recv(type="comm_close")
    # A payload that writes a file when unpickled, signed with someone else's key.
    import base64
    import hashlib
    import hmac
    import os
    import pickle
    import zlib

    marker = tmp_path / "executed"
    payload = zlib.compress(pickle.dumps(_FileWriter(str(marker))))
    foreign = {
        "version": 1,
        "payload": base64.b64encode(payload).decode(),
        "hmac": hmac.new(os.urandom(32), b"nbagg-state-v1\0" + payload, hashlib.sha256).hexdigest(),
    }
    view = k2.open_view(fid, state=foreign)
    assert view.recv(type="error")["code"] == "bad_state"
    assert not marker.exists()
    assert k2.eval("1 + 1") == 2


class _FileWriter:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('x')",))


def test_plt_pause_loop_in_the_cell_that_makes_the_figure_refreshes_its_output(kernel):
    """No view can connect while the cell runs, so the output's own image is refreshed."""
    outputs = kernel.execute(
        "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)\nfor i in range(6):\n    ax.set_title(str(i))\n    plt.pause(0.25)"
    )
    shown = [o for o in outputs if o["msg_type"] == "display_data"]
    updates = [o for o in outputs if o["msg_type"] == "update_display_data"]
    assert len(shown) == 1 and len(updates) >= 3
    assert len({u["content"]["data"]["image/png"] for u in updates}) == len(updates)  # each a new frame
    assert all(MIME_TYPE in u["content"]["data"] for u in updates)


def test_an_artist_that_raises_in_draw_is_reported_and_the_view_recovers(kernel):
    fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(2, 2), dpi=50); ax.plot([0, 1])")
    view = kernel.open_view(fid)
    view.recv_frame()
    good = view.canvas.copy()
    kernel.execute(
        "from matplotlib.artist import Artist\n"
        "class Broken(Artist):\n    def draw(self, renderer):\n        raise RuntimeError('cannot draw me')\n"
        "broken = fig.add_artist(Broken()); fig.canvas.draw_idle()"
    )
    error = view.recv(type="error")
    assert error["code"] == "callback_error" and "cannot draw me" in error["message"]
    assert (view.canvas == good).all()  # the last good frame stays
    assert kernel.eval("1 + 1") == 2
    kernel.execute("broken.remove(); ax.set_title('fixed'); fig.canvas.draw_idle()")
    view.recv_frame()
    assert not (view.canvas == good).all()


def fill_up(kernel, silent, *others, change="ax.set_title('{i}')"):
    """Draw until ``silent`` (which has its first frame and acknowledges nothing) is full;
    ``others`` receive and acknowledge every frame."""
    for i in range(MAX_IN_FLIGHT - 1):
        kernel.execute(change.format(i=i) + "; fig.canvas.draw()")
        for view in others:
            view.recv_frame()
        silent.recv_frame(ack=False)


def test_a_view_that_never_acknowledges_is_dropped(kernel):
    import time

    fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)")
    silent, healthy = kernel.open_view(fid), kernel.open_view(fid)
    silent.recv_frame(ack=False)
    healthy.recv_frame()
    kernel.execute("import nbagg.view; nbagg.view.DEAD_VIEW_TIMEOUT = 1.0")
    try:
        fill_up(kernel, silent, healthy)
        # While it is only lagging it does not hold the healthy view back...
        time.sleep(LAG_TIMEOUT + 0.2)
        kernel.execute("ax.set_title('lagging'); fig.canvas.draw()")
        healthy.recv_frame()
        assert kernel.eval("len(fig.canvas.manager.views)") == 2
        # ...and once it has been full for DEAD_VIEW_TIMEOUT, the next frame drops it.
        time.sleep(1.0)
        kernel.execute("ax.set_title('dropped'); fig.canvas.draw()")
        healthy.recv_frame()
        assert silent.recv(type="comm_close")
        assert kernel.eval("len(fig.canvas.manager.views)") == 1
    finally:
        kernel.execute("nbagg.view.DEAD_VIEW_TIMEOUT = 15.0")


def test_interrupting_a_plt_pause_loop_leaves_the_figure_usable(kernel):
    fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)")
    view = kernel.open_view(fid)
    view.recv_frame()
    msg_id = kernel.kc.execute("for i in range(1000):\n    ax.set_title(str(i))\n    plt.pause(0.05)")
    import time

    time.sleep(1.0)
    kernel.km.interrupt_kernel()
    reply = kernel.kc.get_shell_msg(timeout=20)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.kc.get_shell_msg(timeout=20)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert kernel.eval("fig.canvas.in_event_loop") is False
    while True:  # frames of the loop, then the figure answers normally again
        try:
            view.recv_frame(timeout=1)
        except TimeoutError:
            break
    kernel.execute("ax.set_title('after the interrupt')")
    frame = view.recv_frame()
    assert not frame["full"]


def test_view_title_is_the_figure_label(kernel):
    fid, _ = show_figure(kernel, "fig = plt.figure('my label')")
    view = kernel.open_view(fid)
    assert view.recv(type="title")["text"] == "my label"
    kernel.execute("fig.canvas.manager.set_window_title('renamed')")
    assert view.recv(type="title")["text"] == "renamed"
    fid, _ = show_figure(kernel, "fig = plt.figure(num=42)")
    assert kernel.open_view(fid).recv(type="title")["text"] == "Figure 42"


def test_views_that_do_not_answer_a_ping_are_dropped(kernel):
    """A reloaded page's old views often cannot say goodbye: a new view pings the others."""
    fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)")
    old = kernel.open_view(fid)
    old.recv_frame()
    kernel.execute("import nbagg.manager; nbagg.manager.PING_TIMEOUT = 0.5")
    try:
        # The old page is gone: nothing answers its pings (bypass the harness's auto-pong).
        kernel.kc.get_iopub_msg = _without_pings(kernel.kc.get_iopub_msg, old.id)
        new = kernel.open_view(fid)
        new.recv_frame()
        import time

        time.sleep(1.0)
        assert old.recv(type="comm_close", timeout=5)
        assert kernel.eval("len(fig.canvas.manager.views)") == 1
    finally:
        del kernel.kc.get_iopub_msg
        kernel.execute("nbagg.manager.PING_TIMEOUT = 10.0")


def _without_pings(get, comm_id):
    def get_msg(timeout=None):
        while True:
            msg = get(timeout=timeout)
            data = msg["content"].get("data") or {}
            if not (msg["content"].get("comm_id") == comm_id and data.get("type") == "ping"):
                return msg

    return get_msg


def test_frames_are_drawn_on_demand_while_every_view_is_full(kernel):
    fid, _ = show_figure(
        kernel,
        "fig, ax = plt.subplots(figsize=(2, 2), dpi=50); _draws = []\n"
        "_ = fig.canvas.mpl_connect('draw_event', lambda e: _draws.append(1))",
    )
    view = kernel.open_view(fid)
    view.recv_frame(ack=False)
    for i in range(MAX_IN_FLIGHT - 1):
        kernel.execute(f"ax.set_title('fill {i}'); fig.canvas.draw_idle()")
        view.recv_frame(ack=False)
    draws = kernel.eval("len(_draws)")
    for i in range(10):  # the view is full: these only mark the figure dirty
        kernel.execute(f"ax.set_title('waiting {i}'); fig.canvas.draw_idle()")
    with pytest.raises(TimeoutError):
        view.recv(timeout=0.5, type="frame")
    assert kernel.eval("len(_draws)") == draws  # nothing rendered only to be thrown away
    view.send({"type": "ack", "seq": MAX_IN_FLIGHT})
    frame = view.recv_frame()
    assert frame["seq"] == MAX_IN_FLIGHT + 1
    assert kernel.eval("len(_draws)") == draws + 1  # one draw, of the newest state
    want = kernel.eval("__import__('hashlib').sha256(np.asarray(fig.canvas.buffer_rgba()).tobytes()).hexdigest()")
    assert hashlib.sha256(view.canvas.tobytes()).hexdigest() == want


def test_views_that_keep_up_share_every_frame_and_its_encoding(kernel):
    fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)")
    a, b = kernel.open_view(fid), kernel.open_view(fid)
    a.recv_frame()
    b.recv_frame()
    kernel.execute(
        "import nbagg.frames as _f; _encodes = []; _encode_update = _f.encode_update\n"
        "_f.encode_update = lambda *args: (_encodes.append(1), _encode_update(*args))[1]"
    )
    try:
        for i in range(6):
            kernel.execute(f"ax.set_title('{i}'); fig.canvas.draw_idle()")
            fa, fb = a.recv_frame(), b.recv_frame()
            assert fa["rects"] == fb["rects"] and fa["buffers"] == fb["buffers"]
        assert kernel.eval("len(_encodes)") == 6  # once per frame, not once per view
    finally:
        kernel.execute("_f.encode_update = _encode_update")


def test_an_animation_flows_when_the_browser_acknowledges_only_when_asked(kernel):
    fid, _ = show_figure(
        kernel,
        "from matplotlib.animation import FuncAnimation\n"
        "fig, ax = plt.subplots(figsize=(2, 2), dpi=50); ln, = ax.plot([0, 1], [0, 1]); ax.set_ylim(0, 8)\n"
        "anim = FuncAnimation(fig, lambda i: ln.set_ydata([0, i % 8]), interval=5, cache_frame_data=False)",
    )
    view = kernel.open_view(fid)
    try:
        frames = []
        for _ in range(5 * MAX_IN_FLIGHT):
            frame = view.recv_frame(ack=False)
            frames.append(frame)
            if frame["ack"]:
                view.send({"type": "ack", "seq": frame["seq"]})
        assert [f["seq"] for f in frames] == list(range(1, 5 * MAX_IN_FLIGHT + 1))
        assert sum(f["ack"] for f in frames) == 5 * MAX_IN_FLIGHT // ACK_EVERY + 1  # and the first
    finally:
        kernel.execute("anim.event_source.stop()")


def test_a_lagging_view_does_not_stall_a_deferred_draw(kernel):
    fid, _ = show_figure(kernel, "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)")
    silent, healthy = kernel.open_view(fid), kernel.open_view(fid)
    silent.recv_frame(ack=False)
    healthy.recv_frame()
    fill_up(kernel, silent, healthy)
    # One change, through draw_idle only: deferred while the silent view is full and not
    # yet lagging; no ack will ever come, so the kernel must look again by itself.
    kernel.execute("ax.set_title('deferred'); fig.canvas.draw_idle()")
    healthy.recv_frame(timeout=2 + LAG_TIMEOUT)
    want = kernel.eval("__import__('hashlib').sha256(np.asarray(fig.canvas.buffer_rgba()).tobytes()).hexdigest()")
    assert hashlib.sha256(healthy.canvas.tobytes()).hexdigest() == want
    assert kernel.eval("fig.canvas._draw_scheduled") is False


def test_closing_while_the_views_are_full_keeps_the_newest_state_as_the_image(kernel):
    import base64
    import io

    from PIL import Image

    fid, _ = show_figure(kernel, "fig = plt.figure(figsize=(2, 2), dpi=50); ax = fig.add_axes([0, 0, 1, 1])")
    view = kernel.open_view(fid)
    view.recv_frame(ack=False)
    fill_up(kernel, view, change="ax.set_facecolor('C{i}')")
    # The view is full: this render is not captured as a frame, but the output must show it.
    outputs = kernel.execute("ax.set_facecolor('cyan'); fig.canvas.draw(); plt.close(fig)")
    updates = [o for o in outputs if o["msg_type"] == "update_display_data"]
    assert updates and MIME_TYPE not in updates[-1]["content"]["data"]  # static now
    png = base64.b64decode(updates[-1]["content"]["data"]["image/png"])
    assert Image.open(io.BytesIO(png)).convert("RGBA").getpixel((50, 50)) == (0, 255, 255, 255)


def test_kernel_exit_tells_the_views_nothing(fresh_kernel):
    """pyplot destroys every figure at interpreter exit (a shutdown or restart): the views
    hear nothing then (no 'closed', no static update), so a front end that has let them go
    sees no close crossing its own, and outputs stay restorable."""
    k = fresh_kernel
    k.execute("%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt")
    outputs = k.execute("fig, ax = plt.subplots(); ax.plot([1, 2]);")
    view = k.open_view(figure_ids(outputs)[0])
    view.recv_frame()
    k.kc.shutdown()  # a shutdown request: the kernel process exits and runs atexit
    seen = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            msg = k.kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            if not k.km.is_alive():
                break
            continue
        data = (msg["content"].get("data") or {}) if msg["msg_type"] == "comm_msg" else {}
        if data.get("type") == "closed" or msg["msg_type"] in ("update_display_data", "comm_close"):
            seen.append(msg["msg_type"] + ":" + str(data.get("type", "")))
    assert not k.km.is_alive(), "the kernel did not exit"
    assert seen == [], seen
