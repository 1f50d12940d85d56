"""Validation of messages from the browser, and pure translations to matplotlib's terms.

Every comm message passes through :func:`parse` before anything touches matplotlib.
The schema below is the allow-list: a type not in it is refused, and no handler name is
ever built from a string that came off the wire. See docs/protocol.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# Shared with the browser (js/src/constants.js imports the same file): one source.
_SHARED = json.loads((Path(__file__).with_name("constants.json")).read_text(encoding="utf-8"))

PROTOCOL_VERSION: int = _SHARED["protocolVersion"]
MIME_TYPE: str = _SHARED["mimeType"]
COMM_TARGET: str = _SHARED["commTarget"]
MIN_DPR, MAX_DPR = float(_SHARED["minDpr"]), float(_SHARED["maxDpr"])
MODIFIERS: tuple[str, ...] = tuple(_SHARED["modifiers"])
TOOLBAR_ACTIONS: tuple[str, ...] = tuple(_SHARED["toolbarActions"])
DOWNLOAD_FORMATS: tuple[str, ...] = tuple(_SHARED["downloadFormats"])

# Figure size limits for resize requests, in CSS pixels; larger asks are clamped.
MIN_SIZE, MAX_SIZE = int(_SHARED["minSize"]), int(_SHARED["maxSize"])
MAX_PIXELS: int = _SHARED["maxPixels"]  # physical pixels of one frame (e.g. 4000x4000 at dpr 1)
# The largest stored figure state (base64 characters): a restore sends it in one message.
MAX_STATE_CHARS: int = _SHARED["maxStateChars"]

MAX_MESSAGE_FIELDS = 16
MAX_STRING = 64
MAX_COORD = 100_000.0  # CSS pixels; far outside any figure, still finite
MAX_VIEW_AXES = 256  # Axes in a stored view (see restore.py)


class ProtocolError(ValueError):
    """A message from the browser that the kernel refuses; the text goes back to the view."""


def _show(value: Any) -> str:
    """A bad value as it appears in an error message: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(lo: float, hi: float):
    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(f"{name} must be a number, got {type(value).__name__}")
        # Range first: a 400-digit JSON integer overflows math.isfinite; NaN fails the range.
        if not lo <= value <= hi or not math.isfinite(value):
            raise ProtocolError(f"{name} must be a finite number in [{lo}, {hi}], got {_show(value)}")
        return float(value)

    return check


def _integer(lo: int, hi: int):
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(f"{name} must be an integer, got {type(value).__name__}")
        if not lo <= value <= hi:
            raise ProtocolError(f"{name} must be in [{lo}, {hi}], got {_show(value)}")
        return value

    return check


def _choice(*allowed: str):
    def check(name: str, value: Any) -> str:
        if value not in allowed:
            raise ProtocolError(f"{name} must be one of {', '.join(allowed)}, got {_show(value)}")
        return value

    return check


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_STRING:
        raise ProtocolError(f"{name} must be a string of 1 to {MAX_STRING} characters")
    return value


def _modifiers(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > len(MODIFIERS):
        raise ProtocolError(f"{name} must be a list drawn from {', '.join(MODIFIERS)}")
    for item in value:
        if item not in MODIFIERS:
            raise ProtocolError(f"{name} must be a list drawn from {', '.join(MODIFIERS)}, got {_show(item)}")
    return tuple(m for m in MODIFIERS if m in value)


_coord = _number(-MAX_COORD, MAX_COORD)
_message_number = _integer(1, 2**53)


def _state(name: str, value: Any) -> dict:
    """A stored figure state (see state.py): shape and size only; the signature is checked there."""
    if not isinstance(value, dict) or set(value) != {"version", "payload", "hmac"}:
        raise ProtocolError(f"{name} must be an object with version, payload and hmac")
    if not isinstance(value["version"], int) or isinstance(value["version"], bool):
        raise ProtocolError(f"{name}.version must be an integer")
    if not isinstance(value["payload"], str) or len(value["payload"]) > MAX_STATE_CHARS:
        raise ProtocolError(f"{name}.payload must be a base64 string of at most {MAX_STATE_CHARS:,} characters")
    if not isinstance(value["hmac"], str) or len(value["hmac"]) != 64:
        raise ProtocolError(f"{name}.hmac must be 64 hex characters")
    return value


_view_number = _number(-1e300, 1e300)


def _view(name: str, value: Any) -> dict:
    """A stored view (see restore.figure_view and state.sign_view): plain numbers only."""
    if not isinstance(value, dict) or set(value) != {"base", "axes", "size", "hmac"}:
        raise ProtocolError(f"{name} must be an object with base, axes, size and hmac")
    for field in ("base", "hmac"):
        if not isinstance(value[field], str) or len(value[field]) != 64:
            raise ProtocolError(f"{name}.{field} must be 64 hex characters")
    axes, size = value["axes"], value["size"]
    if not isinstance(axes, list) or len(axes) > MAX_VIEW_AXES:
        raise ProtocolError(f"{name}.axes must be a list of at most {MAX_VIEW_AXES} Axes")
    for limits in axes:
        if not isinstance(limits, list) or len(limits) not in (4, 9):
            raise ProtocolError(f"{name}.axes must hold lists of 4 or 9 numbers")
        for v in limits:
            _view_number(f"{name}.axes[]", v)
    if not isinstance(size, list) or len(size) != 2:
        raise ProtocolError(f"{name}.size must be [width, height] in inches")
    for v in size:
        _number(0.01, 1000)(f"{name}.size[]", v)
    return value


# type -> {field: checker}. Every field is required unless listed in _OPTIONAL.
SCHEMA: dict[str, dict[str, Any]] = {
    "connect": {
        "protocol": _integer(1, 1000),
        "figure_id": _text,
        "dpr": _number(MIN_DPR, 16.0),
        "state": _state,
        "view": _view,
    },
    "ack": {"seq": _integer(0, 2**53)},
    "mouse": {
        "kind": _choice("press", "release", "move", "dblclick", "enter", "leave"),
        "x": _coord,
        "y": _coord,
        "button": _integer(0, 4),
        "buttons": _integer(0, 31),
        "modifiers": _modifiers,
    },
    "scroll": {"x": _coord, "y": _coord, "step": _number(-1000, 1000), "modifiers": _modifiers},
    "key": {"kind": _choice("press", "release"), "key": _text, "modifiers": _modifiers},
    "toolbar": {"action": _choice(*TOOLBAR_ACTIONS)},
    "resize": {"width": _number(0, 1e9), "height": _number(0, 1e9)},
    "dpr": {"dpr": _number(MIN_DPR, 16.0)},
    "download": {"format": _choice(*DOWNLOAD_FORMATS)},
    "refresh": {},
    "close": {},
    "output_removed": {},
    "pong": {},
}
_OPTIONAL = {
    ("connect", "state"),
    ("connect", "view"),
    ("mouse", "button"),
    ("mouse", "buttons"),
    ("mouse", "modifiers"),
    ("scroll", "modifiers"),
    ("key", "modifiers"),
}
_DEFAULTS = {"button": 0, "buttons": 0, "modifiers": ()}


def parse(message: Any, buffers: list | None = None) -> dict[str, Any]:
    """Return a clean copy of a browser message, or raise ProtocolError saying what is wrong."""
    if not isinstance(message, dict):
        raise ProtocolError(f"a message must be a JSON object, got {type(message).__name__}")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in SCHEMA:
        raise ProtocolError(f"unknown message type {_show(kind)}" if isinstance(kind, str) else "message has no type")
    if buffers:
        raise ProtocolError(f"{kind} messages carry no binary buffers")
    if len(message) > MAX_MESSAGE_FIELDS:
        raise ProtocolError(f"{kind} message has too many fields")
    fields = SCHEMA[kind]
    common = {"type"} if kind == "connect" else {"type", "n"}  # n: see order.py
    unknown = set(message) - set(fields) - common
    if unknown:
        raise ProtocolError(f"{kind} message has unknown fields: {', '.join(sorted(map(str, unknown)))[:80]}")
    clean: dict[str, Any] = {"type": kind}
    if "n" in message and kind != "connect":
        clean["n"] = _message_number("n", message["n"])
    for name, check in fields.items():
        if name in message:
            clean[name] = check(name, message[name])
        elif (kind, name) in _OPTIONAL:
            if name in _DEFAULTS:
                clean[name] = _DEFAULTS[name]
        else:
            raise ProtocolError(f"{kind} message is missing {name!r}")
    if kind in ("connect", "dpr"):
        clean["dpr"] = min(max(clean["dpr"], MIN_DPR), MAX_DPR)
    return clean


def clamp_size(width: float, height: float, dpr: float) -> tuple[int, int]:
    """A resize request in CSS pixels, clamped so a frame never exceeds MAX_PIXELS."""
    w = int(min(max(width, MIN_SIZE), MAX_SIZE))
    h = int(min(max(height, MIN_SIZE), MAX_SIZE))
    scale = math.sqrt(MAX_PIXELS / (w * h * dpr * dpr))
    if scale < 1:
        w, h = max(MIN_SIZE, int(w * scale)), max(MIN_SIZE, int(h * scale))
    return w, h


# JavaScript KeyboardEvent.key -> matplotlib key name, for keys whose names differ.
_SPECIAL_KEYS = {
    "Control": "control",
    "Shift": "shift",
    "Alt": "alt",
    "Meta": "super",
    "ArrowLeft": "left",
    "ArrowRight": "right",
    "ArrowUp": "up",
    "ArrowDown": "down",
    "Escape": "escape",
    "Enter": "enter",
    "Backspace": "backspace",
    "Tab": "tab",
    "Delete": "delete",
    "Home": "home",
    "End": "end",
    "PageUp": "pageup",
    "PageDown": "pagedown",
    "Insert": "insert",
    "CapsLock": "caps_lock",
    "Pause": "pause",
    "ScrollLock": "scroll_lock",
    "NumLock": "num_lock",
    **{f"F{i}": f"f{i}" for i in range(1, 13)},
}
_MPL_MODIFIER = {"ctrl": "ctrl", "alt": "alt", "meta": "super", "shift": "shift"}
_MODIFIER_KEY_NAMES = {"ctrl": "control", "alt": "alt", "meta": "super", "shift": "shift"}


def mpl_key(key: str, modifiers: tuple[str, ...]) -> str | None:
    """matplotlib's name for a browser key event, e.g. ('a', ctrl) -> 'ctrl+a'.

    Shift is folded into printable characters ('A', '!'), as desktop backends do.
    Returns None for keys matplotlib has no name for (dead keys, 'Unidentified').
    """
    if key in _SPECIAL_KEYS:
        name = _SPECIAL_KEYS[key]
    elif len(key) == 1:
        name = key
    else:
        return None
    printable = len(name) == 1
    prefix = [
        _MPL_MODIFIER[m]
        for m in ("ctrl", "alt", "meta", "shift")
        if m in modifiers and _MODIFIER_KEY_NAMES[m] != name and not (m == "shift" and printable)
    ]
    return "+".join([*prefix, name])
