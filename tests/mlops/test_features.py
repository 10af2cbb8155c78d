"""The service's feature recorder: off the request path, flushes on a full buffer and at
close, keeps rows when the store fails, drops (and counts) past its bound."""

from __future__ import annotations

import threading

import numpy as np

from mlops.features import FeatureRecorder


class MemoryStore:
    def __init__(self) -> None:
        self.writes: list[np.ndarray] = []
        self.fail = False
        self.written = threading.Event()

    def write(self, model, columns, rows, now=None):
        if self.fail:
            raise OSError("store down")
        self.writes.append(rows)
        self.written.set()
        return "key"


def make(store, outcomes, **kwargs) -> FeatureRecorder:
    return FeatureRecorder(
        store, "m", ["a", "b"], on_outcome=lambda o, n: outcomes.append((o, n)), **kwargs
    )


def test_flushes_when_the_buffer_is_full_and_at_close():
    store, outcomes = MemoryStore(), []
    recorder = make(store, outcomes, flush_rows=4, flush_seconds=3600).start()
    recorder.record(np.ones((2, 2)))
    assert not store.written.wait(0.2)  # below flush_rows: nothing written yet
    recorder.record(np.zeros((2, 2)))
    assert store.written.wait(5)  # the background thread wrote the 4 rows
    np.testing.assert_array_equal(store.writes[0], [[1, 1], [1, 1], [0, 0], [0, 0]])
    recorder.record(np.full((1, 2), 7.0))
    recorder.close()
    np.testing.assert_array_equal(store.writes[-1], [[7, 7]])
    assert outcomes == [("written", 4), ("written", 1)]


def test_keeps_rows_while_the_store_fails_and_drops_past_the_bound():
    store, outcomes = MemoryStore(), []
    recorder = make(store, outcomes, flush_rows=100, max_buffered_rows=5)
    store.fail = True
    recorder.record(np.ones((3, 2)))
    assert recorder.flush() == 0
    recorder.record(np.ones((2, 2)))  # 5 buffered: at the bound
    recorder.record(np.ones((1, 2)))  # over it: dropped
    store.fail = False
    assert recorder.flush() == 5
    assert outcomes == [("failed", 3), ("dropped", 1), ("written", 5)]
