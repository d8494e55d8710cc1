// Starts the real `blazemq` binary for a test: a free port on 127.0.0.1, a fresh data directory,
// readiness on the `Broker ready` line (bounded), and SIGKILL to its process group on stop.
//
// The binary is found as the Rust and Python harnesses find it: `$BLAZEMQ_BIN`, else
// `$CARGO_TARGET_DIR/debug/blazemq`, else `<repo>/target/debug/blazemq`. With
// `BLAZEMQ_BOOTSTRAP=host:port` nothing is started: the tests use the broker already listening
// there (e.g. Apache Kafka from `scripts/kafka-reference.sh run`), so every name a test creates is
// made unique with `unique()`.
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const READY_LINE = 'Broker ready';
// The HTTP listener's address (`--metrics-listener`), as the broker logs it.
const LISTENER_LINE = /metrics listener .*address=(127\.0\.0\.1:\d+)/;
const READY_TIMEOUT_MS = 10_000;
const REPO = path.resolve(__dirname, '..', '..');

// Brokers still running; killed if the test process exits without stopping them.
const live = new Set();
process.on('exit', () => {
  for (const proc of live) {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

function brokerBinary() {
  if (process.env.BLAZEMQ_BIN) return process.env.BLAZEMQ_BIN;
  const target = path.resolve(REPO, process.env.CARGO_TARGET_DIR || 'target');
  const binary = path.join(target, 'debug', 'blazemq');
  if (!fs.existsSync(binary)) {
    throw new Error(
      `${binary} is missing: run \`cargo build -p blazemq\` first (scripts/test.sh does)`,
    );
  }
  return binary;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

class Broker {
  constructor(proc, port, dir, output) {
    this.proc = proc;
    this.port = port;
    this.dir = dir;
    this.output = output;
    // `http://127.0.0.1:PORT` of the HTTP listener, when one was asked for.
    this.console = null;
  }

  get bootstrap() {
    return `127.0.0.1:${this.port}`;
  }

  logs() {
    return this.output.join('');
  }

  // SIGKILL to the broker's whole process group, then removes its data directory.
  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      try {
        process.kill(-this.proc.pid, 'SIGKILL');
      } catch {
        // Already gone: the exit event has fired or is about to.
      }
      await exited;
    }
    live.delete(this.proc);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Resolves once the broker is ready (and, with `--metrics-listener` among `extraArgs`, its
// listener's address is logged), or with `ready: false` if that does not come in time.
function spawnOnce(port, dir, extraArgs) {
  const args = ['--port', String(port), '--log-dir', dir, ...extraArgs];
  const wantsListener = extraArgs.includes('--metrics-listener');
  // Its own process group (detached), so stop() reaches anything it started.
  const proc = spawn(brokerBinary(), args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const output = [];
  const broker = new Broker(proc, port, dir, output);
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), READY_TIMEOUT_MS);
    let done = false;
    function finish(ready) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ready, broker });
    }
    function onOutput(chunk) {
      output.push(chunk.toString());
      const text = output.join('');
      const listener = LISTENER_LINE.exec(text);
      if (listener) broker.console = `http://${listener[1]}`;
      if (text.includes(READY_LINE) && (!wantsListener || listener)) finish(true);
    }
    proc.stdout.on('data', onOutput);
    proc.stderr.on('data', onOutput);
    proc.once('exit', () => finish(false));
    proc.once('error', () => finish(false));
  });
}

// A broker started outside the tests: nothing to stop.
class ExternalBroker {
  constructor(bootstrap) {
    this.bootstrap = bootstrap;
  }

  logs() {
    return `(the broker at ${this.bootstrap} was started outside the tests)`;
  }

  async stop() {}
}

// `prefix` with a random suffix: a name no other test, or earlier run against the same external
// broker, has used.
function unique(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

// Starts a broker with `extraArgs` (settings); a port taken between the probe and the bind is
// retried on a new one.
async function startBroker(extraArgs = []) {
  const external = (process.env.BLAZEMQ_BOOTSTRAP || '').trim();
  if (external) return new ExternalBroker(external);
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blazemq-js-'));
    const { ready, broker } = await spawnOnce(await freePort(), dir, extraArgs);
    if (ready) return broker;
    last = broker;
    await broker.stop();
  }
  throw new Error(`broker did not start:\n${last.logs()}`);
}

module.exports = { startBroker, unique };
