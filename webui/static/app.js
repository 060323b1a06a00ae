// crowd's admin console. Plain JS, no build step: one fetch helper, one
// loader and one render function per panel, and a poll loop that refreshes
// every panel every POLL_MS. Everything the coordinator sends is put in the
// page as text (textContent, attributes), never parsed as HTML.
'use strict';

const POLL_MS = 1500;        // every panel is refreshed at least this often
const REQUEST_TIMEOUT = 5000; // a request slower than this counts as "not answering"
const JOBS_PER_PAGE = 50;
const UNITS_PER_PAGE = 100;
const QUEUE_MAX = 60;         // blocks drawn in the queue bar
const HISTORY_SECONDS = 3600; // what the graphs keep
const OUTPUTS_SHOWN = 200;
const STATUS_NAMES = {1: 'processing', 2: 'succeeded', 3: 'failed', 4: 'splitting', 5: 'merging'};

const state = {
  route: {name: 'dashboard', filter: 'incomplete', page: 1},
  serverOffset: 0,   // server clock minus ours, in seconds
  summary: null,
  job: null,         // the job page's last answer
  missingJob: null,  // the id of a job page whose job does not exist
  unitsTotal: 0,
  history: [],       // [[t, queued, leased, per_second, workers], ...]
  colors: new Map(), // job id -> "#rrggbb" of the jobs seen lately (unit documents carry none)
  lastContact: null,
  downSince: null,
};

// ---------------------------------------------------------------- helpers

const $ = (sel) => document.querySelector(sel);

// el builds an element; props are properties (className, title, …) except
// "data" (dataset) and "style" (an object); children are nodes or strings,
// which become text.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'data') Object.assign(node.dataset, v);
    else if (k === 'style') Object.assign(node.style, v);
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

function setText(sel, text) {
  const node = typeof sel === 'string' ? $(sel) : sel;
  const s = String(text);
  if (node.textContent !== s) node.textContent = s;
}

// syncList makes parent's children one per item, in order, reusing the node
// of each key so that transitions, hover and focus survive a refresh.
function syncList(parent, items, keyOf, create, update) {
  const old = new Map();
  for (const child of [...parent.children]) {
    if (child.dataset.key === undefined) child.remove();
    else old.set(child.dataset.key, child);
  }
  items.forEach((item, i) => {
    const key = String(keyOf(item));
    let node = old.get(key);
    if (node) old.delete(key);
    else {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
  });
  for (const node of old.values()) node.remove();
}

const nf = new Intl.NumberFormat('en-US');
const fmtInt = (n) => (n === null || n === undefined ? '–' : nf.format(n));

function fmtRate(n) {
  if (n === null || n === undefined) return '–';
  return n >= 100 ? nf.format(Math.round(n)) : n.toFixed(1);
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms >= 10 ? `${Math.round(ms)} ms` : `${ms.toFixed(ms >= 1 ? 1 : 2)} ms`;
}

function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

// fmtDuration: 0.4 s, 12 s, 3m 05s, 2h 10m, 4d 3h.
function fmtDuration(secs) {
  if (secs === null || secs === undefined || !isFinite(secs)) return '–';
  secs = Math.max(0, secs);
  if (secs < 10) return `${secs.toFixed(1)} s`;
  if (secs < 60) return `${Math.floor(secs)} s`;
  const m = Math.floor(secs / 60), s = Math.floor(secs % 60);
  if (m < 60) return `${m}m ${String(s).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const serverNow = () => Date.now() / 1000 + state.serverOffset;

function ago(unixSeconds) {
  if (!unixSeconds) return '–';
  const d = serverNow() - unixSeconds;
  return d < 2 ? 'just now' : `${fmtDuration(d).replace(/\.\d s$/, ' s')} ago`;
}

function fmtClock(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString(undefined, {hour12: false});
}

function truncate(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

// show renders any JSON value as text: strings as they are, the rest as JSON.
function show(value, pretty) {
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, pretty ? 2 : 0) ?? String(value);
}

// textOn picks black or white text for a background colour "rrggbb".
function textOn(hex) {
  const n = parseInt(hex, 16);
  if (!/^[0-9a-f]{6}$/i.test(hex)) return '#fff';
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#1c1f24' : '#fff';
}

const jobColor = (job) => (/^[0-9a-f]{6}$/i.test(job.color || '') ? `#${job.color}` : '#8a94a3');

function rememberColor(job) {
  if (state.colors.size > 10000) state.colors.clear();
  const color = jobColor(job);
  state.colors.set(job.id, color);
  return color;
}

function badge(status) {
  return el('span', {className: `badge s-${status || 'unknown'}`}, status || 'unknown');
}

function progressBar(percent, color) {
  const fill = el('i', {style: {width: `${percent}%`}});
  if (color) fill.style.background = color;
  return el('div', {className: 'bar'}, fill);
}

function toast(message, kind) {
  const t = el('div', {className: `toast ${kind || ''}`}, message);
  $('#toasts').append(t);
  setTimeout(() => t.classList.add('gone'), 4000);
  setTimeout(() => t.remove(), 4600);
}

// confirmAction asks in the page's own dialog (not window.confirm) and
// resolves to true when the operator confirms.
function confirmAction(title, text, okLabel) {
  const dialog = $('#confirm');
  setText('#confirm-title', title);
  setText('#confirm-text', text);
  setText('#confirm-ok', okLabel);
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), {once: true});
  });
}

// ---------------------------------------------------------------- fetch

// NetError: the coordinator did not answer (refused, timed out, 502–504).
class NetError extends Error {}
// HttpError: it answered with an error status.
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// api is the one fetch helper. Paths are relative to the page, so the
// console works under any prefix; credentials in the page's URL are
// stripped (fetch refuses them) and the browser's stored ones are used.
async function api(path, {method = 'GET', form} = {}) {
  const url = new URL(path, location.href);
  url.username = '';
  url.password = '';
  const init = {method, cache: 'no-store', credentials: 'same-origin', signal: AbortSignal.timeout(REQUEST_TIMEOUT)};
  if (form) init.body = new URLSearchParams(form);
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new NetError(e.name === 'TimeoutError' ? 'timed out' : e.message);
  }
  if (resp.status >= 502 && resp.status <= 504) throw new NetError(`HTTP ${resp.status}`);
  const type = resp.headers.get('Content-Type') || '';
  const body = resp.status === 204 ? null : type.includes('json') ? await resp.json().catch(() => null) : await resp.text();
  if (!resp.ok) {
    const message = body && body.error ? body.error : typeof body === 'string' && body ? body : resp.statusText;
    throw new HttpError(resp.status, `${resp.status} ${message}`);
  }
  return body;
}

// panel runs a panel's loader and shows its HTTP errors in the panel;
// network errors go up to the poll loop, which shows the banner.
async function panel(errorSel, load) {
  const box = errorSel && $(errorSel);
  try {
    await load();
    if (box) box.hidden = true;
  } catch (e) {
    if (e instanceof NetError) throw e;
    if (box) {
      box.hidden = false;
      setText(box, e instanceof HttpError ? `unavailable: ${e.message}` : `error: ${e.message}`);
    }
    if (!(e instanceof HttpError)) console.warn(e); // a bug of ours: keep it visible, don't stop the loop
  }
}

// ---------------------------------------------------------------- counters

async function loadSummary() {
  const s = await api('console/summary');
  state.summary = s;
  if (s.time) state.serverOffset = s.time - Date.now() / 1000;
  renderCounters(s);
  renderCluster(s.cluster);
}

// renderCluster shows each node of a cluster (cluster mode): its raft
// role, term and commit index. A single coordinator has none.
function renderCluster(nodes) {
  const group = $('#cluster');
  group.hidden = !nodes || nodes.length === 0;
  if (group.hidden) return;
  const box = group.querySelector('.cluster-nodes') || group.appendChild(el('div', {className: 'cluster-nodes'}));
  syncList(box, nodes, (n) => n.node,
    () => el('div', {className: 'counter node'}, el('b'), el('span')),
    (div, n) => {
      div.dataset.role = n.role;
      setText(div.querySelector('b'), n.role);
      setText(div.querySelector('span'), n.role === 'unreachable' ? n.node : `${n.node} · term ${n.term} · commit ${fmtInt(n.commit_index)}`);
      div.title = n.role === 'unreachable'
        ? `${n.node} did not answer`
        : `${n.node}: ${n.role}, term ${n.term}\ncommit index ${fmtInt(n.commit_index)}, applied ${fmtInt(n.applied_index)}\nleader ${n.leader || 'none'}`;
    });
}

function renderCounters(s) {
  const values = {
    'jobs.processing': fmtInt(s.jobs.processing),
    'jobs.splitting': fmtInt(s.jobs.splitting),
    'jobs.merging': fmtInt(s.jobs.merging),
    'jobs.succeeded': fmtInt(s.jobs.succeeded),
    'jobs.failed': fmtInt(s.jobs.failed),
    'units.ready': fmtInt(s.units.ready),
    'units.leased': fmtInt(s.units.leased),
    'units.waiting': fmtInt(s.units.waiting),
    workers: fmtInt(s.workers),
    units_per_second: fmtRate(s.units_per_second),
    wal: s.wal ? fmtMs(s.wal.last_fsync_ms) : 'off',
  };
  for (const node of document.querySelectorAll('#counters .counter')) {
    setText(node.querySelector('b'), values[node.dataset.key] ?? '–');
  }
  const failed = document.querySelector('.counter[data-key="jobs.failed"]');
  failed.classList.toggle('alert', s.jobs.failed > 0);
  const wal = document.querySelector('.counter[data-key="wal"]');
  wal.title = s.wal
    ? `${s.cluster ? 'raft log (this node), committed on a majority' : `write-ahead log, ${s.wal.mode} commit`}\nlast fsync ${fmtMs(s.wal.last_fsync_ms)}, max ${fmtMs(s.wal.max_fsync_ms)}\nlog size ${fmtBytes(s.wal.bytes)}`
    : 'no write-ahead log (in-memory journal)';
  setText(wal.querySelector('span'), s.wal ? `fsync · max ${fmtMs(s.wal.max_fsync_ms)}` : 'fsync');
  const counts = {incomplete: s.jobs.incomplete, complete: s.jobs.succeeded + s.jobs.failed, all: s.jobs.total};
  for (const tab of document.querySelectorAll('#job-tabs button')) {
    setText(tab.querySelector('.tab-count'), fmtInt(counts[tab.dataset.filter]));
  }
}

// ---------------------------------------------------------------- queue bar

// The queue bar is CloudCrowd's: each running job a block in its colour,
// as wide as its share of the units, shaded as far as it is complete. It
// shows the oldest QUEUE_MAX incomplete jobs, one small page of them.
async function loadQueue() {
  const r = await api(`console/jobs?filter=incomplete&page=1&per_page=${QUEUE_MAX}`);
  renderQueue(r.jobs, r.total);
}

function renderQueue(jobs, incomplete) {
  const queue = $('#queue');
  const shown = new Set(jobs.map((j) => String(j.id)));
  const blocks = [...queue.querySelectorAll('.qblock')];
  // Finished jobs shrink to nothing, then go.
  for (const b of blocks) {
    if (!shown.has(b.dataset.key) && !b.classList.contains('leaving')) {
      b.classList.add('leaving');
      b.style.flexGrow = '0';
      setTimeout(() => b.remove(), 700);
    }
  }
  const byKey = new Map(blocks.map((b) => [b.dataset.key, b]));
  const units = jobs.reduce((n, j) => n + Math.max(1, j.work_units), 0);
  const pxPerUnit = (queue.clientWidth - 2 * jobs.length) / Math.max(1, units);
  let prev = null;
  for (const job of jobs) {
    let b = byKey.get(String(job.id));
    if (!b || b.classList.contains('leaving')) {
      b = newQueueBlock(job);
      b.style.flexGrow = '0';
      requestAnimationFrame(() => requestAnimationFrame(() => updateQueueBlock(b, job)));
    } else updateQueueBlock(b, job);
    b.classList.toggle('narrow', Math.max(1, job.work_units) * pxPerUnit < 38); // too thin for its labels
    const want = prev ? prev.nextSibling : queue.firstChild;
    if (want !== b) queue.insertBefore(b, want);
    prev = b;
  }
  const empty = queue.querySelector('.queue-empty');
  if (jobs.length && empty) empty.remove();
  if (!jobs.length && !empty) queue.append(el('div', {className: 'queue-empty'}, 'no jobs running…'));
  const left = state.summary ? state.summary.units.incomplete : null;
  setText('#queue-count', incomplete ? `${fmtInt(incomplete)} incomplete${left !== null ? ` · ${fmtInt(left)} units to go` : ''}` : '');
  const more = incomplete - jobs.length;
  $('#queue-more').hidden = !(more > 0);
  setText('#queue-more', more > 0 ? `+ ${fmtInt(more)} more jobs queued behind these` : '');
}

function newQueueBlock(job) {
  const b = el('a', {className: 'qblock', href: `#/jobs/${job.id}`},
    el('i', {className: 'qdone'}),
    el('span', {className: 'qlabel'}, el('b', {className: 'qpct'}), el('span', {className: 'qid'})));
  b.dataset.key = String(job.id);
  return b;
}

function updateQueueBlock(b, job) {
  const color = rememberColor(job);
  const pct = job.percent_complete;
  b.style.flexGrow = String(Math.max(1, job.work_units));
  b.style.background = color;
  const ink = textOn(job.color || '');
  b.style.color = ink;
  b.classList.toggle('light', ink !== '#fff'); // a pale colour: shade the done part darker
  b.dataset.percent = pct;
  b.dataset.status = job.status;
  b.querySelector('.qdone').style.width = `${pct}%`;
  setText(b.querySelector('.qpct'), `${pct}%`);
  setText(b.querySelector('.qid'), `#${job.id}`);
  b.title = `Job #${job.id} · ${job.status} · ${pct}% of ${fmtInt(job.work_units)} units · ${fmtDuration(job.time_taken)}`;
}

// ---------------------------------------------------------------- jobs table

async function loadJobs() {
  const {filter, page} = state.route;
  const r = await api(`console/jobs?filter=${encodeURIComponent(filter)}&page=${page}&per_page=${JOBS_PER_PAGE}`);
  if (state.route.name !== 'dashboard' || state.route.filter !== filter || state.route.page !== page) return; // stale
  renderJobs(r);
}

function renderJobs(r) {
  const pages = Math.max(1, Math.ceil(r.total / r.per_page));
  if (r.page > pages) { // the jobs moved on under us: show the last page there is
    routeTo({...state.route, page: pages});
    return;
  }
  const body = $('#jobs-body');
  syncList(body, r.jobs, (j) => j.id, newJobRow, updateJobRow);
  if (!r.jobs.length) {
    const what = {incomplete: 'No jobs running.', complete: 'No complete jobs.', all: 'No jobs yet.'}[state.route.filter];
    body.append(el('tr', {className: 'empty'}, el('td', {colSpan: 7}, what)));
  }
  renderPager('#jobs-pager', r.page, r.per_page, r.total, r.jobs.length, 'jobs');
}

function newJobRow(job) {
  const link = el('a', {href: `#/jobs/${job.id}`}, el('span', {className: 'swatch'}), el('span', {className: 'jid'}));
  const tr = el('tr', {},
    el('td', {className: 'jobcol'}, link),
    el('td', {className: 'action'}),
    el('td', {className: 'status'}),
    el('td', {className: 'progress-col'}, el('div', {className: 'progress'}, progressBar(0), el('span', {className: 'pct'}))),
    el('td', {className: 'num units'}),
    el('td', {className: 'num age'}),
    el('td', {className: 'num took'}));
  tr.addEventListener('click', (e) => {
    if (!e.target.closest('a')) location.hash = `#/jobs/${job.id}`;
  });
  return tr;
}

function updateJobRow(tr, job) {
  const [idCell, actionCell, statusCell, progCell, unitsCell, ageCell, tookCell] = tr.children;
  tr.dataset.status = job.status;
  tr.dataset.percent = job.percent_complete;
  rememberColor(job);
  idCell.querySelector('.swatch').style.background = jobColor(job);
  setText(idCell.querySelector('.jid'), `#${job.id}`);
  setText(actionCell, job.action || '–');
  if (statusCell.dataset.v !== job.status) {
    statusCell.replaceChildren(badge(job.status));
    statusCell.dataset.v = job.status;
  }
  const fill = progCell.querySelector('.bar i');
  fill.style.width = `${job.percent_complete}%`;
  fill.className = `f-${job.status}`;
  setText(progCell.querySelector('.pct'), `${job.percent_complete}%`);
  setText(unitsCell, fmtInt(job.work_units));
  setText(ageCell, job.created_at ? fmtDuration(serverNow() - job.created_at) : '–');
  ageCell.title = job.created_at ? fmtClock(job.created_at) : '';
  const complete = job.status === 'succeeded' || job.status === 'failed';
  const eta = !complete && job.percent_complete > 0 && job.percent_complete < 100
    ? (job.time_taken * (100 - job.percent_complete)) / job.percent_complete : null;
  setText(tookCell, complete ? fmtDuration(job.time_taken) : eta !== null ? `~${fmtDuration(eta)} left` : '–');
  tookCell.classList.toggle('muted', !complete);
  tookCell.title = complete ? `took ${fmtDuration(job.time_taken)}` : `running for ${fmtDuration(job.time_taken)}`;
}

function renderPager(sel, page, perPage, total, count, noun) {
  const pager = $(sel);
  const pages = Math.max(1, Math.ceil(total / perPage));
  const first = total ? (page - 1) * perPage + 1 : 0;
  setText(pager.querySelector('[id$="-range"]'), total ? `${fmtInt(first)}–${fmtInt(first + count - 1)} of ${fmtInt(total)} ${noun}` : `0 ${noun}`);
  setText(pager.querySelector('[id$="-pageno"]'), `page ${fmtInt(page)} of ${fmtInt(pages)}`);
  pager.querySelector('[data-page="first"]').disabled = page <= 1;
  pager.querySelector('[data-page="prev"]').disabled = page <= 1;
  pager.querySelector('[data-page="next"]').disabled = page >= pages;
  pager.querySelector('[data-page="last"]').disabled = page >= pages;
  pager.dataset.pages = pages;
}

function pageTarget(pager, which, page) {
  const pages = Number(pager.dataset.pages || 1);
  return {first: 1, prev: page - 1, next: page + 1, last: pages}[which];
}

// ---------------------------------------------------------------- job page

async function loadJob() {
  const {id, page} = state.route;
  if (state.missingJob === id) return; // asked once: it is gone
  let r;
  try {
    r = await api(`console/jobs/${id}?page=${page}&per_page=${UNITS_PER_PAGE}`);
  } catch (e) {
    if (e instanceof HttpError && e.status === 404 && state.route.id === id) {
      state.missingJob = id;
      renderJobMissing(id);
      return;
    }
    throw e;
  }
  if (state.route.name !== 'job' || state.route.id !== id || state.route.page !== page) return; // stale
  state.job = r;
  renderJob(r);
}

function renderJobMissing(id) {
  state.job = null;
  setText('#job-title', `Job #${id}`);
  $('#job-status').replaceChildren(badge('deleted'));
  $('#job-error').hidden = false;
  setText('#job-error', `Job #${id} does not exist: it was deleted, or its callback took it.`);
  $('#job-retry').disabled = $('#job-delete').disabled = true;
}

function renderJob(r) {
  const job = r.job;
  const complete = job.status === 'succeeded' || job.status === 'failed';
  $('#job-swatch').style.background = jobColor(job);
  setText('#job-title', `Job #${job.id}`);
  const st = $('#job-status');
  st.className = `badge s-${job.status}`;
  setText(st, job.status);
  $('#job-error').hidden = true;
  const bar = $('#job-bar');
  bar.style.width = `${job.percent_complete}%`;
  bar.style.background = jobColor(job);
  setText('#job-percent', `${job.percent_complete}%`);
  $('#job-delete').disabled = false;
  $('#job-retry').disabled = job.status === 'succeeded';

  const facts = [
    ['Action', job.action || '–'],
    ['Created', job.created_at ? `${fmtClock(job.created_at)} (${ago(job.created_at)})` : '–'],
    [complete ? 'Took' : 'Running for', fmtDuration(job.time_taken)],
    ['Units', `${fmtInt(r.units_total)}${job.work_units && !complete && job.work_units !== r.units_total ? ` · ${fmtInt(job.work_units)} in this phase` : ''}`],
    ['Email', job.email || '–'],
    ['Callback', job.callback_url || '–'],
  ];
  const dl = $('#job-facts');
  syncList(dl, facts, (f) => f[0], () => el('div', {}, el('dt'), el('dd')), (div, [k, v]) => {
    setText(div.firstChild, k);
    setText(div.lastChild, v);
  });

  setText('#job-options', job.options && Object.keys(job.options).length ? show(job.options, true) : '{}');
  renderOutputs(job, complete);
  renderUnits(r);
}

function renderOutputs(job, complete) {
  const list = $('#job-outputs');
  const outputs = complete && Array.isArray(job.outputs) ? job.outputs : null;
  $('#job-outputs-card').classList.toggle('dim', !outputs);
  if (!outputs) {
    setText('#job-outputs-count', '');
    list.replaceChildren(el('li', {className: 'muted plain'}, 'Outputs appear when the job is complete.'));
    return;
  }
  setText('#job-outputs-count', `${fmtInt(outputs.length)} output${outputs.length === 1 ? '' : 's'}`);
  const shown = outputs.slice(0, OUTPUTS_SHOWN).map((o, i) => ({i, text: show(o, true)}));
  syncList(list, shown, (o) => o.i, () => el('li', {}, el('pre', {className: 'code'})), (li, o) => setText(li.firstChild, o.text));
  if (outputs.length > OUTPUTS_SHOWN) list.append(el('li', {className: 'muted plain'}, `… and ${fmtInt(outputs.length - OUTPUTS_SHOWN)} more`));
}

function renderUnits(r) {
  const body = $('#units-body');
  syncList(body, r.units, (u) => u.id, newUnitRow, updateUnitRow);
  if (!r.units.length) body.append(el('tr', {className: 'empty'}, el('td', {colSpan: 8}, 'No units.')));
  state.unitsTotal = r.units_total;
  renderPager('#units-pager', r.page, r.per_page, r.units_total, r.units.length, 'units');
  setText('#units-count', `${fmtInt(r.units_total)} in all`);
}

function newUnitRow() {
  return el('tr', {},
    el('td', {className: 'num uid'}), el('td', {className: 'phase'}), el('td', {className: 'state'}),
    el('td', {className: 'num attempts'}), el('td', {className: 'worker'}), el('td', {className: 'num time'}),
    el('td', {className: 'input'}), el('td', {className: 'result'}));
}

function updateUnitRow(tr, u) {
  const [idCell, phaseCell, stateCell, attemptsCell, workerCell, timeCell, inputCell, resultCell] = tr.children;
  tr.dataset.state = u.state;
  tr.dataset.attempts = u.attempts;
  setText(idCell, `#${u.id}`);
  setText(phaseCell, u.phase);
  if (stateCell.dataset.v !== u.state) {
    stateCell.replaceChildren(badge(u.state));
    stateCell.dataset.v = u.state;
  }
  setText(attemptsCell, fmtInt(u.attempts));
  setText(workerCell, u.worker || '–');
  setText(timeCell, u.time ? fmtDuration(u.time) : '–');
  setText(inputCell, truncate(u.input, 160));
  inputCell.title = truncate(u.input, 4000);
  const errors = u.errors || [];
  const key = JSON.stringify([u.output, errors]);
  if (resultCell.dataset.v !== key) {
    resultCell.dataset.v = key;
    const parts = [];
    if (u.output !== null && u.output !== undefined && u.state !== 'failed') {
      parts.push(el('div', {className: 'out', title: truncate(show(u.output, true), 4000)}, truncate(show(u.output), 160)));
    }
    if (errors.length) {
      parts.push(el('ol', {className: 'errors'}, errors.map((m, i) =>
        el('li', {title: truncate(m, 4000)}, el('span', {className: 'muted'}, `attempt ${i + 1}: `), truncate(m, 300)))));
    }
    resultCell.replaceChildren(...parts);
  }
}

async function deleteJob() {
  const job = state.job && state.job.job;
  if (!job) return;
  const ok = await confirmAction(`Delete job #${job.id}?`,
    `This removes the job, its ${fmtInt(state.unitsTotal)} units and their stored files. It cannot be undone.`, 'Delete job');
  if (!ok) return;
  // No poll may ask for the job once it is gone: that would be a 404.
  await withPollingHeld(async () => {
    try {
      await api(`jobs/${job.id}`, {method: 'DELETE'});
      toast(`Job #${job.id} deleted.`);
      location.hash = '#/';
      onRoute();
    } catch (e) {
      toast(`Could not delete job #${job.id}: ${e.message}`, 'bad');
    }
  });
}

async function retryJob() {
  const job = state.job && state.job.job;
  if (!job) return;
  const ok = await confirmAction(`Retry job #${job.id}?`,
    'Its failed units go back in the queue and run again; the job completes when they do.', 'Retry failed units');
  if (!ok) return;
  try {
    await api(`console/jobs/${job.id}/retry`, {method: 'POST'});
    toast(`Job #${job.id}: failed units queued again.`);
  } catch (e) {
    toast(e instanceof HttpError && e.status === 409 ? `Job #${job.id}: nothing to retry.` : `Retry failed: ${e.message}`, 'bad');
  }
  refreshNow();
}

// ---------------------------------------------------------------- workers

async function loadWorkers() {
  const workers = await api('console/workers');
  renderWorkers(workers);
}

function renderWorkers(workers) {
  const list = $('#workers');
  workers = [...workers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  syncList(list, workers, (w) => w.name, newWorkerRow, updateWorkerRow);
  if (!workers.length) list.append(el('li', {className: 'empty'}, 'No workers online.'));
  const busy = workers.filter((w) => w.unit).length;
  setText('#workers-count', workers.length ? `${fmtInt(workers.length)} alive · ${fmtInt(busy)} busy` : '');
}

function newWorkerRow(w) {
  const li = el('li', {},
    el('span', {className: 'wdot'}),
    el('button', {className: 'wname linklike', type: 'button', title: 'Ask the coordinator what this worker holds'}),
    el('span', {className: 'wstatus'}),
    el('span', {className: 'wseen muted'}),
    el('span', {className: 'wunit'}));
  li.querySelector('.wname').addEventListener('click', (e) => {
    e.stopPropagation();
    showWorkerBubble(w.name, li);
  });
  return li;
}

function updateWorkerRow(li, w) {
  li.dataset.status = w.status || 'idle';
  li.querySelector('.wdot').className = `wdot ${w.unit ? 'busy' : 'idle'}`;
  setText(li.querySelector('.wname'), w.name);
  const status = w.unit ? w.status || STATUS_NAMES[w.unit.status] || 'busy' : 'idle';
  const statusCell = li.querySelector('.wstatus');
  setText(statusCell, status);
  statusCell.className = `wstatus w-${status}`;
  const unitCell = li.querySelector('.wunit');
  const key = w.unit ? `${w.unit.job_id}/${w.unit.id}` : '';
  if (unitCell.dataset.v !== key) {
    unitCell.dataset.v = key;
    unitCell.replaceChildren(...(w.unit ? [unitChip(w.unit)] : []));
  }
  const seen = li.querySelector('.wseen');
  setText(seen, w.last_seen ? ago(w.last_seen) : '');
  seen.title = [w.thread_status && `thread: ${w.thread_status}`, w.check_in_interval && `checks in every ${w.check_in_interval}s`,
    w.last_seen && `last seen ${fmtClock(w.last_seen)}`].filter(Boolean).join('\n');
}

function unitChip(unit) {
  const color = state.colors.get(unit.job_id) || '#8a94a3';
  return el('a', {className: 'chip', href: `#/jobs/${unit.job_id}`, title: `${unit.action} · input ${truncate(unit.input, 200)}`},
    el('span', {className: 'swatch', style: {background: color}}),
    `job #${unit.job_id} · unit #${unit.id}`);
}

// CloudCrowd's worker bubble: what the worker holds, straight from
// GET worker/<name>.
async function showWorkerBubble(name, anchor) {
  const bubble = $('#bubble');
  bubble.dataset.worker = name;
  bubble.replaceChildren(el('div', {className: 'bubble-title'}, name), el('div', {className: 'muted'}, 'asking…'));
  placeBubble(bubble, anchor);
  let unit;
  try {
    unit = await api(`worker/${encodeURIComponent(name)}`);
  } catch (e) {
    unit = {error: e.message};
  }
  if (bubble.dataset.worker !== name || bubble.hidden) return;
  const rows = unit.error ? [['error', unit.error]]
    : unit.id === undefined ? [['status', 'idle: holds no unit']]
    : [['status', STATUS_NAMES[unit.status] || 'unknown'], ['action', unit.action],
      ['unit', `job #${unit.job_id} / unit #${unit.id}`], ['attempts', fmtInt(unit.attempts)], ['input', truncate(unit.input, 200)]];
  bubble.replaceChildren(el('div', {className: 'bubble-title'}, name),
    el('dl', {}, rows.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v)))));
  placeBubble(bubble, anchor);
}

function placeBubble(bubble, anchor) {
  bubble.hidden = false;
  const r = anchor.getBoundingClientRect();
  const w = bubble.offsetWidth;
  bubble.style.left = `${Math.max(8, Math.min(r.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - w - 8))}px`;
  bubble.style.top = `${r.bottom + window.scrollY + 6}px`;
}

// ---------------------------------------------------------------- paused actions

async function loadPaused() {
  const list = await api('blacklist');
  renderPaused(list);
}

function renderPaused(list) {
  const ul = $('#paused');
  syncList(ul, list, (p) => p.action, newPausedRow, (li, p) => {
    setText(li.querySelector('.paction'), p.action);
    const t = Date.parse(p.created_at) / 1000;
    setText(li.querySelector('.psince'), isFinite(t) ? `paused ${ago(t)}` : '');
    li.querySelector('.psince').title = p.created_at || '';
  });
  if (!list.length) ul.append(el('li', {className: 'empty'}, 'Every action runs.'));
  const note = $('#paused-note');
  note.hidden = !list.length;
  setText(note, list.length ? `⏸ paused: ${list.map((p) => p.action).join(', ')}` : '');
}

function newPausedRow(p) {
  const resume = el('button', {className: 'btn small', type: 'button'}, 'Resume');
  resume.addEventListener('click', async () => {
    resume.disabled = true;
    try {
      await api(`blacklist/${encodeURIComponent(p.action)}`, {method: 'DELETE'});
      toast(`${p.action} resumed.`);
    } catch (e) {
      toast(`Could not resume ${p.action}: ${e.message}`, 'bad');
      resume.disabled = false;
    }
    refreshNow();
  });
  return el('li', {}, el('code', {className: 'paction'}), el('span', {className: 'psince muted'}), resume);
}

async function pauseAction(e) {
  e.preventDefault();
  const input = $('#pause-action');
  const action = input.value.trim();
  if (!/^[a-z][a-z0-9_]*$/.test(action)) {
    toast('An action name is snake case: word_count, process_pdfs…', 'bad');
    return;
  }
  try {
    await api('blacklist', {method: 'POST', form: {action}});
    input.value = '';
    toast(`${action} paused: its units stay queued until you resume it.`);
  } catch (err) {
    toast(`Could not pause ${action}: ${err.message}`, 'bad');
  }
  refreshNow();
}

// ---------------------------------------------------------------- graphs

const charts = {};

// The server keeps the history; we ask for what is new since our last point
// (a server that ignores "since" sends it all, and the merge drops repeats).
async function loadHistory() {
  const last = state.history.length ? state.history[state.history.length - 1][0] : 0;
  const r = await api(last ? `console/history?since=${last}` : 'console/history');
  const points = (r.points || []).filter((p) => p[0] > last);
  if (points.length || !state.history.length) {
    state.history = state.history.concat(points);
    const cut = state.history.length ? state.history[state.history.length - 1][0] - HISTORY_SECONDS : 0;
    let i = 0;
    while (i < state.history.length && state.history[i][0] < cut) i++;
    if (i) state.history = state.history.slice(i);
  }
  renderGraphs(state.history);
}

function chartColors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return {axis: v('--muted'), grid: v('--grid'), queued: v('--c-queued'), running: v('--c-running'), rate: v('--c-rate'), workers: v('--c-workers')};
}

function clockTick(t, seconds) {
  const d = new Date(t * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}${seconds ? `:${two(d.getSeconds())}` : ''}`;
}

// alpha turns "#rrggbb" into rgba() with opacity a (canvas wants plain colours).
function alpha(hex, a) {
  const n = parseInt(hex.replace('#', ''), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function makeChart(container, series) {
  const c = chartColors();
  const axis = {stroke: c.axis, grid: {stroke: c.grid, width: 1}, ticks: {show: false}, font: '11px system-ui, sans-serif'};
  const opts = {
    width: container.clientWidth || 300,
    height: 130,
    padding: [6, 22, 0, 0],
    legend: {show: false},
    cursor: {drag: {x: false, y: false}, points: {size: 5}},
    scales: {y: {range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1]}},
    axes: [
      {...axis, size: 26, space: 70, values: (u, ticks, i, space, incr) => ticks.map((t) => clockTick(t, incr < 60))},
      {...axis, size: 44, space: 28, values: (u, ticks) => ticks.map((t) => (t >= 1000 ? `${+(t / 1000).toFixed(1)}k` : +t.toFixed(2)))},
    ],
    series: [{}, ...series.map((s) => ({
      label: s.label, stroke: c[s.color], width: 1.5, points: {show: false},
      fill: s.fill ? alpha(c[s.color], 0.12) : undefined,
    }))],
  };
  const chart = new uPlot(opts, [[], ...series.map(() => [])], container);
  const resize = new ResizeObserver(() => chart.setSize({width: container.clientWidth, height: 130}));
  resize.observe(container);
  const destroy = chart.destroy.bind(chart);
  chart.destroy = () => {
    resize.disconnect();
    destroy();
  };
  return chart;
}

function dropCharts() {
  for (const k of Object.keys(charts)) {
    charts[k].destroy();
    delete charts[k];
  }
}

function renderGraphs(points) {
  if (typeof uPlot === 'undefined') return;
  if (!charts.queue) {
    charts.queue = makeChart($('#graph-queue'), [{label: 'queued', color: 'queued', fill: true}, {label: 'running', color: 'running'}]);
    charts.rate = makeChart($('#graph-rate'), [{label: 'units/s', color: 'rate', fill: true}]);
    charts.workers = makeChart($('#graph-workers'), [{label: 'workers', color: 'workers', fill: true}]);
  }
  const col = (i) => points.map((p) => p[i]);
  const t = col(0);
  charts.queue.setData([t, col(1), col(2)]);
  charts.rate.setData([t, col(3)]);
  charts.workers.setData([t, col(4)]);
  for (const id of ['#graph-queue', '#graph-rate', '#graph-workers']) $(id).dataset.points = points.length;
  const last = points[points.length - 1];
  setText('#graph-rate-now', last ? `now ${fmtRate(last[3])}/s` : '');
  setText('#graph-workers-now', last ? `now ${fmtInt(last[4])}` : '');
}

// ---------------------------------------------------------------- connection

function setConnected(ok) {
  const now = new Date();
  if (ok) {
    state.lastContact = now;
    state.downSince = null;
  } else if (!state.downSince) state.downSince = now;
  $('#disconnected').hidden = ok;
  document.body.classList.toggle('stale', !ok);
  const clock = (d) => d.toLocaleTimeString(undefined, {hour12: false});
  $('#live').className = ok ? 'live' : 'live down';
  setText('#live-text', ok ? `live · ${clock(now)}` : `offline since ${clock(state.downSince)}`);
  setText('#disconnected-since', ok ? '' : `Last answer ${state.lastContact ? clock(state.lastContact) : 'never'}.`);
}

// ---------------------------------------------------------------- routing and polling

// Routes: #/ (dashboard, ?filter=&page=) and #/jobs/<id> (?page=).
function parseRoute() {
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const q = new URLSearchParams(query || '');
  const page = Math.max(1, parseInt(q.get('page'), 10) || 1);
  const m = /^\/jobs\/(\d+)$/.exec(path || '');
  if (m) return {name: 'job', id: Number(m[1]), page};
  const filter = ['incomplete', 'complete', 'all'].includes(q.get('filter')) ? q.get('filter') : 'incomplete';
  return {name: 'dashboard', filter, page};
}

function routeTo(route) {
  const q = new URLSearchParams();
  if (route.name === 'dashboard') {
    if (route.filter !== 'incomplete') q.set('filter', route.filter);
    if (route.page > 1) q.set('page', route.page);
    location.hash = `#/${q.size ? `?${q}` : ''}`;
  } else {
    if (route.page > 1) q.set('page', route.page);
    location.hash = `#/jobs/${route.id}${q.size ? `?${q}` : ''}`;
  }
}

function onRoute() {
  const prev = state.route;
  state.route = parseRoute();
  const job = state.route.name === 'job';
  $('#view-dashboard').hidden = job;
  $('#view-job').hidden = !job;
  if (job && (prev.name !== 'job' || prev.id !== state.route.id)) {
    state.job = null;
    state.missingJob = null;
    $('#units-body').replaceChildren();
    $('#job-outputs').replaceChildren();
    setText('#job-title', `Job #${state.route.id}`);
    setText('#job-percent', '–');
    $('#job-error').hidden = true;
    document.title = `crowd · job #${state.route.id}`;
  } else if (!job) {
    document.title = 'crowd · operations';
    for (const tab of document.querySelectorAll('#job-tabs button')) {
      tab.setAttribute('aria-selected', String(tab.dataset.filter === state.route.filter));
    }
    if (prev.filter !== state.route.filter) $('#jobs-body').replaceChildren();
  }
  if (prev.name !== state.route.name || prev.id !== state.route.id) window.scrollTo(0, 0);
  refreshNow();
}

let timer = null;
let inFlight = null;
let again = false;
let held = false;

// withPollingHeld runs fn with no poll in flight and none starting, then
// polls at once.
async function withPollingHeld(fn) {
  held = true;
  clearTimeout(timer);
  try {
    if (inFlight) await inFlight;
    return await fn();
  } finally {
    held = false;
    refreshNow();
  }
}

async function tick() {
  clearTimeout(timer);
  const loads = [
    panel(null, loadSummary),
    panel(null, loadQueue),
    panel('#workers-error', loadWorkers),
    panel(null, loadHistory),
    panel('#paused-error', loadPaused),
    state.route.name === 'job' ? panel('#job-error', loadJob) : panel('#jobs-error', loadJobs),
  ];
  const results = await Promise.allSettled(loads);
  setConnected(!results.some((r) => r.status === 'rejected'));
}

// refreshNow polls at once (after the poll in flight, if any), then every POLL_MS.
function refreshNow() {
  if (held) return;
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = tick().finally(() => {
    inFlight = null;
    if (again) {
      again = false;
      refreshNow();
    } else timer = setTimeout(refreshNow, POLL_MS);
  });
}

function wire() {
  for (const tab of document.querySelectorAll('#job-tabs button')) {
    tab.addEventListener('click', () => routeTo({name: 'dashboard', filter: tab.dataset.filter, page: 1}));
  }
  for (const [pagerSel, tableSel] of [['#jobs-pager', '.jobs-card'], ['#units-pager', '#units-card']]) {
    $(pagerSel).addEventListener('click', (e) => {
      const b = e.target.closest('button[data-page]');
      if (!b) return;
      routeTo({...state.route, page: pageTarget($(pagerSel), b.dataset.page, state.route.page)});
      // Paging from the bottom: show the new page from its top.
      const card = $(tableSel);
      if (card.getBoundingClientRect().top < 0) card.scrollIntoView({block: 'start'});
    });
  }
  $('#job-delete').addEventListener('click', deleteJob);
  $('#job-retry').addEventListener('click', retryJob);
  $('#pause-form').addEventListener('submit', pauseAction);
  document.addEventListener('click', (e) => {
    if (!e.target.closest('#bubble')) $('#bubble').hidden = true;
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') $('#bubble').hidden = true;
  });
  window.addEventListener('hashchange', onRoute);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    dropCharts();
    renderGraphs(state.history);
  });
}

wire();
onRoute();
