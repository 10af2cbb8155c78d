"""The feature values the service sees, kept in the object store for the drift check.

Objects are gzipped CSV files, one per flush of one replica, under
``<prefix>/<model>/dt=<YYYY-MM-DD>/<HHMMSS>-<host>-<pid>-<nnnnnn>.csv.gz`` with the feature names as
header. The service writes them (FeatureRecorder, off the request path); the drift job reads
the recent ones back (FeatureStore.read_recent).

Why the object store and not metrics: the Kolmogorov-Smirnov test compares empirical
distributions, which need the values themselves; a Prometheus histogram keeps bucket counts
with bucket edges fixed in advance for every feature, and a summary keeps only count and sum.
The service still exports a per-feature summary (mean over time) for the dashboard.

Settings (environment): MLOPS_S3_BUCKET (unset: nothing is recorded), MLOPS_S3_ENDPOINT_URL
(Ceph RGW, MinIO; unset: AWS), MLOPS_S3_PREFIX (default `mlops/inputs`), and the standard
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (default us-east-1).
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import boto3
import numpy as np
import pandas as pd
from botocore.config import Config

from mlops import config

log = logging.getLogger(__name__)
DEFAULT_PREFIX = "mlops/inputs"


class FeatureStore:
    """Feature rows in an S3 bucket (any S3 API: AWS, Ceph RGW, MinIO)."""

    def __init__(self, client: Any, bucket: str, prefix: str = DEFAULT_PREFIX) -> None:
        """`client`: a boto3 S3 client."""
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._sequence = count()

    @classmethod
    def from_env(cls) -> FeatureStore | None:
        bucket = config.env_str("MLOPS_S3_BUCKET")
        if bucket is None:
            return None
        client = boto3.client(
            "s3",
            endpoint_url=config.env_str("MLOPS_S3_ENDPOINT_URL"),
            region_name=config.env_str("AWS_REGION", "us-east-1"),
            # Path-style requests: Ceph RGW and MinIO behind one host name have no
            # per-bucket DNS names.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )
        return cls(client, bucket, config.env_str("MLOPS_S3_PREFIX", DEFAULT_PREFIX) or "")

    def _day_prefix(self, model: str, day: datetime) -> str:
        return f"{self.prefix}/{model}/dt={day:%Y-%m-%d}/"

    def write(
        self,
        model: str,
        columns: Sequence[str],
        rows: np.ndarray,
        now: datetime | None = None,
    ) -> str:
        now = now or datetime.now(UTC)
        body = io.BytesIO()
        with gzip.GzipFile(fileobj=body, mode="wb") as gz:
            pd.DataFrame(rows, columns=list(columns)).to_csv(gz, index=False)
        name = (
            f"{now:%H%M%S}-{socket.gethostname()}-{os.getpid()}-{next(self._sequence):06d}.csv.gz"
        )
        key = self._day_prefix(model, now) + name
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body.getvalue())
        return key

    def read_recent(self, model: str, since: datetime, max_rows: int | None = None) -> pd.DataFrame:
        """Rows written since `since`, newest objects first up to `max_rows`."""
        until = datetime.now(UTC)
        objects = []
        day = since
        paginator = self.client.get_paginator("list_objects_v2")
        while day.date() <= until.date():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._day_prefix(model, day)):
                objects += [
                    o for o in page.get("Contents", []) if since <= o["LastModified"] <= until
                ]
            day += timedelta(days=1)
        # LastModified has whole seconds: the name (time, writer, sequence) orders within one.
        objects.sort(key=lambda o: (o["LastModified"], o["Key"]), reverse=True)
        frames: list[pd.DataFrame] = []
        total = 0
        for obj in objects:
            if max_rows is not None and total >= max_rows:
                break
            body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
            frame = pd.read_csv(io.BytesIO(body), compression="gzip")
            frames.append(frame)
            total += len(frame)
        if not frames:
            return pd.DataFrame()
        rows = pd.concat(frames, ignore_index=True)
        return rows if max_rows is None else rows.iloc[:max_rows]


class FeatureRecorder:
    """Buffers the rows a replica predicts on and writes them from a background thread, every
    `flush_seconds` or when `flush_rows` are waiting, so no request waits for the store. When
    the store fails, rows are kept up to `max_buffered_rows`, then dropped (and counted):
    recording must never break predictions."""

    def __init__(
        self,
        store: FeatureStore,
        model: str,
        columns: Sequence[str],
        flush_rows: int = 1000,
        flush_seconds: float = 60.0,
        max_buffered_rows: int = 100_000,
        on_outcome: Callable[[str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.columns = list(columns)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        self.on_outcome = on_outcome or (lambda outcome, n: None)
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feature-recorder", daemon=True)

    def start(self) -> FeatureRecorder:
        self._thread.start()
        return self

    def record(self, rows: np.ndarray) -> None:
        with self._lock:
            if self._buffered + len(rows) > self.max_buffered_rows:
                self.on_outcome("dropped", len(rows))
                return
            self._buffer.append(rows)
            self._buffered += len(rows)
            full = self._buffered >= self.flush_rows
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write what is buffered now; returns the rows written (0 on failure: kept)."""
        with self._lock:
            batch, self._buffer, self._buffered = self._buffer, [], 0
        if not batch:
            return 0
        rows = np.concatenate(batch)
        try:
            self.store.write(self.model, self.columns, rows)
        except Exception:
            log.exception(
                "could not write %d feature rows; keeping them for the next flush", len(rows)
            )
            self.on_outcome("failed", len(rows))
            with self._lock:
                self._buffer.insert(0, rows)
                self._buffered += len(rows)
            return 0
        self.on_outcome("written", len(rows))
        return len(rows)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()
