"""A view's messages, handled in the order the browser sent them.

The browser numbers every message on a comm from 1 (``n``). ipykernel 7 may hand one
comm's messages to two threads: the front end sends them on a subshell, and some come
through the main shell (ipykernel 7.4 routes a comm's messages to the shell that last
published on it; nbagg routes a view's goodbyes there, comm.py). A message that comes
through the main shell's thread can then overtake one still queued on the subshell's,
and a click would arrive as press, press, release, release. :class:`InputOrder` holds a message whose predecessors are
missing until they come; pure bookkeeping, so it is tested without a kernel.
"""

from __future__ import annotations

# Held messages are released anyway once this many wait (a message that never comes
# must not hold the view's input forever) or after GAP_TIMEOUT seconds (comm.py).
MAX_HELD = 64
GAP_TIMEOUT = 1.0


class InputOrder:
    def __init__(self) -> None:
        self._next = 1  # the number of the next message to hand out
        self._held: dict[int, dict] = {}
        self.held_since: float | None = None  # when the oldest gap opened

    @property
    def waiting(self) -> bool:
        """Messages are held for a predecessor that has not come yet."""
        return bool(self._held)

    def accept(self, msg: dict, now: float) -> list[dict]:
        """The messages to handle now, in order, after ``msg`` arrived.

        A message without ``n`` (a view of an older nbagg) or one that comes after its
        gap was given up on is handled at once: late beats lost.
        """
        n = msg.get("n")
        if n is None or n < self._next:
            return [msg]
        self._held[n] = msg
        ready = self._release()
        if len(self._held) > MAX_HELD:
            ready += self.give_up()
        elif self._held and self.held_since is None:
            self.held_since = now
        return ready

    def overdue(self, now: float) -> list[dict]:
        """What is held, in order, if its gap has been open for GAP_TIMEOUT; else nothing."""
        if self.held_since is None or now - self.held_since < GAP_TIMEOUT:
            return []
        return self.give_up()

    def give_up(self) -> list[dict]:
        """Stop waiting for the missing messages: everything held, in order."""
        ready = []
        while self._held:
            self._next = min(self._held)
            ready += self._release()
        self.held_since = None
        return ready

    def _release(self) -> list[dict]:
        ready = []
        while self._next in self._held:
            ready.append(self._held.pop(self._next))
            self._next += 1
        if not self._held:
            self.held_since = None
        return ready
