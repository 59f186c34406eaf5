"""Trestle's one way to cut work into batches: :func:`chunked`.

Every size limit (Xero's 50 elements per write, Procore's 1000 updates per sync, the rows one
write stage commits together, the ids one query names) cuts its list with this function.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` of ``items``, in order; nothing for no items."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
