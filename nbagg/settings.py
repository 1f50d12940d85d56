"""What the user can set from a notebook: whether figures store a restorable state, and
how large it may be. ``nbagg.configure(...)`` changes them for the running kernel.

The stored state is what lets "Restore figure" bring a figure back after a kernel
restart. It costs notebook size, so by default a figure's state is stored only if it is
no larger than the figure's own image, or AUTO_MIN_STATE_BYTES if that is larger (so a
small figure with a colorbar or a few subplots always fits); a 100k-point scatter or a
large image does not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .protocol import MAX_STATE_CHARS

# Sizes are characters of the notebook file (the base64 text of the state).
AUTO_MIN_STATE_BYTES = 48_000
# The largest state a user can allow: a restore sends it over the websocket in one message.
MAX_STATE_BYTES = MAX_STATE_CHARS
_ENV = "NBAGG_MAX_STATE_BYTES"  # default for max_state_bytes; 0 turns storing off


@dataclass
class Settings:
    store_state: bool = True
    max_state_bytes: int | None = None  # None: automatic (see state_limit)


def _from_env() -> Settings:
    raw = os.environ.get(_ENV, "").strip()
    if not raw:
        return Settings()
    try:
        value = int(raw)
    except ValueError:
        return Settings()
    if value <= 0:
        return Settings(store_state=False)
    return Settings(max_state_bytes=min(value, MAX_STATE_BYTES))


settings = _from_env()


def configure(*, store_state: bool | None = None, max_state_bytes: int | str | None = None) -> Settings:
    """Set how figures store their restorable state, for figures changed from now on.

    store_state: False stores no state (no "Restore figure" after a restart; the live
        view, the saved image and reloads are unaffected).
    max_state_bytes: the largest state to store, in bytes of notebook text, up to
        8,000,000; "auto" (the default) allows as much as the figure's own image, and at
        least 48,000.

    Returns the settings now in force.
    """
    if store_state is not None:
        if not isinstance(store_state, bool):
            raise TypeError(f"store_state must be True or False, not {store_state!r}")
        settings.store_state = store_state
    if max_state_bytes is not None:
        if max_state_bytes == "auto":
            settings.max_state_bytes = None
        elif isinstance(max_state_bytes, bool) or not isinstance(max_state_bytes, int):
            raise TypeError(f"max_state_bytes must be an integer or 'auto', not {max_state_bytes!r}")
        elif not 0 < max_state_bytes <= MAX_STATE_BYTES:
            raise ValueError(
                f"max_state_bytes must be between 1 and {MAX_STATE_BYTES:,} (got {max_state_bytes:,}); "
                "use store_state=False to store no state"
            )
        else:
            settings.max_state_bytes = max_state_bytes
    return Settings(settings.store_state, settings.max_state_bytes)


def state_limit(image_bytes: int) -> int:
    """The largest state (base64 characters) to store for a figure whose PNG (base64) is
    ``image_bytes`` long; 0 when storing is off."""
    if not settings.store_state:
        return 0
    if settings.max_state_bytes is not None:
        return settings.max_state_bytes
    return min(max(image_bytes, AUTO_MIN_STATE_BYTES), MAX_STATE_BYTES)


def how_to_raise(limit: int) -> str:
    """The sentence a figure over the limit shows instead of a restore button."""
    return (
        f"its state is larger than the {limit // 1000:,} KB limit, so it was not saved in the notebook. "
        "To keep larger states, run nbagg.configure(max_state_bytes=2_000_000) before making the figure."
    )
