// The BlazeMQ console. Reads the broker's JSON API (/api/...) and renders one view per hash
// route: #/topics, #/topics/NAME, #/groups, #/groups/ID, #/config. Plain DOM, no framework;
// data is only ever set as text, never as HTML.
'use strict';

const POLL_MS = 2000;
const state = { overview: null, topics: [], rates: new Map(), previous: null, started: false };
let renderToken = 0;

// h('tag.class', {attr: value, onclick: fn}, ...children): an element. Strings are text nodes.
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const enc = encodeURIComponent;

// GET `path`; or with `form`, POST it with the write token of the overview.
async function api(path, form) {
  let init = {};
  if (form) {
    const body = new URLSearchParams(form);
    body.set('token', (state.overview && state.overview.token) || '');
    init = { method: 'POST', body };
  }
  const response = await fetch(path, init);
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Error(`${path}: HTTP ${response.status}`);
  }
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function fmtNum(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
}

function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function fmtRate(n) {
  return n === null || n === undefined ? '–' : n < 10 ? n.toFixed(1) : fmtNum(Math.round(n));
}

function fmtTime(ms) {
  return ms < 0 ? '–' : new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function notice(text, error) {
  return h(error ? 'div.notice.error' : 'div.notice', { role: error ? 'alert' : 'status' }, text);
}

function table(headers, rows, attrs) {
  const head = headers.map((x) => {
    const [label, cls] = Array.isArray(x) ? x : [x, ''];
    return h(cls ? `th.${cls}` : 'th', {}, label);
  });
  return h('table', attrs, h('thead', {}, h('tr', {}, head)), h('tbody', {}, rows));
}

function td(value, cls) {
  return h(cls ? `td.${cls}` : 'td', {}, value);
}

// ---- record keys and values: hex from the API, shown as text, JSON or hex

function bytesOf(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

// The bytes as text if they are UTF-8 without control characters (other than tab and newlines);
// null if they look binary.
function textOf(hex) {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytesOf(hex));
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text;
  } catch {
    return null;
  }
}

function shown(hex, format) {
  if (hex === null) return h('span.null', {}, 'null');
  if (format !== 'hex') {
    const text = textOf(hex);
    if (text !== null) {
      if (format === 'json') {
        try {
          return JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          // Not JSON: shown as text.
        }
      }
      return text;
    }
  }
  return [h('span.tag', {}, 'hex'), hex.replace(/(..)(?!$)/g, '$1 ')];
}

// ---- polling: the cluster line and throughput, from /api/overview and /api/topics

async function poll() {
  try {
    const [overview, topics] = await Promise.all([api('/api/overview'), api('/api/topics')]);
    state.overview = overview;
    state.topics = topics.topics;
    measure(topics.topics, performance.now());
    showCluster();
    // The first poll shows the first view; later ones refresh the topic list's rates.
    if (!state.started || (route()[0] === 'topics' && !route()[1])) render();
    state.started = true;
  } catch (e) {
    document.getElementById('cluster').replaceChildren(h('span', {}, `Broker unreachable: ${e.message}`));
  }
  setTimeout(poll, POLL_MS);
}

// Records/s from the growth of end offsets, bytes/s from the growth of sizes, per topic and in
// total, between this poll and the last.
function measure(topics, now) {
  const current = new Map(topics.map((t) => [t.name, { end: t.end_offsets, size: t.size_bytes }]));
  const previous = state.previous;
  if (previous) {
    const seconds = (now - previous.at) / 1000;
    let records = 0;
    let bytes = 0;
    for (const [name, c] of current) {
      const p = previous.topics.get(name) || c;
      const rate = { records: Math.max(0, c.end - p.end) / seconds, bytes: Math.max(0, c.size - p.size) / seconds };
      state.rates.set(name, rate);
      records += rate.records;
      bytes += rate.bytes;
    }
    document.getElementById('records-rate').textContent = fmtRate(records);
    document.getElementById('bytes-rate').textContent = fmtBytes(Math.round(bytes));
  }
  state.previous = { at: now, topics: current };
}

function showCluster() {
  const o = state.overview;
  const brokers = o.brokers.map((b) => `broker ${b.node_id} at ${b.host}:${b.port}`).join(', ');
  document.getElementById('cluster').replaceChildren(
    h('span', {}, `Cluster ${o.cluster_id || '–'}`),
    h('span', {}, brokers),
    h('span', {}, `BlazeMQ ${o.version}`),
    h('span', {}, `${o.topics} topics, ${o.partitions} partitions, ${o.groups} groups`),
    h('span', {}, o.write ? 'writes enabled' : 'read-only'),
  );
}

// ---- routing

function route() {
  const hash = location.hash.replace(/^#\/?/, '') || 'topics';
  return hash.split('/').map(decodeURIComponent);
}

async function render() {
  const token = ++renderToken;
  const [section, name] = route();
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === section);
  }
  let node;
  try {
    if (section === 'topics' && name) node = await topicView(name);
    else if (section === 'groups' && name) node = await groupView(name);
    else if (section === 'groups') node = await groupsView();
    else if (section === 'config') node = await configView();
    else node = topicsView();
  } catch (e) {
    node = notice(e.message, true);
  }
  if (token === renderToken) document.getElementById('view').replaceChildren(node);
}

// ---- topics

function topicsView() {
  const rows = state.topics.map((t) => {
    const rate = state.rates.get(t.name);
    return h('tr', {},
      td(h('a', { href: `#/topics/${enc(t.name)}` }, t.name), t.internal ? 'muted' : ''),
      td(fmtNum(t.partitions), 'num'),
      td(fmtNum(t.end_offsets - t.log_start_offsets), 'num'),
      td(fmtBytes(t.size_bytes), 'num'),
      td(rate ? fmtRate(rate.records) : '–', 'num'),
      td(rate ? `${fmtBytes(Math.round(rate.bytes))}/s` : '–', 'num'));
  });
  return h('div', {},
    h('h1', {}, 'Topics', h('small', {}, `${state.topics.length}`)),
    state.topics.length === 0
      ? h('p.muted', {}, 'No topics yet.')
      : table(['Topic', ['Partitions', 'num'], ['Records', 'num'], ['Size', 'num'],
        ['Records/s', 'num'], ['Bytes/s', 'num']], rows, { id: 'topics' }));
}

async function topicView(name) {
  const topic = await api(`/api/topics/${enc(name)}`);
  const rows = topic.partitions.map((p) => h('tr', {},
    td(p.partition, 'num'), td(p.leader, 'num'), td(fmtNum(p.log_start_offset), 'num'),
    td(fmtNum(p.end_offset), 'num'), td(fmtNum(p.end_offset - p.log_start_offset), 'num'),
    td(fmtBytes(p.size_bytes), 'num')));
  const browse = browser(topic);
  const write = state.overview && state.overview.write;
  return h('div', {},
    h('h1', {}, name, h('small', {}, topic.internal ? 'internal topic' : `id ${topic.topic_id}`)),
    table([['Partition', 'num'], ['Leader', 'num'], ['Log start', 'num'], ['End offset', 'num'],
      ['Records', 'num'], ['Size', 'num']], rows, { id: 'partitions' }),
    h('h2', {}, 'Messages'),
    browse.node,
    write ? h('h2', {}, 'Produce a message') : null,
    write ? produceForm(topic, browse.load) : null,
    h('details', {}, h('summary', {}, h('h2', {}, `Configuration (${topic.configs.length})`)),
      configTable(topic.configs, 'topic-configs')));
}

function partitionSelect(topic, name, extra) {
  return h('select', { name },
    extra ? h('option', { value: '' }, extra) : null,
    topic.partitions.map((p) => h('option', { value: p.partition }, `${p.partition}`)));
}

// The message browser of one topic: from the latest, an offset or a time; keys and values as
// text, pretty-printed JSON, or hex.
function browser(topic) {
  let format = 'text';
  let last = null;
  const results = h('div', { id: 'records' });
  const form = h('form.row', { id: 'browse' },
    h('label', {}, 'Partition', partitionSelect(topic, 'partition')),
    h('label', {}, 'From', h('select', { name: 'mode' },
      h('option', { value: 'latest' }, 'the latest'),
      h('option', { value: 'offset' }, 'offset'),
      h('option', { value: 'timestamp' }, 'time'))),
    h('label', { 'data-mode': 'offset', hidden: true }, 'Offset',
      h('input', { name: 'offset', type: 'number', min: 0, placeholder: '0' })),
    h('label', { 'data-mode': 'timestamp', hidden: true }, 'Time (local)',
      h('input', { name: 'time', type: 'datetime-local', step: 1 })),
    h('label', {}, 'Limit', h('input', { name: 'limit', type: 'number', min: 1, max: 500, value: 50 })),
    h('button', { type: 'submit' }, 'Load'),
    h('span.seg', {}, ['text', 'json', 'hex'].map((f) => h(`button${f === format ? '.on' : ''}`, {
      type: 'button', 'data-format': f,
      onclick: (e) => {
        format = f;
        for (const b of form.querySelectorAll('[data-format]')) b.classList.toggle('on', b === e.target);
        if (last) show();
      },
    }, f.toUpperCase()))));
  // Only the input the chosen start needs.
  form.mode.addEventListener('change', () => {
    for (const label of form.querySelectorAll('[data-mode]')) label.hidden = label.dataset.mode !== form.mode.value;
  });
  // The records, and a way on to the next ones while there are more.
  function show() {
    const more = last.records.length > 0 && last.next_offset < last.end_offset;
    results.replaceChildren(h('div', {}, recordsTable(last, format), more ? h('button', {
      type: 'button', id: 'next',
      onclick: () => {
        form.mode.value = 'offset';
        form.mode.dispatchEvent(new Event('change'));
        form.offset.value = last.next_offset;
        load();
      },
    }, `Next from offset ${fmtNum(last.next_offset)}`) : null));
  }
  async function load() {
    const q = new URLSearchParams({ partition: form.partition.value, limit: form.limit.value });
    const mode = form.mode.value;
    if (mode === 'offset') q.set('offset', form.offset.value || '0');
    if (mode === 'timestamp' && form.time.value) q.set('timestamp', new Date(form.time.value).getTime());
    try {
      last = await api(`/api/topics/${enc(topic.name)}/messages?${q}`);
      show();
    } catch (e) {
      results.replaceChildren(notice(e.message, true));
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  load();
  return { node: h('div', {}, form, results), load };
}

function recordsTable(batch, format) {
  const summary = h('p.muted', {}, `Partition ${batch.partition}: offsets ${fmtNum(batch.log_start_offset)}`
    + ` to ${fmtNum(batch.end_offset)}; showing ${batch.records.length} from ${fmtNum(batch.from)}.`);
  if (batch.records.length === 0) return h('div', {}, summary);
  const rows = batch.records.map((r) => h('tr', {},
    td(r.offset, 'num'),
    td(fmtTime(r.timestamp), 'mono'),
    td(shown(r.key, format), 'data'),
    td(shown(r.value, format), 'data'),
    td(r.headers.map((x) => h('div', {}, `${x.key}: `, shown(x.value, format))), 'data')));
  return h('div', {}, summary,
    table([['Offset', 'num'], 'Timestamp', 'Key', 'Value', 'Headers'], rows, { id: 'records-table' }));
}

function produceForm(topic, reload) {
  const status = h('div');
  const form = h('form.stack.panel', { id: 'produce' },
    h('label', {}, 'Partition', partitionSelect(topic, 'partition', 'by key (murmur2), else any')),
    h('label', {}, 'Key (empty: none)', h('input', { name: 'key', autocomplete: 'off' })),
    h('label', {}, 'Value', h('textarea', { name: 'value', rows: 3 })),
    h('label', {}, 'Headers (name=value, one per line)', h('textarea', { name: 'headers', rows: 2 })),
    h('button', { type: 'submit' }, 'Send'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api(`/api/topics/${enc(topic.name)}/messages`, new FormData(form));
      status.replaceChildren(notice(`Written to partition ${r.partition} at offset ${r.offset}.`));
      reload();
    } catch (err) {
      status.replaceChildren(notice(err.message, true));
    }
  });
  return form;
}

function configTable(configs, id) {
  const filter = h('input.filter', { type: 'search', placeholder: 'Filter by name or value' });
  const rows = configs.map((c) => h('tr', { 'data-search': `${c.name} ${c.value ?? ''}`.toLowerCase() },
    td(c.name, 'mono'),
    td(c.sensitive ? h('span.null', {}, 'sensitive') : c.value ?? h('span.null', {}, 'null'), 'data'),
    td(c.source, 'muted')));
  filter.addEventListener('input', () => {
    const text = filter.value.toLowerCase();
    for (const row of rows) row.hidden = !row.dataset.search.includes(text);
  });
  return h('div', {}, filter, table(['Name', 'Value', 'Source'], rows, { id }));
}

// ---- consumer groups

async function groupsView() {
  const { groups } = await api('/api/groups');
  const rows = groups.map((g) => h('tr', {},
    td(h('a', { href: `#/groups/${enc(g.group_id)}` }, g.group_id)),
    td(g.state, `state ${g.state}`), td(g.protocol_type || '–')));
  return h('div', {},
    h('h1', {}, 'Consumer groups', h('small', {}, `${groups.length}`)),
    groups.length === 0 ? h('p.muted', {}, 'No consumer groups yet.')
      : table(['Group', 'State', 'Protocol type'], rows, { id: 'groups' }));
}

async function groupView(id) {
  const g = await api(`/api/groups/${enc(id)}`);
  const members = g.members.map((m) => h('tr', {},
    td(m.member_id, 'mono'), td(m.client_id), td(m.client_host),
    td(m.assignment === null ? h('span.null', {}, 'not a consumer protocol assignment')
      : m.assignment.map((a) => h('div', {}, `${a.topic}: ${a.partitions.join(', ')}`)))));
  const offsets = g.offsets.map((o) => h('tr', {},
    td(o.topic), td(o.partition, 'num'), td(fmtNum(o.committed), 'num'), td(fmtNum(o.end_offset), 'num'),
    td(fmtNum(o.lag), o.lag > 0 ? 'num lag behind' : 'num lag'), td(o.client_id || '–')));
  return h('div', {},
    h('h1', {}, id, h('small.state', { class: `state ${g.state}`, id: 'group-state' }, g.state)),
    h('p.muted', {}, `Protocol ${g.protocol_type || '–'} ${g.protocol || ''} · ${g.members.length} members · `,
      h('span', { id: 'total-lag' }, `total lag ${fmtNum(g.lag)}`), ' · ',
      h('a', { href: '#', onclick: (e) => { e.preventDefault(); render(); } }, 'refresh')),
    h('h2', {}, 'Members'),
    members.length === 0 ? h('p.muted', {}, 'No members.')
      : table(['Member', 'Client id', 'Host', 'Assignment'], members, { id: 'members' }),
    h('h2', {}, 'Offsets'),
    offsets.length === 0 ? h('p.muted', {}, 'No committed offsets.')
      : table(['Topic', ['Partition', 'num'], ['Committed', 'num'], ['End offset', 'num'], ['Lag', 'num'],
        'Consumer'], offsets, { id: 'offsets' }),
    h('h2', {}, 'Reset offsets'),
    resetForm(id, g));
}

function resetForm(id, group) {
  if (!state.overview || !state.overview.write) {
    return h('p.muted', {}, 'The console is read-only (the broker runs without console_write).');
  }
  if (group.state !== 'Empty' && group.state !== 'Dead') {
    return h('p.muted', {}, `Offsets can be reset only while the group has no members: it is ${group.state}.`
      + ' Stop its consumers first.');
  }
  const names = [...new Set([...group.offsets.map((o) => o.topic), ...state.topics.map((t) => t.name)])];
  const status = h('div');
  const offset = h('input', { name: 'offset', type: 'number', min: 0, placeholder: 'offset' });
  const form = h('form.row.panel', { id: 'reset' },
    h('label', {}, 'Topic', h('select', { name: 'topic' }, names.map((n) => h('option', { value: n }, n)))),
    h('label', {}, 'Partition', h('input', { name: 'partition', type: 'number', min: 0, placeholder: 'all' })),
    h('label', {}, 'To', h('select', { name: 'to' },
      h('option', { value: 'earliest' }, 'earliest'),
      h('option', { value: 'latest' }, 'latest'),
      h('option', { value: 'offset' }, 'offset'))),
    h('label', {}, 'Offset', offset),
    h('button', { type: 'submit' }, 'Reset'),
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api(`/api/groups/${enc(id)}/reset`, new FormData(form));
      const moved = r.partitions.map((p) => `${p.partition} → ${p.offset}`).join(', ');
      await render();
      document.getElementById('view').prepend(notice(`Reset ${r.topic}: ${moved}.`));
    } catch (err) {
      status.replaceChildren(notice(err.message, true));
    }
  });
  return form;
}

// ---- broker config

async function configView() {
  const config = await api('/api/config');
  return h('div', {},
    h('h1', {}, 'Broker config', h('small', {}, `broker ${config.broker_id}`)),
    configTable(config.configs, 'broker-configs'));
}

window.addEventListener('hashchange', render);
poll();
