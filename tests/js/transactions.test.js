// Transactions with kafkajs: a transactional producer (idempotent, one request in flight) aborts
// one transaction and commits the next; a consumer reading committed records (readUncommitted:
// false, kafkajs' default) gets only the committed ones, once each, in order, and one reading
// uncommitted records gets the aborted ones too, never the markers; sendOffsets commits a group's
// offsets with the transaction, and an aborted transaction's offsets never become the group's.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Kafka, logLevel } = require('kafkajs');

const { startBroker, unique } = require('./broker.js');

const TIMEOUT_MS = 15_000;
// Kafka's default group.min.session.timeout.ms is 6 s: clients may not ask for less.
const SESSION_MS = 6_000;

function client(broker) {
  return new Kafka({
    clientId: 'blazemq-js-transactions-tests',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: TIMEOUT_MS,
    // A broker without transactions answers InitProducerId COORDINATOR_NOT_AVAILABLE, retriable:
    // a few quick retries bound what each test costs there.
    retry: { retries: 3, initialRetryTime: 100 },
  });
}

async function createTopics(kafka, topics) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

function transactionalProducer(kafka, transactionalId) {
  return kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 10_000,
  });
}

// Each value to partition 0, in one send: their offsets follow one another.
function messages(values) {
  return values.map((value) => ({ value, partition: 0 }));
}

// Resolves once `received` holds `count` values; rejects after TIMEOUT_MS.
function waitFor(received, count, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (received.length >= count) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > TIMEOUT_MS) {
        clearInterval(timer);
        reject(new Error(`${what}: only ${JSON.stringify(received)} within ${TIMEOUT_MS} ms`));
      }
    }, 20);
  });
}

// What a new member of `groupId` receives of `topic` (from the group's committed offset, else the
// beginning) as "offset:value", once it has `count` records and nothing more came for a moment.
async function consume(kafka, { groupId, topic, readUncommitted, count }) {
  const consumer = kafka.consumer({
    groupId,
    readUncommitted,
    sessionTimeout: SESSION_MS,
    heartbeatInterval: 300,
    // disconnect() waits for the fetch in flight: keep the broker's long poll short.
    maxWaitTimeInMs: 500,
  });
  const received = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push(`${message.offset}:${message.value.toString()}`);
      },
    });
    await waitFor(received, count, `${groupId} reading ${topic}`);
    // A short grace period: a record that should not be delivered would arrive now.
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    await consumer.disconnect();
  }
  return received;
}

test('an aborted transaction is read only uncommitted, a committed one once in order', {
  timeout: 60_000,
}, async (t) => {
  const broker = await startBroker();
  t.after(() => broker.stop());
  const kafka = client(broker);
  const topic = unique('js-txn');
  await createTopics(kafka, [topic]);

  const producer = transactionalProducer(kafka, unique('js-txn-id'));
  await producer.connect();
  try {
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: messages(['a0', 'a1']) });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: messages(['c0', 'c1']) });
    await committed.commit();
  } finally {
    await producer.disconnect();
  }

  // a0 a1 at 0 and 1, the abort marker at 2, c0 c1 at 3 and 4, the commit marker at 5.
  const readCommitted = await consume(kafka, {
    groupId: unique('js-read-committed'), topic, readUncommitted: false, count: 2,
  });
  assert.deepEqual(readCommitted, ['3:c0', '4:c1']);
  const readUncommitted = await consume(kafka, {
    groupId: unique('js-read-uncommitted'), topic, readUncommitted: true, count: 4,
  });
  assert.deepEqual(readUncommitted, ['0:a0', '1:a1', '3:c0', '4:c1']);
});

async function committedOffset(admin, groupId, topic) {
  const [{ partitions }] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return partitions[0].offset;
}

// The group's committed offset once it is `expected`: the commit marker reaches the group
// coordinator after the commit returns.
async function waitForCommittedOffset(admin, groupId, topic, expected) {
  const started = Date.now();
  for (;;) {
    const offset = await committedOffset(admin, groupId, topic);
    if (offset === expected || Date.now() - started > TIMEOUT_MS) return offset;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('sendOffsets commits the group offsets with the transaction, never an aborted one', {
  timeout: 60_000,
}, async (t) => {
  const broker = await startBroker();
  t.after(() => broker.stop());
  const kafka = client(broker);
  const source = unique('js-txn-in');
  const sink = unique('js-txn-out');
  const groupId = unique('js-txn-group');
  await createTopics(kafka, [source, sink]);

  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: source, messages: messages(['i0', 'i1', 'i2', 'i3', 'i4']) });
  await plain.disconnect();

  const admin = kafka.admin();
  await admin.connect();
  const producer = transactionalProducer(kafka, unique('js-txn-id'));
  try {
    await producer.connect();
    // Processed i0..i2: their output and the group's next offset, 3, in one transaction.
    const first = await producer.transaction();
    await first.send({ topic: sink, messages: messages(['I0', 'I1', 'I2']) });
    await first.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: source, partitions: [{ partition: 0, offset: '3' }] }],
    });
    assert.equal(await committedOffset(admin, groupId, source), '-1', 'pending, not committed');
    await first.commit();
    assert.equal(await waitForCommittedOffset(admin, groupId, source, '3'), '3');

    // Processed i3 i4, then aborted: neither their output nor offset 5 is kept.
    const second = await producer.transaction();
    await second.send({ topic: sink, messages: messages(['I3', 'I4']) });
    await second.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: source, partitions: [{ partition: 0, offset: '5' }] }],
    });
    await second.abort();
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }

  // The group's next member resumes at 3, where the committed transaction left it.
  const resumed = await consume(kafka, { groupId, topic: source, readUncommitted: false, count: 2 });
  assert.deepEqual(resumed, ['3:i3', '4:i4']);
  // I0..I2 at 0..2, the commit marker at 3, the aborted I3 I4 at 4 and 5.
  const output = await consume(kafka, {
    groupId: unique('js-txn-reader'), topic: sink, readUncommitted: false, count: 3,
  });
  assert.deepEqual(output, ['0:I0', '1:I1', '2:I2']);
});
