"""InputOrder: a view's messages handed out in the order the browser numbered them."""

from nbagg.order import GAP_TIMEOUT, MAX_HELD, InputOrder


def numbered(*ns):
    return [{"type": "key", "n": n} for n in ns]


def handed_out(order, msgs, now=0.0):
    out = []
    for msg in msgs:
        out += order.accept(msg, now)
    return [m["n"] for m in out]


def test_messages_in_order_pass_at_once():
    order = InputOrder()
    assert handed_out(order, numbered(1, 2, 3)) == [1, 2, 3]
    assert not order.waiting


def test_a_message_that_overtook_its_predecessor_waits_for_it():
    order = InputOrder()
    assert handed_out(order, numbered(1, 3, 4)) == [1]
    assert order.waiting
    assert handed_out(order, numbered(2)) == [2, 3, 4]
    assert not order.waiting and order.held_since is None


def test_a_click_split_over_two_threads_comes_out_as_press_release_press_release():
    order = InputOrder()
    press1, release1, press2, release2 = numbered(1, 2, 3, 4)
    assert handed_out(order, [press1, press2, release2, release1]) == [1, 2, 3, 4]


def test_a_gap_that_never_closes_is_given_up_after_the_timeout():
    order = InputOrder()
    order.accept({"type": "key", "n": 2}, now=10.0)
    order.accept({"type": "key", "n": 4}, now=10.5)
    assert order.overdue(10.0 + GAP_TIMEOUT / 2) == []
    assert [m["n"] for m in order.overdue(10.0 + GAP_TIMEOUT)] == [2, 4]
    assert not order.waiting
    # The lost message arriving late is still handled (late beats lost); what follows flows.
    assert handed_out(order, numbered(1, 5, 6)) == [1, 5, 6]


def test_at_most_max_held_messages_wait():
    order = InputOrder()
    out = handed_out(order, numbered(*range(2, MAX_HELD + 3)))
    assert out == list(range(2, MAX_HELD + 3))  # the 65th held message releases them all
    assert not order.waiting


def test_unnumbered_messages_pass_at_once():
    order = InputOrder()
    assert order.accept({"type": "ack", "seq": 1}, 0.0) == [{"type": "ack", "seq": 1}]
    assert handed_out(order, numbered(2)) == []  # numbered ones still wait for 1
