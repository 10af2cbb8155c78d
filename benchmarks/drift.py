"""Time of the drift check for 100,000 recent rows (30 features, the breast-cancer schema).

Measured separately, median of 5 runs each:
- the decision (`mlops.drift.detect`): 30 two-sample KS tests and Holm's procedure, against the
  reference the loop uses (the 426 training rows) and against a 100,000-row reference;
- reading the rows back from the object store's format (gzipped CSV, `mlops.features`),
  decoding only: the transfer from the store depends on the network.

    .venv-mlops/bin/python benchmarks/drift.py
"""

from __future__ import annotations

import gzip
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from mlops import data, drift

ROWS = 100_000
REPEATS = 5


def timed(func: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    x, _ = data.load("breast_cancer")
    reference = data.split("breast_cancer").x_train
    recent = x.sample(ROWS, replace=True, random_state=1).reset_index(drop=True)
    recent["mean_texture"] *= 1.2  # one drifted feature, so the decision has work to report
    big_reference = x.sample(ROWS, replace=True, random_state=2).reset_index(drop=True)

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as gz:
        recent.to_csv(gz, index=False)
    payload = buffer.getvalue()

    small, report = timed(lambda: drift.detect(reference, recent))
    large, _ = timed(lambda: drift.detect(big_reference, recent))
    read, frame = timed(lambda: pd.read_csv(io.BytesIO(payload), compression="gzip"))
    assert len(frame) == ROWS and report.drifted_features == ["mean_texture"]

    print(
        f"Drift check, {ROWS:,} recent rows x {recent.shape[1]} features, median of {REPEATS} runs"
    )
    lines = [
        (f"KS + Holm vs the training reference ({len(reference):,} rows)", small),
        (f"KS + Holm vs a {ROWS:,}-row reference", large),
        (f"decode {len(payload) / 1e6:.1f} MB of gzipped CSV into a DataFrame", read),
    ]
    for label, seconds in lines:
        print(f"  {label:<58} {seconds * 1e3:8.1f} ms")
    print(f"  decided: drifted features {report.drifted_features}")


if __name__ == "__main__":
    main()
