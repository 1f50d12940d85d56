"""Authenticated figure state, stored in the notebook so a new kernel can restore a figure.

A state is an LZMA-compressed pickle of the Figure, signed with HMAC-SHA256 under a
secret that only this user's kernels read (see key.py). The signature covers the figure
id too, so a state only restores the output it was made for. Restoring verifies the
signature *before* unpickling, and unpickles only matplotlib and numpy objects (see
unpickle.py): a notebook from someone else cannot make this kernel run code.

Navigation (pan, zoom, resize) does not change the pickle: what a restore needs from it
travels as a small signed *view* (view limits and size) bound to the state it amends.
docs/security.md has the threat model; docs/protocol.md the fields.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import lzma
import pickle
from typing import Any

from . import unpickle
from .key import KeyUnavailable, load_key

STATE_VERSION = 2
# A pickle compresses at most about this well; pickling stops once the raw bytes could
# no longer fit the limit, so a huge figure costs little before it is refused.
_MAX_COMPRESSION_RATIO = 40


class StateError(ValueError):
    """A stored state that is refused (bad signature, wrong version, too large, broken)."""


class StateOmitted(Exception):
    """This figure stores no state; the message says why (shown instead of Restore)."""


class _TooLarge(Exception):
    pass


class _BoundedLzmaWriter:
    """A file for the pickler: compresses as it goes, and stops past ``limit`` bytes."""

    def __init__(self, limit: int):
        self.limit = limit
        self.raw = 0
        self.out = bytearray()
        self._lzma = lzma.LZMACompressor(preset=6)

    def write(self, data) -> int:
        self.raw += len(data)
        if self.raw > self.limit * _MAX_COMPRESSION_RATIO:
            raise _TooLarge
        self.out += self._lzma.compress(data)
        if len(self.out) > self.limit:
            raise _TooLarge
        return len(data)

    def finish(self) -> bytes:
        self.out += self._lzma.flush()
        if len(self.out) > self.limit:
            raise _TooLarge
        return bytes(self.out)


class _FigurePickler(pickle.Pickler):
    """Pickles a figure without its tick artists: matplotlib makes them again from the
    axis' locators and tick parameters on the first draw, and they are most of a small
    plot's pickle (and would change with every pan)."""

    def reducer_override(self, obj):
        from matplotlib.axis import Axis

        if not isinstance(obj, Axis):
            return NotImplemented
        reduced = obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
        if len(reduced) < 3 or not isinstance(reduced[2], dict):
            return NotImplemented
        state = {k: v for k, v in reduced[2].items() if k not in ("majorTicks", "minorTicks")}
        return (reduced[0], reduced[1], state, *reduced[3:])


def _mac(key: bytes, kind: bytes, figure_id: str, payload: bytes) -> str:
    message = b"nbagg-" + kind + b"-v2\0" + figure_id.encode("utf-8") + b"\0" + payload
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _key() -> bytes:
    try:
        return load_key()
    except KeyUnavailable as err:
        raise StateOmitted(f"this kernel cannot sign it: {err}") from err


def dump_figure(figure, figure_id: str, limit: int) -> dict:
    """The signed state of a figure, at most ``limit`` characters of base64.

    Raises StateOmitted (with the reason a user reads) when it cannot be stored.
    """
    from .settings import how_to_raise

    if limit <= 0:
        raise StateOmitted("storing figure states is off (nbagg.configure(store_state=True) turns it on).")
    writer = _BoundedLzmaWriter(limit * 3 // 4)
    try:
        _FigurePickler(writer, protocol=pickle.HIGHEST_PROTOCOL).dump(figure)
        payload = writer.finish()
    except _TooLarge:
        raise StateOmitted(how_to_raise(limit)) from None
    except Exception as err:  # an artist that cannot be pickled (a lambda, an open file)
        raise StateOmitted(f"part of it cannot be saved ({type(err).__name__}: {str(err)[:200]}).") from err
    return {
        "version": STATE_VERSION,
        "payload": base64.b64encode(payload).decode("ascii"),
        "hmac": _mac(_key(), b"state", figure_id, payload),
    }


def _verify_mac(kind: bytes, figure_id: str, payload: bytes, signature: str) -> None:
    try:
        key = load_key(create=False)
    except KeyUnavailable as err:
        raise StateError(f"refused: {err}") from err
    if not hmac.compare_digest(_mac(key, kind, figure_id, payload), signature):
        raise StateError(
            "refused: the stored figure state is not signed by this user's key for this figure "
            "(made elsewhere, copied from another output, or altered); nothing was loaded. "
            "Re-run the cell that made the figure."
        )


def verify(state: object, figure_id: str, max_chars: int) -> bytes:
    """The payload of a stored state if it was signed by this user for this figure."""
    if not isinstance(state, dict) or set(state) != {"version", "payload", "hmac"}:
        raise StateError("the stored figure state is malformed")
    if state["version"] != STATE_VERSION:
        shown = str(state["version"])[:20]
        raise StateError(f"the stored figure state has version {shown}, this nbagg reads {STATE_VERSION}")
    if not isinstance(state["payload"], str) or not isinstance(state["hmac"], str):
        raise StateError("the stored figure state is malformed")
    if len(state["payload"]) > max_chars:
        raise StateError("the stored figure state is larger than the configured limit")
    try:
        payload = base64.b64decode(state["payload"], validate=True)
    except ValueError as err:
        raise StateError("the stored figure state is not valid base64") from err
    _verify_mac(b"state", figure_id, payload, state["hmac"])
    return payload


def load_figure(state: object, figure_id: str, max_chars: int):
    """Verify, then unpickle, a stored figure. Nothing is unpickled unless verified."""
    from matplotlib.figure import Figure

    payload = verify(state, figure_id, max_chars)
    try:
        raw = lzma.LZMADecompressor().decompress(payload, max_length=max_chars * _MAX_COMPRESSION_RATIO)
        figure = unpickle.loads(raw)
    except Exception as err:
        raise StateError(f"the stored figure could not be restored: {type(err).__name__}: {str(err)[:200]}") from err
    if not isinstance(figure, Figure):
        raise StateError(f"the stored state holds a {type(figure).__name__}, not a matplotlib Figure")
    return figure


# -- the view: navigation since the state was made ------------------------------------


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def sign_view(view: dict, figure_id: str, state: dict) -> dict:
    """The view (see restore.figure_view) signed for this figure and its stored state."""
    signed = {"base": state["hmac"], **view}
    signed["hmac"] = _mac(_key(), b"view", figure_id, _canonical(signed))
    return signed


def verify_view(signed: object, figure_id: str, state: dict) -> dict | None:
    """The view to apply over a restored state, or None if it belongs to another state
    (an older one) or is not this user's. A bad view never blocks the restore itself."""
    if not isinstance(signed, dict) or not isinstance(signed.get("hmac"), str):
        return None
    body = {k: v for k, v in signed.items() if k != "hmac"}
    if body.get("base") != state.get("hmac"):
        return None
    try:
        _verify_mac(b"view", figure_id, _canonical(body), signed["hmac"])
    except (StateError, ValueError):
        return None
    return {k: v for k, v in body.items() if k != "base"}
