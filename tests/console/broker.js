// Starts the real `blazemq` binary with its web console, as tests/js/broker.js starts it for the
// kafkajs suite (the binary from `$BLAZEMQ_BIN`, `$CARGO_TARGET_DIR` or `<repo>/target`, a free
// Kafka port, a fresh data directory, SIGKILL to its process group on stop), with the metrics
// listener on any free port: its address is read from the `metrics listener` log line.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const READY_TIMEOUT_MS = 10_000;
const REPO = path.resolve(__dirname, '..', '..');
const LISTENER_LINE = /metrics listener .*address=(127\.0\.0\.1:\d+)/;

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
    throw new Error(`${binary} is missing: run \`cargo build -p blazemq\` first (scripts/test.sh does)`);
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
    this.console = null;
  }

  get bootstrap() {
    return `127.0.0.1:${this.port}`;
  }

  logs() {
    return this.output.join('');
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      try {
        process.kill(-this.proc.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await exited;
    }
    live.delete(this.proc);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Resolves with the broker once it is ready and its console's address is logged; with `null`
// (the broker stopped) if either does not come within READY_TIMEOUT_MS.
function spawnOnce(port, dir, extraArgs) {
  const args = ['--port', String(port), '--log-dir', dir, '--metrics-listener', '127.0.0.1:0', ...extraArgs];
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
      if (listener && text.includes('Broker ready')) finish(true);
    }
    proc.stdout.on('data', onOutput);
    proc.stderr.on('data', onOutput);
    proc.once('exit', () => finish(false));
    proc.once('error', () => finish(false));
  });
}

// A broker with its console (`extraArgs` add settings); a Kafka port taken between the probe and
// the bind is retried on a new one.
async function startBroker(extraArgs = []) {
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blazemq-console-'));
    const { ready, broker } = await spawnOnce(await freePort(), dir, extraArgs);
    if (ready) return broker;
    last = broker;
    await broker.stop();
  }
  throw new Error(`broker did not start:\n${last.logs()}`);
}

module.exports = { startBroker };
