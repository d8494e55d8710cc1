// The console tests' broker: the kafkajs suite's (tests/js/broker.js: the binary from
// `$BLAZEMQ_BIN`, `$CARGO_TARGET_DIR` or `<repo>/target`, a free Kafka port, a fresh data
// directory, SIGKILL to its process group on stop), with the HTTP listener on any free port;
// `broker.console` is its address, read from the `metrics listener` log line.
'use strict';

const kafkajsSuite = require('../js/broker.js');

// A broker with its HTTP listener (`extraArgs` add settings, such as `--console true`).
async function startBroker(extraArgs = []) {
  return kafkajsSuite.startBroker(['--metrics-listener', '127.0.0.1:0', ...extraArgs]);
}

module.exports = { startBroker };
