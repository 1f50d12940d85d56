"""Restore and key presses against hostile or broken input, in a real kernel: every
refusal is an answer (never a hung view or a missing figure), and what a key press
produces goes to the view that pressed it."""

from __future__ import annotations

import json

from kernel_harness import figure_ids
from test_restore_traffic import restore_fields

from nbagg.protocol import MAX_STATE_CHARS

KEY_ENV = "__import__('os').environ"


def test_a_broken_key_folder_still_shows_the_figure_and_says_why(kernel, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the key's folder should be")
    kernel.execute(f"_old_key = {KEY_ENV}.get('NBAGG_STATE_KEY_FILE')")
    kernel.execute(f"{KEY_ENV}['NBAGG_STATE_KEY_FILE'] = {str(blocker / 'nbagg' / 'state.key')!r}")
    try:
        outputs = kernel.execute("fig, ax = plt.subplots(); ax.plot([1, 2, 3])")
        assert figure_ids(outputs), "the figure was not displayed"
        fields = restore_fields(outputs)
        assert "state" not in fields and "cannot sign" in fields["state_note"]
        assert not [o for o in outputs if o["msg_type"] == "error"]
        # A restore asked of this kernel gets an answer, not silence.
        view = kernel.open_view("e" * 32, state={"version": 2, "payload": "AAAA", "hmac": "0" * 64})
        error = view.recv(type="error")
        assert error["code"] == "bad_state" and "refused" in error["message"]
    finally:
        kernel.execute(
            f"if _old_key is None: {KEY_ENV}.pop('NBAGG_STATE_KEY_FILE', None)\n"
            f"else: {KEY_ENV}['NBAGG_STATE_KEY_FILE'] = _old_key\n"
            "plt.close('all')"
        )


def test_a_signed_payload_that_is_not_a_figure_gets_an_error(kernel):
    fid = "d" * 32
    forged = kernel.eval(
        "(lambda lzma, pickle, base64, s, k: (lambda p: {'version': 2, 'payload': base64.b64encode(p).decode(),"
        f" 'hmac': s._mac(k.load_key(), b'state', {fid!r}, p)}})(lzma.compress(pickle.dumps({{'a': 1}}))))"
        "(__import__('lzma'), __import__('pickle'), __import__('base64'), __import__('nbagg.state').state,"
        " __import__('nbagg.key').key)"
    )
    view = kernel.open_view(fid, state=forged)
    error = view.recv(type="error")
    assert error["code"] == "bad_state" and "not a matplotlib Figure" in error["message"]
    assert kernel.eval("len(plt.get_fignums())") == 0


def test_oversized_states_and_huge_versions_are_refused_with_short_messages(kernel):
    fid = "c" * 32
    for state in [
        {"version": 2, "payload": "A" * (MAX_STATE_CHARS + 4), "hmac": "0" * 64},
        {"version": "9" * 5_000_000, "payload": "AAAA", "hmac": "0" * 64},
    ]:
        view = kernel.open_view(fid, state=state)
        error = view.recv(type="error", timeout=30)
        assert error["code"] == "bad_message", error
        assert len(json.dumps(error)) < 400
    assert kernel.eval("len(plt.get_fignums())") == 0


def test_download_and_full_screen_keys_answer_only_the_view_that_pressed_them(kernel):
    fid = figure_ids(kernel.execute("fig, ax = plt.subplots(figsize=(2, 2), dpi=50); ax.plot([0, 1])"))[0]
    pressing, other = kernel.open_view(fid), kernel.open_view(fid)
    pressing.recv_frame()
    other.recv_frame()
    for key, answer in (("f", "fullscreen"), ("s", "download")):
        pressing.send({"type": "key", "kind": "press", "key": key, "modifiers": []})
        pressing.send({"type": "key", "kind": "release", "key": key, "modifiers": []})
        assert pressing.recv(type=answer, timeout=10)["type"] == answer
    kernel.execute("fig.canvas.manager.full_screen_toggle()")  # from code: every view
    assert pressing.recv(type="fullscreen")["type"] == other.recv(type="fullscreen")["type"] == "fullscreen"
    assert [m["type"] for m in other_messages(other)] == []  # no download, no second fullscreen
    kernel.execute("plt.close('all')")


def other_messages(view) -> list[dict]:
    """Downloads and full-screen requests still waiting for this view."""
    found = []
    for kind in ("download", "fullscreen"):
        try:
            found.append(view.recv(type=kind, timeout=1.0))
        except TimeoutError:
            pass
    return found


def test_typical_figures_come_back_in_a_new_kernel_with_their_pixels(kernel, fresh_kernel):
    k2 = fresh_kernel
    k2.execute("%load_ext nbagg\n%matplotlib notebook\nimport matplotlib.pyplot as plt")
    kernel.execute("import numpy as np; rng = np.random.default_rng(0)")
    for code in [
        "fig, ax = plt.subplots(); ax.plot(np.linspace(0, 10, 200), np.sin(np.linspace(0, 10, 200)), label='sin'); ax.legend()",
        "fig, ax = plt.subplots(); ax.bar(['a', 'b', 'c'], [3, 1, 2]); ax.set_title('bars')",
        "fig, ax = plt.subplots(); ax.scatter(rng.random(3000), rng.random(3000), s=4)",
        "fig, ax = plt.subplots(); im = ax.imshow(rng.random((20, 20))); fig.colorbar(im)",
        "fig, axs = plt.subplots(2, 2); [a.plot(np.arange(10) ** i) for i, a in enumerate(axs.flat)]",
    ]:
        outputs = kernel.execute(code)
        fid, fields = figure_ids(outputs)[0], restore_fields(outputs)
        assert "state" in fields, (code, fields.get("state_note"))
        original = kernel.open_view(fid)
        original.recv_frame()
        restored = k2.open_view(fid, state=fields["state"])
        restored.recv_frame()
        assert restored.canvas.shape == original.canvas.shape, code
        assert abs(restored.canvas.astype(int) - original.canvas.astype(int)).mean() < 0.5, code
        kernel.execute("plt.close('all')")
        k2.execute("plt.close('all')")
