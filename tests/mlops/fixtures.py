"""Fixtures of the mlops suite (imported by conftest.py when the dependencies are there)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mlflow
import pytest
import requests

MODEL = "test-classifier"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the server's process group, SIGKILL to whatever is left after `grace`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        process.poll()  # reap the leader so that it stops counting as a member
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def start_mlflow_server(root: Path) -> tuple[subprocess.Popen, str]:
    """`mlflow server` on a SQLite database and artifact directory under `root`, on a free
    port, in a process group of its own (end it with `stop_group`); its output goes to
    `root/server.log`. Returns once it answers /health."""
    port = free_port()
    with (root / "server.log").open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, uri, root / "server.log")
    except BaseException:
        stop_group(process)
        raise
    return process, uri


def wait_healthy(process: subprocess.Popen, uri: str, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log.read_text()}")
        try:
            if requests.get(f"{uri}/health", timeout=5).ok:
                return
        except requests.RequestException:  # not listening yet, or too busy starting
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"mlflow server did not answer /health in {seconds:.0f} s")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> Iterator[str]:
    """`start_mlflow_server` for the session; the process group is ended after it."""
    process, uri = start_mlflow_server(tmp_path_factory.mktemp("mlflow"))
    try:
        yield uri
    finally:
        stop_group(process)


@pytest.fixture(scope="session")
def tracking(mlflow_server) -> Iterator[str]:
    """MLFLOW_TRACKING_URI set for this process (the code under test reads it as in a pod)."""
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    mlflow.set_tracking_uri(mlflow_server)
    yield mlflow_server
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on loopback: the real S3 HTTP API, nothing leaves the machine."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeApi:
    """A local HTTP server answering from `routes` and recording every request."""

    url: str
    routes: dict[tuple[str, str], Callable[[Recorded], tuple[int, Any]]] = field(
        default_factory=dict
    )
    requests: list[Recorded] = field(default_factory=list)

    def route(self, method: str, path: str, answer: Any, status: int = 200) -> None:
        self.routes[(method, path)] = answer if callable(answer) else (lambda _: (status, answer))


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi(url="")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode()
            request = Recorded(self.command, path, query, dict(self.headers), body)
            api.requests.append(request)
            answer = api.routes.get((self.command, path))
            status, payload = answer(request) if answer else (404, {"error": "no route"})
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path
