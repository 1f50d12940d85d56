"""Authenticated figure state, stored in the notebook so a new kernel can restore a figure.

The state is a compressed pickle of the Figure, signed with HMAC-SHA256 under a secret
that only this user's kernels read (``<jupyter data dir>/nbagg/state.key``, mode 0600).
Restoring verifies the signature *before* unpickling: a payload that is unsigned, signed
with another key or altered is refused and never unpickled, so a notebook from someone
else cannot make this kernel run code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import pickle
import secrets
import zlib
from pathlib import Path

STATE_VERSION = 1
DEFAULT_MAX_BYTES = 2_000_000  # compressed pickle; override with NBAGG_MAX_STATE_BYTES
KEY_FILE = "state.key"


class StateError(ValueError):
    """A stored state that is refused (bad signature, wrong version, too large, broken)."""


def max_state_bytes() -> int:
    """The size cap for one figure's stored state (env NBAGG_MAX_STATE_BYTES; 0 disables)."""
    try:
        return int(os.environ.get("NBAGG_MAX_STATE_BYTES", DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


def key_path() -> Path:
    override = os.environ.get("NBAGG_STATE_KEY_FILE")
    if override:
        return Path(override)
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "nbagg" / KEY_FILE


def load_key(create: bool = True) -> bytes:
    """This user's secret, created (0600, in a 0700 folder) on first use."""
    path = key_path()
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        if not create:
            raise
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    # O_EXCL: two kernels starting at once never both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def _mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, b"nbagg-state-v1\0" + payload, hashlib.sha256).hexdigest()


def dump_figure(figure, max_bytes: int | None = None) -> dict | None:
    """The signed state of a figure, or None if it cannot be stored (unpicklable, too big)."""
    limit = max_state_bytes() if max_bytes is None else max_bytes
    if limit <= 0:
        return None
    try:
        payload = zlib.compress(pickle.dumps(figure, protocol=pickle.HIGHEST_PROTOCOL), 6)
    except Exception:
        return None  # an artist that cannot be pickled: the figure just offers no restore
    if len(payload) > limit:
        return None
    return {
        "version": STATE_VERSION,
        "payload": base64.b64encode(payload).decode("ascii"),
        "hmac": _mac(load_key(), payload),
    }


def verify(state: object, max_bytes: int | None = None) -> bytes:
    """The payload of a stored state if its signature is this user's, else StateError."""
    if not isinstance(state, dict) or set(state) != {"version", "payload", "hmac"}:
        raise StateError("the stored figure state is malformed")
    if state["version"] != STATE_VERSION:
        raise StateError(f"the stored figure state has version {state['version']!r}, expected {STATE_VERSION}")
    if not isinstance(state["payload"], str) or not isinstance(state["hmac"], str):
        raise StateError("the stored figure state is malformed")
    limit = max_state_bytes() if max_bytes is None else max_bytes
    if len(state["payload"]) > 4 * (limit // 3 + 1):
        raise StateError("the stored figure state is larger than the configured limit")
    try:
        payload = base64.b64decode(state["payload"], validate=True)
    except ValueError as err:
        raise StateError("the stored figure state is not valid base64") from err
    try:
        key = load_key(create=False)
    except FileNotFoundError as err:
        raise StateError("refused: this user has no nbagg key, so the state was not made here") from err
    if not hmac.compare_digest(_mac(key, payload), state["hmac"]):
        raise StateError(
            "refused: the stored figure state is not signed by this user's key (made elsewhere or altered); "
            "nothing was loaded. Re-run the cell that made the figure."
        )
    return payload


def load_figure(state: object):
    """Verify, then unpickle, a stored figure. Nothing is unpickled unless verified."""
    payload = verify(state)
    try:
        return pickle.load(io.BytesIO(zlib.decompress(payload)))
    except Exception as err:
        raise StateError(f"the stored figure could not be restored: {type(err).__name__}: {err}") from err
