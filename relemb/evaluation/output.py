"""Atomic result files (kept here for compatibility; the implementation lives in :mod:`relemb._io`)."""

from relemb._io import atomic_output

__all__ = ["atomic_output"]
