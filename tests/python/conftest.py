"""Pytest fixtures: a real `blazemq` process per test, on a free port and a fresh data directory.

The binary is found the same way as by the Rust harness (tests/src/lib.rs): `$BLAZEMQ_BIN`, else
`$CARGO_TARGET_DIR/debug/blazemq`, else `<repo>/target/debug/blazemq` (`scripts/test.sh` builds it
first). `BLAZEMQ_TEST_BROKER_CMD` replaces the command line (`{port}` and `{dir}` are substituted);
readiness is then an accepted TCP connection instead of the `Broker ready` line.
`BLAZEMQ_BOOTSTRAP=host:port` runs the tests that use the `broker` fixture against a broker that
is already running there instead (e.g. Apache Kafka from `scripts/kafka-reference.sh run`); the
tests marked `blazemq_only` (they stop or restart the binary, or pass it flags) are then left out.
"""

import collections
import importlib
import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

READY_LINE = "Broker ready"
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
REPO = Path(__file__).resolve().parents[2]


def in_ci():
    return os.environ.get("CI") == "true"


def require(module):
    """Imports a client library; skips without it locally, but fails in CI (CI=true)."""
    if in_ci():
        return importlib.import_module(module)
    return pytest.importorskip(module)


def broker_binary():
    if os.environ.get("BLAZEMQ_BIN"):
        return Path(os.environ["BLAZEMQ_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    path = target / "debug" / "blazemq"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build -p blazemq` first (scripts/test.sh does)")
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A broker process; `stop()` sends SIGTERM, `kill9()` SIGKILL, `restart()` reuses port and dir."""

    restartable = True

    def __init__(self, log_dir, args=()):
        self.log_dir = log_dir
        self.args = list(args)
        self.port = None
        self.proc = None
        self.output = collections.deque(maxlen=200)

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def _command(self):
        template = os.environ.get("BLAZEMQ_TEST_BROKER_CMD")
        if template:
            words = [w.replace("{port}", str(self.port)).replace("{dir}", str(self.log_dir))
                     for w in shlex.split(template)]
            return words, False
        cmd = [str(broker_binary()), "--port", str(self.port), "--log-dir", str(self.log_dir)]
        return cmd + self.args, True

    def _drain(self, pipe, ready):
        # Reads until the pipe closes, so the broker never blocks on a full pipe.
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self.output.append(line)
            if ready is not None and READY_LINE in line:
                ready.set()
        pipe.close()

    def _spawn(self):
        cmd, wait_for_line = self._command()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        ready = threading.Event()
        threading.Thread(target=self._drain, args=(self.proc.stdout, ready), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, None), daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if wait_for_line and ready.wait(0.05):
                return True
            if not wait_for_line and self._accepts():
                return True
            if self.proc.poll() is not None:
                return False
        return False

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
            return False

    def start(self):
        for _ in range(3):
            self.port = free_port()
            if self._spawn():
                return self
            self._reap()
        raise RuntimeError("broker did not start:\n" + self.logs())

    def restart(self):
        assert self.proc is None, "restart follows stop or kill9"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self._spawn():
                return self
            self._reap()
            if time.monotonic() > deadline:
                raise RuntimeError("broker did not restart:\n" + self.logs())
            time.sleep(0.2)

    def stop(self):
        """SIGTERM; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT_S)
        finally:
            self._reap()
        return code

    def kill9(self):
        self._reap()

    def _reap(self):
        """SIGKILL to the broker's whole session (it is a leader of its own), then reap it."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None

    def logs(self):
        return "\n".join(self.output)


def external_bootstrap():
    """The address of a broker started outside the tests, or None."""
    return os.environ.get("BLAZEMQ_BOOTSTRAP", "").strip() or None


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "blazemq_only(reason): tests what only BlazeMQ's binary has (a restart, a kill -9, its "
        "flags); left out when BLAZEMQ_BOOTSTRAP names a broker started elsewhere",
    )
    config.addinivalue_line(
        "markers",
        "long_wait: waits out a fixed interval of a minute or more; runs first, so that with "
        "several workers (pytest -n) the other tests run meanwhile instead of after it",
    )


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("long_wait") is None)
    if external_bootstrap() is None:
        return
    for item in items:
        marker = item.get_closest_marker("blazemq_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "BlazeMQ only"
            item.add_marker(pytest.mark.skip(reason=f"BlazeMQ only: {reason}"))


class RunningBroker:
    """A broker already running at `BLAZEMQ_BOOTSTRAP` (e.g. a real Kafka from
    `scripts/kafka-reference.sh run`), used instead of starting one. It cannot be stopped or
    restarted: a test that does so is marked `blazemq_only`."""

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        host, _, port = bootstrap.rpartition(":")
        self.host = host
        self.port = int(port)

    # A test checks what survives a restart only where it can restart the broker.
    restartable = False

    def logs(self):
        return f"(the broker at {self.bootstrap} was started outside the tests)"


@pytest.fixture
def broker(tmp_path):
    if external_bootstrap() is not None:
        yield RunningBroker(external_bootstrap())
        return
    b = Broker(tmp_path).start()
    try:
        yield b
    finally:
        b._reap()


@pytest.fixture
def topic_name(request):
    """A topic name unique to the test (its module and name: a broker started elsewhere is shared
    by every module), valid for Kafka (letters, digits, '.', '_', '-')."""
    name = f"{request.module.__name__.removeprefix('test_')}-{request.node.name}"
    return "t-" + re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:200]
