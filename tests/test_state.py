"""Stored figure state: signed with this user's key, verified before anything is unpickled."""

import base64
import os
import pickle
import stat
import zlib

import matplotlib
import pytest

matplotlib.use("agg")
from matplotlib.figure import Figure  # noqa: E402

from nbagg import state  # noqa: E402


class WritesAFile:
    """Unpickling this writes a file: proof that a payload was (or was not) executed."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (_write_marker, (str(self.path),))


def _write_marker(path):
    with open(path, "w") as f:
        f.write("executed")


@pytest.fixture
def key_file(tmp_path, monkeypatch):
    path = tmp_path / "jupyter" / "nbagg" / "state.key"
    monkeypatch.setenv("NBAGG_STATE_KEY_FILE", str(path))
    return path


def small_figure():
    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [3, 1, 2])
    ax.set_xlim(0.5, 2.5)
    return fig


def sign_with(key: bytes, obj) -> dict:
    payload = zlib.compress(pickle.dumps(obj))
    return {"version": 1, "payload": base64.b64encode(payload).decode(), "hmac": state._mac(key, payload)}


def test_round_trip_keeps_artists_and_limits(key_file):
    stored = state.dump_figure(small_figure())
    assert stored is not None and set(stored) == {"version", "payload", "hmac"}
    fig = state.load_figure(stored)
    ax = fig.axes[0]
    assert list(ax.get_xlim()) == [0.5, 2.5]
    assert list(ax.lines[0].get_ydata()) == [3, 1, 2]


def test_key_is_created_private(key_file):
    state.load_key()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
    assert state.load_key() == key_file.read_bytes()  # stable across calls


def test_tampered_payload_is_refused(key_file):
    stored = state.dump_figure(small_figure())
    raw = bytearray(base64.b64decode(stored["payload"]))
    raw[len(raw) // 2] ^= 0xFF
    tampered = dict(stored, payload=base64.b64encode(bytes(raw)).decode())
    with pytest.raises(state.StateError, match="not signed by this user's key"):
        state.load_figure(tampered)


def test_payload_signed_with_another_key_is_never_unpickled(key_file, tmp_path):
    state.load_key()
    marker = tmp_path / "pwned"
    foreign = sign_with(os.urandom(32), WritesAFile(marker))
    with pytest.raises(state.StateError, match="refused"):
        state.load_figure(foreign)
    assert not marker.exists()
    # The same payload signed with this user's key would run: the check is what stops it.
    own = sign_with(state.load_key(), WritesAFile(marker))
    state.load_figure(own)
    assert marker.read_text() == "executed"


def test_unsigned_or_malformed_states_are_refused(key_file):
    state.load_key()
    good = state.dump_figure(small_figure())
    for bad in [None, "x", {}, dict(good, hmac="0" * 64), dict(good, version=2), dict(good, payload="***")]:
        with pytest.raises(state.StateError):
            state.load_figure(bad)


def test_no_key_means_nothing_is_trusted(key_file):
    stored = sign_with(os.urandom(32), small_figure())
    with pytest.raises(state.StateError, match="no nbagg key"):
        state.load_figure(stored)
    assert not key_file.exists()


def test_size_cap_and_unpicklable_figures_offer_no_state(key_file, monkeypatch):
    assert state.dump_figure(small_figure(), max_bytes=100) is None
    monkeypatch.setenv("NBAGG_MAX_STATE_BYTES", "0")
    assert state.dump_figure(small_figure()) is None
    monkeypatch.delenv("NBAGG_MAX_STATE_BYTES")
    fig = small_figure()
    fig.axes[0].unpicklable = lambda: None  # lambdas cannot be pickled
    assert state.dump_figure(fig) is None
