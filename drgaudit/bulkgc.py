"""How the cyclic garbage collector runs during bulk work (an import, a batch screen).

Bulk work allocates millions of short-lived containers (rows, facts, hits) and almost no reference
cycles; reference counting frees them. With CPython's default thresholds the collector still runs a
young-generation pass every 700 allocations and, every so often, a full pass over everything alive,
including the long-lived objects a screen loads first (the code tables, the compiled rule pack). Those
passes are pure overhead here: about a fifth of an import; in a screen, each full pass walks the pack,
its rulesets and the code tables (~70-85 ms), and the passes took 3.1 of 40.6 s of CPU of an in-process
stored screen of 200,000 demo claims (gc.callbacks), against 1.1 s frozen.

- `paused()`: no collection at all for the duration (an import: it makes no cycles).
- `relaxed()`: the objects alive now are frozen (left out of every pass; unless the heap is frozen
  already) and the young generation is collected far less often; cycles are still collected, so a long screen's memory stays bounded even
  where a library (the ORM, durable-rules' wrapper) makes cycles. Restored afterwards.
- `relax_for_good()`: the same for a worker process that only does bulk work until it ends, or until
  it replaces what it froze (a cluster worker given another rule pack), which `thaw()` gives back first.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# First-generation threshold during bulk work: a young pass every 50,000 net allocations, not 700
# (measured: the collector's share of a screen falls from ~5% to noise; memory is unchanged, since
# acyclic garbage is freed by reference counting whatever the threshold).
BULK_THRESHOLDS = (50_000, 20, 10)


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block; the collector's state is restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def relaxed() -> Iterator[None]:
    """Freeze what is alive and collect the young generation rarely inside the block; the thresholds
    are restored and the frozen objects given back to the collector after."""
    before = gc.get_threshold()
    # Something else froze the heap already (an enclosing block, a server): it decides when to unfreeze.
    owner = not gc.get_freeze_count()
    if owner:
        gc.freeze()
    gc.set_threshold(*BULK_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if owner:
            gc.unfreeze()


def relax_for_good() -> None:
    """Freeze what is alive and collect the young generation rarely, for the rest of this process (a
    worker that only screens): the screener it has just built is never walked by the collector again."""
    gc.collect()  # what is garbage now need not stay frozen
    gc.freeze()
    gc.set_threshold(*BULK_THRESHOLDS)


def thaw() -> None:
    """Give every frozen object back to the collector (a worker about to replace the screener it froze,
    so that the old one, once dropped, can be collected)."""
    gc.unfreeze()
