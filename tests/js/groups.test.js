// Consumer groups with kafkajs: a group member run with eachMessage receives records produced
// before and after it joined, commits them, and the next member of the group resumes after them.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const { startBroker, unique } = require('./broker.js');

const TIMEOUT_MS = 15_000;
// Kafka's default group.min.session.timeout.ms is 6 s: clients may not ask for less.
const SESSION_MS = 6_000;

function client(broker) {
  return new Kafka({
    clientId: 'blazemq-js-tests',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: TIMEOUT_MS,
    retry: { retries: 3, initialRetryTime: 100 },
  });
}

async function produce(kafka, topic, values) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
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

async function startMember(kafka, groupId, topic, received, joined) {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: SESSION_MS,
    heartbeatInterval: 300,
    // disconnect() waits for the fetch in flight: keep the broker's long poll short.
    maxWaitTimeInMs: 500,
  });
  if (joined) consumer.on(consumer.events.GROUP_JOIN, joined);
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      received.push(`${partition}:${message.offset}:${message.value.toString()}`);
    },
  });
  return consumer;
}

const TITLE = 'a group member receives records from before and after it joined, then resumes';

test(TITLE, { timeout: 60_000 }, async (t) => {
  const broker = await startBroker();
  t.after(() => broker.stop());
  const kafka = client(broker);
  const topic = unique('js-group-topic');
  const groupId = unique('my-group');

  await produce(kafka, topic, ['before-1', 'before-2']);

  const received = [];
  let joinedResolve;
  const joined = new Promise((resolve) => { joinedResolve = resolve; });
  const first = await startMember(kafka, groupId, topic, received, (event) => joinedResolve(event));
  let timer;
  const event = await Promise.race([
    joined,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('no GROUP_JOIN')), TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.deepEqual(event.payload.memberAssignment, { [topic]: [0] });
  await waitFor(received, 2, 'records produced before joining');
  await produce(kafka, topic, ['after-1']);
  await waitFor(received, 3, 'a record produced after joining');
  assert.deepEqual(received, ['0:0:before-1', '0:1:before-2', '0:2:after-1']);
  // disconnect() commits what eachMessage resolved, then leaves the group.
  await first.disconnect();

  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = [{ partition: 0, offset: '3', metadata: null }];
    assert.deepEqual(offsets, [{ topic, partitions: committed }]);
    // Only this test's group: a shared external broker lists others' too.
    const { groups } = await admin.listGroups();
    assert.deepEqual(groups.filter((g) => g.groupId === groupId), [{ groupId, protocolType: 'consumer' }]);
  } finally {
    await admin.disconnect();
  }

  await produce(kafka, topic, ['later']);
  const again = [];
  const second = await startMember(kafka, groupId, topic, again);
  await waitFor(again, 1, 'a record produced while no member ran');
  // A short grace period: anything delivered twice would arrive now.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await second.disconnect();
  assert.deepEqual(again, ['0:3:later']);
});
