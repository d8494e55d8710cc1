#!/usr/bin/env python3
"""Seeds the fuzz corpora from real client traffic.

Starts the broker (target/debug/blazemq, built first), puts a recording TCP proxy in front of it
and runs kcat through it: metadata, produce with every compression codec, legacy message sets
(magic 0 and 1, as clients that speak to Kafka 0.9 and 0.10 send them), idempotent produce,
consume (old and new Fetch versions), offsets and a consumer group. Every request frame is
written to fuzz/corpus/frame/; then `cargo run --example seeds` derives the other targets'
seeds from those frames with the codec itself.

The broker listens on 127.0.0.2:PORT and advertises 127.0.0.1:PORT, where the proxy listens, so
clients reconnecting to the advertised address still go through the proxy.

Usage: python3 scripts/capture-corpus.py   (needs kcat; rerun to refresh the seeds)
"""

import hashlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
BROKER_HOST, PROXY_HOST = "127.0.0.2", "127.0.0.1"
# One connection's frames concatenated, as a read buffer holds them, capped so seeds stay small.
STREAM_BYTES_MAX = 16 * 1024
FRAME_BYTES_MAX = 64 * 1024


def free_port():
    with socket.socket() as s:
        s.bind((PROXY_HOST, 0))
        return s.getsockname()[1]


class Recorder:
    """Collects request frames, deduplicated, and each connection's first bytes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.frames = {}
        self.streams = {}

    def frame(self, data):
        if len(data) <= FRAME_BYTES_MAX:
            with self.lock:
                self.frames[hashlib.sha1(data).hexdigest()[:16]] = data

    def stream(self, data):
        if data:
            with self.lock:
                self.streams[hashlib.sha1(data).hexdigest()[:16]] = data


def pump_requests(client, broker, recorder):
    """Client to broker: forwards bytes and cuts them into size-prefixed frames."""
    buf, stream = b"", b""
    while True:
        try:
            data = client.recv(65536)
        except OSError:
            data = b""
        if not data:
            break
        broker.sendall(data)
        buf += data
        if len(stream) < STREAM_BYTES_MAX:
            stream += data[: STREAM_BYTES_MAX - len(stream)]
        while len(buf) >= 4:
            size = int.from_bytes(buf[:4], "big", signed=True)
            if size < 0 or len(buf) < 4 + size:
                break
            recorder.frame(buf[: 4 + size])
            buf = buf[4 + size:]
    recorder.stream(stream)
    for s in (broker, client):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump_responses(broker, client):
    while True:
        try:
            data = broker.recv(65536)
        except OSError:
            data = b""
        if not data:
            break
        try:
            client.sendall(data)
        except OSError:
            break
    try:
        client.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def serve_proxy(listener, port, recorder, stop):
    while not stop.is_set():
        ready, _, _ = select.select([listener], [], [], 0.2)
        if not ready:
            continue
        client, _ = listener.accept()
        broker = socket.create_connection((BROKER_HOST, port))
        threading.Thread(target=pump_requests, args=(client, broker, recorder), daemon=True).start()
        threading.Thread(target=pump_responses, args=(broker, client), daemon=True).start()


def kcat(port, args, stdin=None, timeout=20, interrupt_after=None):
    cmd = ["kcat", "-b", f"{PROXY_HOST}:{port}", "-q"] + args
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    if interrupt_after is not None:
        # A group consumer runs until told to stop; SIGINT makes it commit and leave the group.
        time.sleep(interrupt_after)
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if proc.returncode not in (0, -signal.SIGINT):
        print(f"kcat {' '.join(args)}: exit {proc.returncode}: {err.decode()[-300:]}",
              file=sys.stderr)


LEGACY = {
    # broker.version.fallback picks the message format a client without ApiVersions sends.
    0: ["-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0"],
    1: ["-X", "api.version.request=false", "-X", "broker.version.fallback=0.10.0"],
}


def scenarios(port):
    lines = b"".join(b"key%d:value %d %s\n" % (i, i, b"x" * (i % 7) * 9) for i in range(20))
    kcat(port, ["-L"])
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        kcat(port, ["-P", "-t", f"t-{codec}", "-K:", "-z", codec, "-H", "h=1"], stdin=lines)
        kcat(port, ["-C", "-t", f"t-{codec}", "-e", "-o", "beginning"])
    for magic, fallback in LEGACY.items():
        for codec in ["none", "gzip", "snappy", "lz4"]:
            topic = f"legacy{magic}-{codec}"
            kcat(port, fallback + ["-P", "-t", topic, "-K:", "-z", codec], stdin=lines)
            kcat(port, fallback + ["-C", "-t", topic, "-e", "-o", "beginning"])
    kcat(port, ["-P", "-t", "t-idem", "-X", "enable.idempotence=true", "-K:"], stdin=lines)
    kcat(port, ["-Q", "-t", "t-none:0:1700000000000"])
    kcat(port, ["-Q", "-t", "t-none:0:-1"])
    kcat(port, ["-G", "grp", "t-none", "t-gzip", "-o", "beginning",
                "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=200"],
         interrupt_after=8)


def write_corpus(target, items):
    path = os.path.join(CORPUS, target)
    os.makedirs(path, exist_ok=True)
    for name, data in items.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def main():
    broker_bin = os.path.join(ROOT, "target", "debug", "blazemq")
    subprocess.run(["cargo", "build", "-p", "blazemq"], cwd=ROOT, check=True)
    port = free_port()
    recorder, stop = Recorder(), threading.Event()
    with tempfile.TemporaryDirectory() as log_dir:
        broker = subprocess.Popen(
            [broker_bin, "--bind-address", BROKER_HOST, "--port", str(port),
             "--advertised-host", PROXY_HOST, "--log-dir", log_dir,
             "--segment-size", str(1 << 20)],
            stdout=subprocess.DEVNULL)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((PROXY_HOST, port))
        listener.listen(64)
        proxy = threading.Thread(target=serve_proxy, args=(listener, port, recorder, stop),
                                 daemon=True)
        proxy.start()
        try:
            time.sleep(0.5)
            scenarios(port)
            time.sleep(0.5)
        finally:
            stop.set()
            proxy.join()
            listener.close()
            broker.terminate()
            broker.wait(timeout=10)
    # Captured seeds are replaced; inputs kept because they once failed (regression-*) stay.
    frames_dir = os.path.join(CORPUS, "frame")
    for name in os.listdir(frames_dir) if os.path.isdir(frames_dir) else []:
        if not name.startswith("regression-"):
            os.remove(os.path.join(frames_dir, name))
    streams = {f"stream-{k}": v for k, v in recorder.streams.items()}
    write_corpus("frame", {**recorder.frames, **streams})
    print(f"{len(recorder.frames)} frames, {len(streams)} streams captured")
    subprocess.run(["cargo", "run", "--quiet", "--manifest-path",
                    os.path.join(ROOT, "fuzz", "Cargo.toml"), "--no-default-features",
                    "--example", "seeds", "--", CORPUS], check=True)


if __name__ == "__main__":
    main()
