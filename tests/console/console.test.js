// The web console in headless Chromium, against the real broker: records and a group made by a
// real client (kafkajs) show in the page (a binary key as hex, a gzip batch decompressed, the
// group's lag); the produce form writes a record kafkajs reads back; the offset reset moves the
// group's committed offsets, as kafkajs' admin sees them. Screenshots of each view are saved
// under target/console-screenshots/.
//
// Needs Chromium (`/usr/bin/chromium`, or `$CHROMIUM`) and the npm packages of package.json.
// Without them the test is skipped, except under CI=true, where it fails.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { startBroker } = require('./broker.js');

const CI = process.env.CI === 'true';
const TIMEOUT_MS = 15_000;
const SESSION_MS = 6_000;
const SCREENSHOTS = path.resolve(__dirname, '..', '..', process.env.CARGO_TARGET_DIR || 'target', 'console-screenshots');
const TOPIC = 'console-orders';
const GROUP = 'console-group';
const BINARY_KEY = Buffer.from([0x00, 0xff, 0x10, 0x80]);

// `$CHROMIUM` if set, else Debian's or Ubuntu's path.
function chromiumPath() {
  const candidates = process.env.CHROMIUM ? [process.env.CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p) => fs.existsSync(p)) || null;
}

// What is missing to run, or null.
function missing() {
  try {
    require.resolve('playwright-core');
    require.resolve('kafkajs');
  } catch {
    return 'the npm packages are not installed (npm ci in tests/console)';
  }
  return chromiumPath() ? null : 'Chromium is not installed (apt-get install chromium)';
}

const lacking = missing();
if (lacking && CI) {
  test('the console tests can run', () => assert.fail(`${lacking}: CI must run the console tests`));
}

let broker;
let browser;
let page;
let kafka;
const pageErrors = [];

async function shot(name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

before(async () => {
  if (lacking) return;
  const { chromium } = require('playwright-core');
  const { Kafka, logLevel } = require('kafkajs');
  broker = await startBroker(['--console', 'true', '--console-write', 'true']);
  kafka = new Kafka({
    clientId: 'console-tests',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: TIMEOUT_MS,
    retry: { retries: 3, initialRetryTime: 100 },
  });
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    // Root in a container has no user namespace for Chromium's sandbox.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: TIMEOUT_MS,
  });
  page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
});

after(async () => {
  if (browser) await browser.close();
  if (broker) await broker.stop();
});

// Records in both partitions: JSON values with headers, a binary key, a gzip batch.
async function produceRecords() {
  const { CompressionTypes } = require('kafkajs');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic: TOPIC,
      messages: [
        { partition: 0, key: 'order-1', value: '{"id":1,"item":"tea","qty":2}', headers: { source: 'kafkajs' } },
        { partition: 0, key: BINARY_KEY, value: 'binary-key' },
        { partition: 0, key: null, value: 'no key' },
      ],
    });
    await producer.send({
      topic: TOPIC,
      compression: CompressionTypes.GZIP,
      messages: [1, 2, 3].map((i) => ({ partition: 1, key: `gz-${i}`, value: `compressed ${i}` })),
    });
  } finally {
    await producer.disconnect();
  }
}

// A member of GROUP reads every record, commits each, and leaves: the group is Empty.
async function consumeAndCommit(count) {
  const consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: SESSION_MS, heartbeatInterval: 300, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    let seen = 0;
    const all = new Promise((resolve) => {
      consumer.run({
        autoCommitThreshold: 1,
        eachMessage: async () => {
          seen += 1;
          if (seen >= count) resolve();
        },
      });
    });
    await withTimeout(all, `consuming ${count} records`);
  } finally {
    await consumer.disconnect();
  }
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function committed() {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [{ partitions }] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return Object.fromEntries(partitions.map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

async function sendMore(values) {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic: TOPIC, messages: values.map((value) => ({ partition: 0, value })) });
  } finally {
    await producer.disconnect();
  }
}

// The cells of the table `selector`, row by row.
async function cells(selector) {
  return page.$$eval(`${selector} tbody tr`, (rows) =>
    rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent.trim())));
}

// The tests below run in order on one broker and one page, each going on from where the last
// left the page: what kafkajs wrote first, then what the page writes.
const steps = { skip: lacking || false, timeout: 60_000 };

test('kafkajs writes records and a group commits', steps, async () => {
  await produceRecords();
  await consumeAndCommit(6);
  assert.deepEqual(await committed(), { 0: 3, 1: 3 });
  // Two records the group has not read: a lag of 2 on partition 0.
  await sendMore(['late-1', 'late-2']);
});

test('topics', steps, async () => {
  await page.goto(broker.console);
  const row = page.locator('#topics tbody tr', { hasText: TOPIC });
  await row.waitFor();
  const texts = await row.locator('td').allTextContents();
  assert.equal(texts[1], '2', `partitions: ${texts}`);
  assert.equal(texts[2], '8', `records: ${texts}`);
  await page.locator('#cluster', { hasText: 'writes enabled' }).waitFor();
  await shot('01-topics');
});

test('a topic, its records and a binary key as hex', steps, async () => {
  await page.locator('#topics a', { hasText: TOPIC }).click();
  await page.locator('#partitions tbody tr').nth(1).waitFor();
  const partitions = await cells('#partitions');
  assert.deepEqual(partitions.map((r) => [r[0], r[3]]), [['0', '5'], ['1', '3']]);
  const browse = page.locator('#browse');
  await browse.locator('select[name=mode]').selectOption('offset');
  await browse.locator('input[name=offset]').fill('0');
  await browse.getByRole('button', { name: 'Load' }).click();
  await page.locator('#records-table tbody tr', { hasText: 'late-2' }).waitFor();
  const rows = await cells('#records-table');
  assert.equal(rows.length, 5);
  assert.equal(rows[0][2], 'order-1');
  assert.match(rows[0][4], /source: kafkajs/);
  // The binary key: not text, shown as hex (after its "hex" tag).
  assert.equal(rows[1][2], 'hex00 ff 10 80');
  assert.equal(await page.locator('#records-table tbody tr').nth(1).locator('td .tag').textContent(), 'hex');
  assert.equal(rows[2][2], 'null');
  await browse.getByRole('button', { name: 'JSON' }).click();
  const value = await page.locator('#records-table tbody tr').first().locator('td').nth(3).textContent();
  assert.match(value, /\n {2}"item": "tea",\n/);
  // Nothing but the table (a missing "Next" once showed as the text "null").
  const stray = await page.locator('#records > div').evaluate((el) => [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).length);
  assert.equal(stray, 0);
  await shot('02-topic-records-json');
  await browse.getByRole('button', { name: 'TEXT' }).click();
  // Two at a time, then the next two.
  await browse.locator('input[name=limit]').fill('2');
  await browse.getByRole('button', { name: 'Load' }).click();
  await page.locator('#next', { hasText: 'Next from offset 2' }).click();
  await page.locator('#records-table tbody tr', { hasText: 'late-1' }).waitFor();
  assert.deepEqual((await cells('#records-table')).map((r) => r[0]), ['2', '3']);
  await browse.locator('input[name=limit]').fill('50');
  await browse.locator('input[name=offset]').fill('0');
  // The gzip batch, decompressed.
  await browse.locator('select[name=partition]').selectOption('1');
  await browse.getByRole('button', { name: 'Load' }).click();
  await page.locator('#records-table tbody tr', { hasText: 'compressed 3' }).waitFor();
  assert.deepEqual((await cells('#records-table')).map((r) => r[2]), ['gz-1', 'gz-2', 'gz-3']);
});

test('the produce form', steps, async () => {
  const form = page.locator('#produce');
  await form.locator('select[name=partition]').selectOption('0');
  await form.locator('input[name=key]').fill('from-the-page');
  await form.locator('textarea[name=value]').fill('hello from the console');
  await form.locator('textarea[name=headers]').fill('via=console');
  await form.getByRole('button', { name: 'Send' }).click();
  await form.locator('.notice', { hasText: 'Written to partition 0 at offset 5.' }).waitFor();
  await shot('03-produced');
  // kafkajs reads it back.
  const consumer = kafka.consumer({ groupId: `${GROUP}-reader`, sessionTimeout: SESSION_MS, heartbeatInterval: 300, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const got = new Promise((resolve) => {
      consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (partition === 0 && String(message.offset) === '5') resolve(message);
        },
      });
    });
    const message = await withTimeout(got, 'reading the record produced in the page');
    assert.equal(message.key.toString(), 'from-the-page');
    assert.equal(message.value.toString(), 'hello from the console');
    assert.equal(message.headers.via.toString(), 'console');
  } finally {
    await consumer.disconnect();
  }
});

test('the group, its lag and an offset reset', steps, async () => {
  await page.locator('[data-nav=groups]').click();
  const row = page.locator('#groups tbody tr', { hasText: GROUP }).first();
  await row.waitFor();
  assert.match(await row.textContent(), /Empty/);
  await row.locator('a').click();
  await page.locator('#offsets tbody tr').nth(1).waitFor();
  const offsets = await cells('#offsets');
  // Topic, partition, committed, end offset, lag: 2 from kafkajs, 1 from the page.
  assert.deepEqual(offsets.map((r) => r.slice(0, 5)), [
    [TOPIC, '0', '3', '6', '3'],
    [TOPIC, '1', '3', '3', '0'],
  ]);
  assert.equal(await page.locator('#total-lag').textContent(), 'total lag 3');
  await shot('04-group-lag');
  const reset = page.locator('#reset');
  await reset.locator('select[name=topic]').selectOption(TOPIC);
  await reset.locator('select[name=to]').selectOption('earliest');
  await reset.getByRole('button', { name: 'Reset' }).click();
  await page.locator('.notice', { hasText: 'Reset console-orders: 0 → 0, 1 → 0.' }).waitFor();
  const moved = await cells('#offsets');
  assert.deepEqual(moved.map((r) => r[2]), ['0', '0']);
  assert.equal(await page.locator('#total-lag').textContent(), 'total lag 9');
  await shot('05-group-reset');
  assert.deepEqual(await committed(), { 0: 0, 1: 0 });
});

test('broker config and live throughput', steps, async () => {
  await page.locator('[data-nav=config]').click();
  await page.locator('#broker-configs tbody tr', { hasText: 'auto.create.topics.enable' }).waitFor();
  await page.locator('.filter').fill('retention');
  const visible = await page.locator('#broker-configs tbody tr:visible').allTextContents();
  assert.ok(visible.length > 0 && visible.every((r) => r.includes('retention')), `${visible}`);
  await shot('06-broker-config');
  await page.locator('[data-nav=topics]').click();
  await page.locator('#topics tbody tr').first().waitFor();
  // 200 records written between two polls (2 s apart) show as a rate of 50 to 200 records/s.
  await sendMore(Array.from({ length: 200 }, (_, i) => `burst-${i}`));
  const row = page.locator('#topics tbody tr', { hasText: TOPIC });
  await row.locator('td').nth(2).filter({ hasText: /^209$/ }).waitFor();
  const rate = Number((await row.locator('td').nth(4).textContent()).replace(/,/g, ''));
  assert.ok(rate >= 50 && rate <= 200, `records/s of ${TOPIC}: ${rate}`);
  const total = Number((await page.locator('#records-rate').textContent()).replace(/,/g, ''));
  assert.ok(total >= rate, `records/s in total: ${total}`);
  await shot('07-throughput');
});

test('the page logged no errors', steps, () => {
  assert.deepEqual(pageErrors, []);
});

test('without console_write the page offers no writes and the API refuses them', steps, async () => {
  const readOnly = await startBroker(['--console', 'true']);
  const context = await browser.newContext();
  try {
    const { Kafka, logLevel } = require('kafkajs');
    const client = new Kafka({ clientId: 'console-tests', brokers: [readOnly.bootstrap], logLevel: logLevel.NOTHING });
    const readOnlyAdmin = client.admin();
    await readOnlyAdmin.connect();
    try {
      await readOnlyAdmin.createTopics({ topics: [{ topic: 'kept', numPartitions: 1 }], waitForLeaders: true });
    } finally {
      await readOnlyAdmin.disconnect();
    }
    const viewer = await context.newPage();
    viewer.setDefaultTimeout(TIMEOUT_MS);
    await viewer.goto(`${readOnly.console}/#/topics/kept`);
    await viewer.locator('#cluster', { hasText: 'read-only' }).waitFor();
    await viewer.locator('#partitions tbody tr').first().waitFor();
    assert.equal(await viewer.locator('#produce').count(), 0);
    const status = await viewer.evaluate(async () => {
      const r = await fetch('/api/topics/kept/messages', { method: 'POST', body: new URLSearchParams({ value: 'x' }) });
      return r.status;
    });
    assert.equal(status, 403);
  } finally {
    await context.close();
    await readOnly.stop();
  }
});
