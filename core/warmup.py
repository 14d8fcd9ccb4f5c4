"""Process start-up for long-running processes (worker, API)."""

from __future__ import annotations

import gc


def settle() -> None:
    """Load what analysis needs (the sentiment model) now rather than on the first request, then move every
    object that lives for the whole process out of the garbage collector's generations (``gc.freeze``), so
    the collections that batch analysis triggers do not walk them again and again.
    """
    from domain.sentiment import default_model

    default_model()
    gc.collect()
    gc.freeze()
