"""Stored figure state: signed for one figure with this user's key, verified before anything
is unpickled, small, and bounded while it is made."""

import base64
import lzma
import pickle

import matplotlib
import numpy as np
import pytest

matplotlib.use("agg")
from matplotlib.figure import Figure  # noqa: E402

from nbagg import settings, state  # noqa: E402
from nbagg.key import load_key  # noqa: E402
from nbagg.restore import apply_view, figure_view  # noqa: E402

FID = "a" * 32
LIMIT = 200_000


class WritesAFile:
    """Unpickling this writes a file: proof that a payload was (or was not) executed."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (_write_marker, (str(self.path),))


def _write_marker(path):
    with open(path, "w") as f:
        f.write("executed")


@pytest.fixture(autouse=True)
def key_file(tmp_path, monkeypatch):
    path = tmp_path / "jupyter" / "nbagg" / "state.key"
    monkeypatch.setenv("NBAGG_STATE_KEY_FILE", str(path))
    return path


@pytest.fixture(autouse=True)
def default_settings():
    yield
    settings.configure(store_state=True, max_state_bytes="auto")


def small_figure():
    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [3, 1, 2])
    ax.set_xlim(0.5, 2.5)
    return fig


def sign_with(key: bytes, obj, figure_id: str = FID) -> dict:
    payload = lzma.compress(pickle.dumps(obj))
    return {
        "version": state.STATE_VERSION,
        "payload": base64.b64encode(payload).decode(),
        "hmac": state._mac(key, b"state", figure_id, payload),
    }


def test_round_trip_keeps_artists_and_limits():
    stored = state.dump_figure(small_figure(), FID, LIMIT)
    assert set(stored) == {"version", "payload", "hmac"}
    fig = state.load_figure(stored, FID, LIMIT)
    ax = fig.axes[0]
    assert list(ax.get_xlim()) == [0.5, 2.5]
    assert list(ax.lines[0].get_ydata()) == [3, 1, 2]


def test_ticks_are_left_out_and_come_back_on_the_first_draw():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = small_figure()
    FigureCanvasAgg(fig).draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert b"XTick" in pickle.dumps(fig)
    stored = state.dump_figure(fig, FID, LIMIT)
    assert b"XTick" not in lzma.decompress(base64.b64decode(stored["payload"]))
    back = state.load_figure(stored, FID, LIMIT)
    FigureCanvasAgg(back).draw()
    assert [t.get_text() for t in back.axes[0].get_xticklabels()] == labels


def test_a_state_is_bound_to_its_figure_id():
    stored = state.dump_figure(small_figure(), FID, LIMIT)
    with pytest.raises(state.StateError, match="for this figure"):
        state.load_figure(stored, "b" * 32, LIMIT)


def test_tampered_payload_is_refused():
    stored = state.dump_figure(small_figure(), FID, LIMIT)
    raw = bytearray(base64.b64decode(stored["payload"]))
    raw[len(raw) // 2] ^= 0xFF
    tampered = dict(stored, payload=base64.b64encode(bytes(raw)).decode())
    with pytest.raises(state.StateError, match="not signed by this user's key"):
        state.load_figure(tampered, FID, LIMIT)


def test_foreign_and_own_key_payloads_that_run_code_are_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(state.StateError, match="refused"):
        state.load_figure(sign_with(b"k" * 32, WritesAFile(marker)), FID, LIMIT)
    # Signed with this user's own key (a replay, a key that leaked): the allow-list stops it.
    with pytest.raises(state.StateError, match="could not be restored"):
        state.load_figure(sign_with(load_key(), WritesAFile(marker)), FID, LIMIT)
    assert not marker.exists()


def test_a_signed_payload_that_is_not_a_figure_is_refused():
    with pytest.raises(state.StateError, match="holds a dict, not a matplotlib Figure"):
        state.load_figure(sign_with(load_key(), {"a": 1}), FID, LIMIT)


def test_unsigned_or_malformed_states_are_refused():
    good = state.dump_figure(small_figure(), FID, LIMIT)
    for bad in [None, "x", {}, dict(good, hmac="0" * 64), dict(good, version=1), dict(good, payload="***")]:
        with pytest.raises(state.StateError):
            state.load_figure(bad, FID, LIMIT)
    with pytest.raises(state.StateError, match="larger than the configured limit"):
        state.load_figure(good, FID, 10)


def test_a_huge_version_is_not_echoed_back_whole():
    good = state.dump_figure(small_figure(), FID, LIMIT)
    with pytest.raises(state.StateError) as err:
        state.load_figure(dict(good, version="9" * 5_000_000), FID, LIMIT)
    assert len(str(err.value)) < 200


def test_no_key_means_nothing_is_trusted(key_file):
    stored = sign_with(b"k" * 32, small_figure())
    with pytest.raises(state.StateError, match="refused"):
        state.load_figure(stored, FID, LIMIT)
    assert not key_file.exists()


def test_over_the_limit_the_reason_says_how_to_raise_it():
    fig = Figure()
    fig.add_subplot().scatter(np.random.rand(200_000), np.random.rand(200_000))
    with pytest.raises(state.StateOmitted, match=r"larger than the 32 KB limit.*nbagg.configure\(max_state_bytes="):
        state.dump_figure(fig, FID, 32_000)
    with pytest.raises(state.StateOmitted, match="off"):
        state.dump_figure(small_figure(), FID, 0)
    unpicklable = small_figure()
    unpicklable.axes[0].unpicklable = lambda: None  # lambdas cannot be pickled
    with pytest.raises(state.StateOmitted, match="cannot be saved"):
        state.dump_figure(unpicklable, FID, LIMIT)


def test_the_writer_stops_long_before_a_huge_pickle_is_done():
    writer = state._BoundedLzmaWriter(1000)
    chunk = np.random.bytes(64 * 1024)
    written = 0
    with pytest.raises(state._TooLarge):
        for _ in range(1000):  # 64 MB if nothing stopped it
            writer.write(chunk)
            written += len(chunk)
    assert written <= 1000 * state._MAX_COMPRESSION_RATIO


def test_views_are_signed_for_their_figure_and_state():
    fig = small_figure()
    stored = state.dump_figure(fig, FID, LIMIT)
    fig.axes[0].set_xlim(1, 2)
    signed = state.sign_view(figure_view(fig), FID, stored)
    assert len(str(signed)) < 1000
    assert state.verify_view(signed, FID, stored) == figure_view(fig)
    newer = state.dump_figure(fig, FID, LIMIT)
    assert state.verify_view(signed, FID, newer) is None  # made for an older state
    assert state.verify_view(signed, "b" * 32, stored) is None
    assert state.verify_view(dict(signed, axes=[[0, 9, 0, 9]]), FID, stored) is None
    for junk in [None, "x", {}, {"hmac": 3}]:
        assert state.verify_view(junk, FID, stored) is None


def test_apply_view_brings_back_limits_size_and_a_3d_camera():
    fig = Figure(figsize=(4, 3))
    flat, deep = fig.add_subplot(121), fig.add_subplot(122, projection="3d")
    flat.plot([0, 10], [0, 10])
    view = figure_view(fig)
    flat.set_xlim(2, 3)
    deep.view_init(elev=10, azim=20)
    fig.set_size_inches(5, 5)
    moved = figure_view(fig)
    apply_view(fig, view)
    assert figure_view(fig) == view
    apply_view(fig, moved)
    assert figure_view(fig) == moved
    apply_view(fig, {"axes": [[0, 1, 0, 1]], "size": [1, 1]})  # another layout: ignored
    assert figure_view(fig) == moved


def test_configure_validates_and_the_automatic_limit_follows_the_image():
    assert settings.state_limit(10) == settings.AUTO_MIN_STATE_BYTES
    assert settings.state_limit(500_000) == 500_000
    settings.configure(max_state_bytes=1234)
    assert settings.state_limit(500_000) == 1234
    settings.configure(store_state=False)
    assert settings.state_limit(500_000) == 0
    for bad, error in [(0, ValueError), (10**9, ValueError), ("x", TypeError), (True, TypeError), (1.5, TypeError)]:
        with pytest.raises(error):
            settings.configure(max_state_bytes=bad)
    with pytest.raises(TypeError):
        settings.configure(store_state="yes")
