"""The garbage collector's settings during bulk work are restored afterwards, and cycles are still
collected while relaxed (a long screen's memory stays bounded)."""

from __future__ import annotations

import gc
import weakref

import pytest

from drgaudit import bulkgc


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_relaxed_freezes_raises_the_threshold_and_restores_both() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with bulkgc.relaxed():
        assert gc.get_threshold() == bulkgc.BULK_THRESHOLDS
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_relaxed_leaves_a_heap_frozen_by_someone_else_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with bulkgc.relaxed():
            assert gc.get_threshold() == bulkgc.BULK_THRESHOLDS
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_relaxed_restores_after_an_error() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(RuntimeError), bulkgc.relaxed():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_cycles_made_while_relaxed_are_still_collected() -> None:
    with bulkgc.relaxed():
        node = _Node()
        gone = weakref.ref(node)
        del node
        # Allocate well past the first-generation threshold: a young pass must run and free the cycle.
        keep = [[] for _ in range(3 * bulkgc.BULK_THRESHOLDS[0])]
        assert gone() is None
        del keep


@pytest.mark.parametrize("enabled", [True, False])
def test_paused_restores_the_collector(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        with bulkgc.paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()


def test_thaw_gives_the_frozen_objects_back() -> None:
    gc.freeze()
    assert gc.get_freeze_count() > 0
    bulkgc.thaw()
    assert gc.get_freeze_count() == 0
