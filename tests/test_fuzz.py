"""Fuzz: thousands of generated comm messages against a figure in a real kernel.

Afterwards the kernel still runs code, the figure still renders the right pixels, and a
well-behaved second view of the same figure lost no frame.
"""

import hashlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_harness import figure_ids

from nbagg.protocol import SCHEMA

# NaN and infinities are not JSON; jupyter_client warns and sends them anyway, as a hostile
# browser could.
pytestmark = pytest.mark.filterwarnings("ignore:Message serialization failed:UserWarning")

FUZZ_EXAMPLES = 2500

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e308, -1e308, 2**53, 1e-320]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=80), st.binary(max_size=16).map(str))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
# Types the fuzzer may send: every known one except those that legitimately end the figure.
known_types = sorted(set(SCHEMA) - {"close", "output_removed", "connect"})
field_names = sorted({name for fields in SCHEMA.values() for name in fields} | {"type", "__class__", "seq"})


@st.composite
def messages(draw):
    kind = draw(st.sampled_from(["near_valid", "random_object", "not_an_object", "oversized"]))
    if kind == "not_an_object":
        return draw(json_values), []
    if kind == "oversized":
        return {"type": draw(st.sampled_from(known_types)), "x": "A" * draw(st.integers(10_000, 200_000))}, []
    if kind == "random_object":
        msg = draw(st.dictionaries(st.sampled_from(field_names), json_values, max_size=8))
        return msg, draw(st.lists(st.binary(max_size=64), max_size=2))
    msg_type = draw(st.sampled_from(known_types + ["nope", "", "FRAME", "__init__"]))
    msg = {"type": msg_type}
    for name in SCHEMA.get(msg_type, {}):
        if draw(st.booleans()) or draw(st.booleans()):
            msg[name] = draw(json_values)
    return msg, draw(st.lists(st.binary(max_size=64), max_size=1)) if draw(st.integers(0, 9)) == 0 else []


def test_fuzzed_messages_never_hurt_the_kernel_or_other_views(kernel):
    # Keyboard shortcuts (q closes, l/k switch to log scales) are user actions, not bad
    # input: random ones can close the figure or ask Agg for a log axis over 1e5 decades.
    outputs = kernel.execute(
        "fig, ax = plt.subplots(figsize=(3, 2), dpi=100); ax.plot([0, 1], [1, 0])\n"
        "fig.canvas.mpl_disconnect(fig.canvas.manager.key_press_handler_id)"
    )
    fid = figure_ids(outputs)[0]
    target, bystander = kernel.open_view(fid), kernel.open_view(fid)
    target.recv_frame()
    bystander.recv_frame()
    sent = []

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(messages())
    def fuzz(message):
        msg, buffers = message
        target.send(msg, buffers)
        sent.append(msg)
        if len(sent) % 250 == 0:
            # Read iopub now and then: past ZeroMQ's high-water mark a PUB socket drops
            # messages a slow reader has not taken (the error replies pile up otherwise).
            kernel.execute("pass")

    fuzz()
    assert len(sent) >= FUZZ_EXAMPLES

    # The kernel still executes code and the figure still draws, in every view.
    assert kernel.eval("1 + 1") == 2
    kernel.execute("ax.set_title('after the fuzz'); fig.patch.set_facecolor('#123456')")
    # The bystander acknowledges every frame it gets; it must end at the kernel's pixels.
    want = kernel.eval("__import__('hashlib').sha256(np.asarray(fig.canvas.buffer_rgba()).tobytes()).hexdigest()")
    for _ in range(200):
        frame = bystander.recv_frame(timeout=20)
        if hashlib.sha256(bystander.canvas.tobytes()).hexdigest() == want:
            break
    assert hashlib.sha256(bystander.canvas.tobytes()).hexdigest() == want
    seqs = [f["seq"] for f in bystander.frames]
    assert seqs == list(range(1, len(seqs) + 1)), "the well-behaved view lost a frame"
    assert frame is not None

    # Distinct error paths the fuzz reached (messages with values stripped).
    errors = set()
    while True:
        try:
            msg = target.recv(timeout=2, type="error")
        except TimeoutError:
            break
        errors.add((msg["code"], re.sub(r"(got|fields:|type) .*", r"\1 …", msg["message"])))
    print(f"\nfuzz: {len(sent)} messages sent, {len(errors)} distinct error paths")
    assert {code for code, _ in errors} == {"bad_message"}  # never an internal error
    assert len(errors) >= 20
