// Topic administration with kafkajs: createPartitions grows a topic whose new partition takes and
// serves records, and alterConfigs (AlterConfigs: the whole set) shows in describeConfigs.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { ConfigResourceTypes, Kafka, logLevel } = require('kafkajs');

const { startBroker, unique } = require('./broker.js');

const TIMEOUT_MS = 15_000;

function client(broker) {
  return new Kafka({
    clientId: 'blazemq-js-admin-tests',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: TIMEOUT_MS,
    retry: { retries: 3, initialRetryTime: 100 },
  });
}

async function topicConfigs(admin, topic, names) {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
  });
  const entries = described.resources[0].configEntries;
  return Object.fromEntries(entries.map((e) => [e.configName, e]));
}

test('createPartitions adds a partition that takes and serves records', async () => {
  const broker = await startBroker();
  const kafka = client(broker);
  const admin = kafka.admin();
  const topic = unique('grow');
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.deepEqual(topics[0].partitions.map((p) => p.partitionId).sort(), [0, 1, 2]);

    // Shrinking is refused with INVALID_PARTITIONS.
    await assert.rejects(
      admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] }),
      (e) => e.type === 'INVALID_PARTITIONS',
    );

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'on-two', partition: 2 }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: unique('grow-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = [];
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push([partition, message.value.toString()]);
      },
    });
    const started = Date.now();
    while (received.length < 1 && Date.now() - started < TIMEOUT_MS) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await consumer.disconnect();
    assert.deepEqual(received, [[2, 'on-two']]);
  } finally {
    await admin.disconnect();
    await broker.stop();
  }
});

test('alterConfigs replaces the topic configs and describeConfigs shows them', async () => {
  const broker = await startBroker();
  const admin = client(broker).admin();
  const topic = unique('cfg');
  try {
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, configEntries: [{ name: 'retention.ms', value: '1000' }] }],
    });
    const result = await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
    assert.equal(result.resources[0].errorCode, 0);
    const configs = await topicConfigs(admin, topic, ['cleanup.policy', 'retention.ms']);
    assert.equal(configs['cleanup.policy'].configValue, 'compact');
    assert.equal(configs['cleanup.policy'].isDefault, false);
    // AlterConfigs sets the whole set: retention.ms, left out, is back to the default.
    assert.equal(configs['retention.ms'].configValue, '604800000');
    assert.equal(configs['retention.ms'].isDefault, true);
  } finally {
    await admin.disconnect();
    await broker.stop();
  }
});
