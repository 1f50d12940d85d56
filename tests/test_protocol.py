"""Unit tests for nbagg.protocol: message validation, size clamping, key names."""

from __future__ import annotations

import json
import math

import pytest

from nbagg import protocol
from nbagg.protocol import (
    MAX_DPR,
    MAX_MESSAGE_FIELDS,
    MAX_PIXELS,
    MAX_SIZE,
    MAX_STRING,
    MIN_DPR,
    MIN_SIZE,
    SCHEMA,
    ProtocolError,
    clamp_size,
    mpl_key,
    parse,
)

# One valid message of each type, and the clean value parse must return for it.
VALID = [
    (
        {"type": "connect", "protocol": 1, "figure_id": "abc-123", "dpr": 2},
        {"type": "connect", "protocol": 1, "figure_id": "abc-123", "dpr": 2.0},
    ),
    ({"type": "ack", "seq": 7}, {"type": "ack", "seq": 7}),
    (
        {"type": "mouse", "kind": "press", "x": 10, "y": 20.5, "button": 2, "buttons": 4, "modifiers": ["shift"]},
        {"type": "mouse", "kind": "press", "x": 10.0, "y": 20.5, "button": 2, "buttons": 4, "modifiers": ("shift",)},
    ),
    (
        {"type": "mouse", "kind": "move", "x": -3.25, "y": 0},
        {"type": "mouse", "kind": "move", "x": -3.25, "y": 0.0, "button": 0, "buttons": 0, "modifiers": ()},
    ),
    (
        {"type": "scroll", "x": 1, "y": 2, "step": -1.5, "modifiers": ["meta", "ctrl"]},
        {"type": "scroll", "x": 1.0, "y": 2.0, "step": -1.5, "modifiers": ("ctrl", "meta")},
    ),
    (
        {"type": "scroll", "x": 1, "y": 2, "step": 3},
        {"type": "scroll", "x": 1.0, "y": 2.0, "step": 3.0, "modifiers": ()},
    ),
    (
        {"type": "key", "kind": "press", "key": "a", "modifiers": ["ctrl"]},
        {"type": "key", "kind": "press", "key": "a", "modifiers": ("ctrl",)},
    ),
    (
        {"type": "key", "kind": "release", "key": "ArrowLeft"},
        {"type": "key", "kind": "release", "key": "ArrowLeft", "modifiers": ()},
    ),
    ({"type": "toolbar", "action": "zoom"}, {"type": "toolbar", "action": "zoom"}),
    ({"type": "resize", "width": 640, "height": 480.5}, {"type": "resize", "width": 640.0, "height": 480.5}),
    ({"type": "dpr", "dpr": 1.5}, {"type": "dpr", "dpr": 1.5}),
    ({"type": "download", "format": "svg"}, {"type": "download", "format": "svg"}),
    ({"type": "refresh"}, {"type": "refresh"}),
    ({"type": "close"}, {"type": "close"}),
    ({"type": "output_removed"}, {"type": "output_removed"}),
    ({"type": "pong"}, {"type": "pong"}),
]


@pytest.mark.parametrize("message, expected", VALID, ids=[f"{m['type']}-{i}" for i, (m, _) in enumerate(VALID)])
def test_parse_accepts_valid_messages_and_returns_clean_values(message, expected):
    original = json.loads(json.dumps(message))
    clean = parse(message)
    assert clean == expected
    for name, value in clean.items():
        assert type(value) is type(expected[name]), name  # e.g. ints become floats for coordinates
    assert message == original  # the input is not modified
    assert clean is not message


def test_every_schema_type_has_a_valid_example():
    assert {m["type"] for m, _ in VALID} == set(SCHEMA)


@pytest.mark.parametrize("buffers", [None, []])
def test_parse_accepts_no_buffers(buffers):
    assert parse({"type": "refresh"}, buffers) == {"type": "refresh"}


@pytest.mark.parametrize(
    "message, match",
    [
        (None, "must be a JSON object, got NoneType"),
        ([{"type": "ack", "seq": 1}], "must be a JSON object, got list"),
        ("refresh", "must be a JSON object, got str"),
        (3, "must be a JSON object, got int"),
        ({}, "no type"),
        ({"seq": 1}, "no type"),
        ({"type": None}, "no type"),
        ({"type": 3}, "no type"),
        ({"type": ["ack"]}, "no type"),
        ({"type": "frame", "seq": 1}, "unknown message type 'frame'"),  # kernel -> browser only
        ({"type": "Refresh"}, "unknown message type 'Refresh'"),
        ({"type": "__init__"}, "unknown message type"),
        ({"type": "_on_close"}, "unknown message type"),
        ({"type": ""}, "unknown message type"),
    ],
)
def test_parse_refuses_non_messages_and_unknown_types(message, match):
    with pytest.raises(ProtocolError, match=match):
        parse(message)


@pytest.mark.parametrize(
    "message, match",
    [
        # unknown fields
        ({"type": "refresh", "full": True}, r"refresh message has unknown fields: full"),
        ({"type": "ack", "seq": 1, "z": 0, "a": 0}, r"unknown fields: a, z"),
        ({"type": "toolbar", "action": "home", "__class__": "x"}, "unknown fields: __class__"),
        # missing fields
        ({"type": "ack"}, "ack message is missing 'seq'"),
        ({"type": "mouse", "kind": "move", "x": 1}, "mouse message is missing 'y'"),
        ({"type": "key", "kind": "press"}, "key message is missing 'key'"),
        ({"type": "connect", "protocol": 1, "figure_id": "f"}, "connect message is missing 'dpr'"),
        ({"type": "resize", "width": 100}, "resize message is missing 'height'"),
        ({"type": "download"}, "download message is missing 'format'"),
        # wrong types
        ({"type": "mouse", "kind": "move", "x": "10", "y": 0}, "x must be a number, got str"),
        ({"type": "mouse", "kind": "move", "x": True, "y": 0}, "x must be a number, got bool"),
        ({"type": "mouse", "kind": "move", "x": None, "y": 0}, "x must be a number, got NoneType"),
        ({"type": "mouse", "kind": "move", "x": [1], "y": 0}, "x must be a number, got list"),
        ({"type": "mouse", "kind": "move", "x": 1, "y": 0, "button": True}, "button must be an integer, got bool"),
        ({"type": "mouse", "kind": "move", "x": 1, "y": 0, "button": 1.0}, "button must be an integer, got float"),
        ({"type": "ack", "seq": "1"}, "seq must be an integer, got str"),
        ({"type": "ack", "seq": False}, "seq must be an integer, got bool"),
        ({"type": "ack", "seq": 1.5}, "seq must be an integer, got float"),
        ({"type": "key", "kind": "press", "key": ["a"]}, "key must be a string"),
        ({"type": "key", "kind": "press", "key": 65}, "key must be a string"),
        ({"type": "connect", "protocol": 1, "figure_id": ["f"], "dpr": 1}, "figure_id must be a string"),
        ({"type": "connect", "protocol": "1", "figure_id": "f", "dpr": 1}, "protocol must be an integer"),
        ({"type": "resize", "width": "100px", "height": 100}, "width must be a number, got str"),
        ({"type": "toolbar", "action": ["home"]}, "action must be one of home, back, forward, pan, zoom"),
        ({"type": "toolbar", "action": "save"}, "action must be one of home, back, forward, pan, zoom, got 'save'"),
        ({"type": "download", "format": "jpg"}, "format must be one of png, svg, pdf, got 'jpg'"),
        ({"type": "download", "format": "PNG"}, "format must be one of png, svg, pdf"),
        ({"type": "mouse", "kind": "wheel", "x": 1, "y": 1}, "kind must be one of press, release, move"),
        ({"type": "key", "kind": "down", "key": "a"}, "kind must be one of press, release"),
        # non-finite numbers (Python's json module parses NaN, Infinity, -Infinity)
        ({"type": "mouse", "kind": "move", "x": math.nan, "y": 0}, "x must be a finite number"),
        ({"type": "mouse", "kind": "move", "x": 0, "y": math.inf}, "y must be a finite number"),
        ({"type": "scroll", "x": 0, "y": 0, "step": -math.inf}, "step must be a finite number"),
        ({"type": "resize", "width": math.inf, "height": 100}, "width must be a finite number"),
        ({"type": "dpr", "dpr": math.nan}, "dpr must be a finite number"),
        ({"type": "connect", "protocol": 1, "figure_id": "f", "dpr": math.inf}, "dpr must be a finite number"),
        # out of range
        ({"type": "mouse", "kind": "press", "x": 1, "y": 1, "button": 7}, r"button must be in \[0, 4\], got 7"),
        ({"type": "mouse", "kind": "press", "x": 1, "y": 1, "button": -1}, r"button must be in \[0, 4\]"),
        ({"type": "mouse", "kind": "press", "x": 1, "y": 1, "buttons": 32}, r"buttons must be in \[0, 31\]"),
        ({"type": "ack", "seq": -1}, r"seq must be in \[0, 9007199254740992\]"),
        ({"type": "ack", "seq": 2**53 + 1}, r"seq must be in \[0, "),
        ({"type": "dpr", "dpr": 100}, r"dpr must be a finite number in \[0.5, 16.0\], got 100"),
        ({"type": "dpr", "dpr": 0.25}, r"dpr must be a finite number in \[0.5, 16.0\]"),
        ({"type": "dpr", "dpr": 0}, "dpr must be a finite number in"),
        ({"type": "dpr", "dpr": -2}, "dpr must be a finite number in"),
        ({"type": "connect", "protocol": 0, "figure_id": "f", "dpr": 1}, r"protocol must be in \[1, 1000\]"),
        ({"type": "resize", "width": -1, "height": 100}, "width must be a finite number in"),
        ({"type": "scroll", "x": 0, "y": 0, "step": 1001}, "step must be a finite number in"),
        # huge numbers
        ({"type": "mouse", "kind": "move", "x": 1e300, "y": 0}, "x must be a finite number in"),
        ({"type": "mouse", "kind": "move", "x": 0, "y": -1e6}, "y must be a finite number in"),
        ({"type": "resize", "width": 1e10, "height": 100}, "width must be a finite number in"),
        ({"type": "ack", "seq": 10**30}, "seq must be in"),
        # strings: empty and too long
        ({"type": "key", "kind": "press", "key": ""}, f"key must be a string of 1 to {MAX_STRING} characters"),
        ({"type": "key", "kind": "press", "key": "k" * (MAX_STRING + 1)}, "key must be a string of 1 to"),
        (
            {"type": "connect", "protocol": 1, "figure_id": "f" * 10_000, "dpr": 1},
            "figure_id must be a string of 1 to",
        ),
        # modifiers
        ({"type": "key", "kind": "press", "key": "a", "modifiers": "ctrl"}, "modifiers must be a list drawn from"),
        ({"type": "key", "kind": "press", "key": "a", "modifiers": ["hyper"]}, "modifiers must be a list.*'hyper'"),
        ({"type": "key", "kind": "press", "key": "a", "modifiers": ["Ctrl"]}, "modifiers must be a list.*'Ctrl'"),
        ({"type": "key", "kind": "press", "key": "a", "modifiers": [None]}, "modifiers must be a list"),
        ({"type": "key", "kind": "press", "key": "a", "modifiers": [["ctrl"]]}, "modifiers must be a list"),
        ({"type": "key", "kind": "press", "key": "a", "modifiers": {"ctrl": True}}, "modifiers must be a list"),
        ({"type": "scroll", "x": 0, "y": 0, "step": 1, "modifiers": ["ctrl"] * 5}, "modifiers must be a list"),
        ({"type": "scroll", "x": 0, "y": 0, "step": 1, "modifiers": ["ctrl"] * 10_000}, "modifiers must be a list"),
    ],
)
def test_parse_refuses_bad_fields_with_a_helpful_message(message, match):
    with pytest.raises(ProtocolError, match=match):
        parse(message)


def test_parse_refuses_binary_buffers():
    with pytest.raises(ProtocolError, match="ack messages carry no binary buffers"):
        parse({"type": "ack", "seq": 1}, [b"\x89PNG"])
    with pytest.raises(ProtocolError, match="no binary buffers"):
        parse({"type": "refresh"}, [memoryview(b"")])


def test_parse_refuses_too_many_fields():
    message = {"type": "refresh", **{f"f{i}": i for i in range(MAX_MESSAGE_FIELDS)}}
    assert len(message) == MAX_MESSAGE_FIELDS + 1
    with pytest.raises(ProtocolError, match="refresh message has too many fields"):
        parse(message)


def test_parse_error_for_many_unknown_fields_is_bounded():
    message = {"type": "refresh", **{f"f{i}": i for i in range(100_000)}}
    with pytest.raises(ProtocolError) as info:
        parse(message)
    assert len(str(info.value)) < 200


def test_error_messages_do_not_echo_unbounded_text():
    with pytest.raises(ProtocolError) as info:
        parse({"type": "key", "kind": "press", "key": "x" * 100_000})
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    "message",
    [
        {"type": "mouse", "kind": "move", "x": 10**400, "y": 0},
        {"type": "scroll", "x": 0, "y": 0, "step": -(10**400)},
        {"type": "resize", "width": 10**400, "height": 100},
        {"type": "dpr", "dpr": 10**400},
    ],
)
def test_parse_refuses_huge_json_integers_for_number_fields(message):
    # json.loads turns a 400-digit literal into a Python int, which math.isfinite cannot convert.
    with pytest.raises(ProtocolError, match="must be a finite number in"):
        parse(message)


def test_huge_json_integer_as_it_comes_off_the_wire():
    wire = '{"type": "mouse", "kind": "move", "x": 1' + "0" * 400 + ', "y": 0}'
    with pytest.raises(ProtocolError, match="x must be a finite number in"):
        parse(json.loads(wire))


@pytest.mark.parametrize(
    "message",
    [
        json.loads('{"type": "mouse", "kind": "move", "x": NaN, "y": 0}'),
        json.loads('{"type": "mouse", "kind": "move", "x": Infinity, "y": 0}'),
        json.loads('{"type": "mouse", "kind": "move", "x": -Infinity, "y": 0}'),
    ],
)
def test_parse_refuses_non_finite_numbers_decoded_from_json(message):
    with pytest.raises(ProtocolError, match="x must be a finite number"):
        parse(message)


@pytest.mark.parametrize("kind", ["connect", "dpr"])
@pytest.mark.parametrize(
    "dpr, expected",
    [(MIN_DPR, MIN_DPR), (1, 1.0), (2.625, 2.625), (MAX_DPR, MAX_DPR), (4.5, MAX_DPR), (8, MAX_DPR), (16, MAX_DPR)],
)
def test_dpr_is_accepted_up_to_16_and_clamped_to_max_dpr(kind, dpr, expected):
    message = {"type": kind, "dpr": dpr}
    if kind == "connect":
        message.update(protocol=1, figure_id="f")
    clean = parse(message)
    assert clean["dpr"] == expected
    assert isinstance(clean["dpr"], float)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "mouse", "kind": "move", "x": -100_000, "y": 100_000, "button": 4, "buttons": 31},
        {"type": "mouse", "kind": "leave", "x": 0, "y": 0, "button": 0, "buttons": 0, "modifiers": []},
        {"type": "ack", "seq": 0},
        {"type": "ack", "seq": 2**53},
        {"type": "scroll", "x": 0, "y": 0, "step": -1000, "modifiers": ["ctrl", "alt", "shift", "meta"]},
        {"type": "key", "kind": "press", "key": "k" * MAX_STRING},
        {"type": "key", "kind": "press", "key": "\u00e9"},
        {"type": "resize", "width": 0, "height": 1e9},
        {"type": "connect", "protocol": 1000, "figure_id": "f", "dpr": 0.5},
    ],
)
def test_parse_accepts_boundary_values(message):
    clean = parse(message)
    assert clean["type"] == message["type"]
    for name, value in message.items():
        if name == "modifiers":
            assert set(clean[name]) == set(value)
        else:
            assert clean[name] == value


def test_modifiers_come_back_in_canonical_order_without_duplicates():
    clean = parse({"type": "key", "kind": "press", "key": "a", "modifiers": ["shift", "meta", "shift", "ctrl"]})
    assert clean["modifiers"] == ("ctrl", "shift", "meta")


def test_parse_does_not_share_mutable_defaults():
    a = parse({"type": "mouse", "kind": "move", "x": 0, "y": 0})
    b = parse({"type": "mouse", "kind": "move", "x": 0, "y": 0})
    assert a["modifiers"] == () and isinstance(a["modifiers"], tuple)
    assert a == b and a is not b


# -- clamp_size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "width, height, dpr, expected",
    [
        (640, 480, 1, (640, 480)),
        (640.9, 480.2, 1, (640, 480)),
        (0, 0, 1, (MIN_SIZE, MIN_SIZE)),
        (1, 1e9, 1, (MIN_SIZE, MAX_SIZE)),
        (1e9, 1, 1, (MAX_SIZE, MIN_SIZE)),
        (-5, 10, 1, (MIN_SIZE, MIN_SIZE)),
        (4000, 4000, 1, (4000, 4000)),  # exactly MAX_PIXELS
    ],
)
def test_clamp_size_examples(width, height, dpr, expected):
    assert clamp_size(width, height, dpr) == expected


def test_clamp_size_scales_down_big_frames_at_high_dpr_keeping_the_aspect():
    w, h = clamp_size(4000, 2000, 4)
    assert w * h * 16 <= MAX_PIXELS
    assert w * h * 16 > 0.95 * MAX_PIXELS  # not shrunk more than needed
    assert abs(w / h - 2) < 0.01


SIZES = [0, 1, 49, 50, 51, 333.3, 999, 1000, 1001, 2500, 3999.9, 4000, 4001, 1e5, 1e9]
DPRS = [MIN_DPR, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 3.3, 3.75, MAX_DPR]


@pytest.mark.parametrize("dpr", DPRS)
def test_clamp_size_is_always_within_limits(dpr):
    for width in SIZES:
        for height in SIZES:
            w, h = clamp_size(width, height, dpr)
            assert isinstance(w, int) and isinstance(h, int)
            assert MIN_SIZE <= w <= MAX_SIZE and MIN_SIZE <= h <= MAX_SIZE, (width, height, dpr, w, h)
            assert w * h * dpr * dpr <= MAX_PIXELS, (width, height, dpr, w, h)
            if MIN_SIZE <= width <= MAX_SIZE and MIN_SIZE <= height <= MAX_SIZE:
                assert w <= width and h <= height  # never grows a request that is in range


# -- mpl_key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, modifiers, expected",
    [
        ("a", (), "a"),
        ("a", ("ctrl",), "ctrl+a"),
        ("A", ("shift",), "A"),
        ("!", ("shift",), "!"),
        ("A", ("ctrl", "shift"), "ctrl+A"),
        ("a", ("alt",), "alt+a"),
        ("a", ("ctrl", "alt"), "ctrl+alt+a"),
        ("x", ("meta",), "super+x"),
        (" ", (), " "),
        ("1", (), "1"),
        ("\u00e9", (), "\u00e9"),
        ("ArrowLeft", ("shift",), "shift+left"),
        ("ArrowLeft", ("ctrl", "shift"), "ctrl+shift+left"),
        ("ArrowRight", (), "right"),
        ("ArrowUp", (), "up"),
        ("ArrowDown", (), "down"),
        ("Control", ("ctrl",), "control"),
        ("Shift", ("shift",), "shift"),
        ("Alt", ("alt",), "alt"),
        ("Meta", (), "super"),
        ("Meta", ("meta",), "super"),
        ("Control", ("ctrl", "shift"), "shift+control"),
        ("F5", (), "f5"),
        ("F1", (), "f1"),
        ("F12", ("ctrl",), "ctrl+f12"),
        ("Escape", (), "escape"),
        ("Enter", (), "enter"),
        ("Enter", ("shift",), "shift+enter"),
        ("Backspace", (), "backspace"),
        ("Tab", (), "tab"),
        ("Delete", (), "delete"),
        ("Home", (), "home"),
        ("End", (), "end"),
        ("PageUp", (), "pageup"),
        ("PageDown", (), "pagedown"),
        ("CapsLock", (), "caps_lock"),
        ("Dead", (), None),
        ("Dead", ("shift",), None),
        ("Unidentified", (), None),
        ("Process", (), None),
        ("F13", (), None),
        ("", (), None),
    ],
)
def test_mpl_key(key, modifiers, expected):
    assert mpl_key(key, modifiers) == expected


def test_mpl_key_accepts_parsed_modifiers():
    msg = parse({"type": "key", "kind": "press", "key": "s", "modifiers": ["meta", "ctrl"]})
    assert mpl_key(msg["key"], msg["modifiers"]) == "ctrl+super+s"


def test_protocol_constants_match_the_docs():
    assert protocol.PROTOCOL_VERSION == 1
    assert protocol.COMM_TARGET == "nbagg.figure"
    assert protocol.MIME_TYPE == "application/vnd.nbagg.figure.v1+json"
    assert (MIN_DPR, MAX_DPR) == (0.5, 4.0)


@pytest.mark.parametrize("kind", sorted(set(SCHEMA) - {"connect"}))
def test_every_message_after_connect_may_carry_its_number(kind):
    example = next(m for m, _ in VALID if m["type"] == kind)
    assert parse({**example, "n": 7})["n"] == 7
    assert "n" not in parse(example)


@pytest.mark.parametrize(
    "message, match",
    [
        ({"type": "refresh", "n": 0}, r"n must be in \[1, "),
        ({"type": "refresh", "n": 1.5}, "n must be an integer"),
        ({"type": "refresh", "n": True}, "n must be an integer"),
        ({"type": "refresh", "n": 2**60}, r"n must be in \[1, "),
        ({"type": "connect", "protocol": 1, "figure_id": "a", "dpr": 1, "n": 1}, "unknown fields: n"),
    ],
)
def test_a_bad_message_number_is_refused(message, match):
    with pytest.raises(ProtocolError, match=match):
        parse(message)
