// End-to-end checks of crowd's admin console in headless Chromium, driven by
// playwright-core. webui/console_test.go runs it against a real coordinator
// with real workers:
//
//   node webui/e2e/console.mjs <baseURL> <artifacts dir>
//
// Environment (set by the Go test):
//   CROWD_E2E_CONTROL        URL of the test's control server: POST /down, POST /up
//                            stop and restart the coordinator's HTTP listener
//   CROWD_E2E_AUTH_URL       a second coordinator with HTTP Basic auth on
//   CROWD_E2E_AUTH           its login:password
//   CROWD_E2E_UNIT_DELAY_MS  how long a worker holds a unit
//   CROWD_E2E_WORKERS        how many workers run
//   CROWD_E2E_RETRIES        attempts per unit
//   CROWD_E2E_BULK_URL       a third coordinator, with CROWD_E2E_BULK_JOBS jobs and no workers
//   CROWD_E2E_CLUSTER_URL    a fourth, whose summary carries a cluster's three nodes
//   CROWD_E2E_ONLY           a regexp: run only the checks whose names match
//
// The checks, in order (each prints "ok" or "FAIL" with the reason; the
// script exits 1 if any failed):
//   1. the page loads and fills its panels, with no console or page errors
//   2. a submitted job appears in the queue bar and the jobs table, its
//      percentage moves, and it reaches 100% (then shows under "complete")
//   3. the workers are listed with the unit each holds; a worker's bubble
//      (GET worker/<name>) names its job and unit
//   4. the three graphs have data after a reload (series data and coloured
//      pixels on the uPlot canvases)
//   5. Delete on a job's page, confirmed, removes the job
//   6. a job whose units fail shows failed units with each attempt's error;
//      Retry failed units, confirmed, runs them again to success
//   7. inputs, options, outputs and a worker name holding <script> and
//      <img onerror> show as text: no dialog fires, no element is made
//   8. pausing an action from the panel holds its units; resuming runs them
//   9. screenshots of a busy dashboard and a job page (light and dark)
//  10. the Disconnected banner shows when the coordinator stops answering
//      and goes by itself when it answers again
//  11. with auth on, the page and its files are refused (401) without
//      credentials, and work with them
//  12. with 100,000 jobs, the page fills, counts them, pages to the last of
//      them quickly, and no poll moves more than a small page of data
//  13. a cluster's nodes show in the counters with their role, term and
//      commit index; a single coordinator shows none
//  14. no console error, page error or dialog happened outside the moments
//      where the test caused network errors on purpose
import {chromium} from 'playwright-core';
import fs from 'node:fs/promises';
import path from 'node:path';

const [baseArg, artifacts] = process.argv.slice(2);
if (!baseArg || !artifacts) {
  console.error('usage: node console.mjs <baseURL> <artifacts dir>');
  process.exit(2);
}
const BASE = baseArg.replace(/\/*$/, '/');
const env = process.env;
const CONTROL = env.CROWD_E2E_CONTROL;
const AUTH_URL = env.CROWD_E2E_AUTH_URL && env.CROWD_E2E_AUTH_URL.replace(/\/*$/, '/');
const [LOGIN, ...passParts] = (env.CROWD_E2E_AUTH || '').split(':');
const PASSWORD = passParts.join(':');
const DELAY = Number(env.CROWD_E2E_UNIT_DELAY_MS || 400);
const WORKERS = Number(env.CROWD_E2E_WORKERS || 4);
const RETRIES = Number(env.CROWD_E2E_RETRIES || 2);
const BULK_URL = env.CROWD_E2E_BULK_URL && env.CROWD_E2E_BULK_URL.replace(/\/*$/, '/');
const CLUSTER_URL = env.CROWD_E2E_CLUSTER_URL && env.CROWD_E2E_CLUSTER_URL.replace(/\/*$/, '/');
const BULK_JOBS = Number(env.CROWD_E2E_BULK_JOBS || 0);
const ONLY = env.CROWD_E2E_ONLY ? new RegExp(env.CROWD_E2E_ONLY) : null;

const SCRIPT = '<script>alert(1)</script>';
const IMG = '<img src=x onerror=alert(2)>';
const EVIL_WORKER = '<img src=x onerror=alert(3)>';

// Debian's Chromium, headless, without the background traffic this
// machine's closed network refuses. Playwright gives each launch a fresh,
// empty profile directory of its own.
const LAUNCH = {
  executablePath: env.CROWD_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
};
const VIEWPORT = {width: 1440, height: 900};
const POLL_GRACE = 2500; // for the requests in flight when the network comes back

// ---------------------------------------------------------------- bookkeeping

const results = [];
const problems = []; // console errors, page errors, dialogs nobody expected
let expectNetworkErrors = false; // set while the test breaks the network on purpose
const t0 = Date.now();
const log = (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${s}`);

class CheckFailed extends Error {}
function fail(message) {
  throw new CheckFailed(message);
}

function watch(page, label) {
  page.on('console', (m) => {
    const text = m.text();
    const where = m.location() && m.location().url ? ` (${m.location().url})` : '';
    if (m.type() === 'error') {
      if (expectNetworkErrors && /Failed to load resource|net::ERR_/.test(text)) return;
      problems.push(`${label}: console error: ${text}${where}`);
    } else if (m.type() === 'warning' && /app\.js/.test(where)) {
      problems.push(`${label}: console warning from the console's code: ${text}${where}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`${label}: a ${d.type()} dialog fired: ${JSON.stringify(d.message())}`);
    d.dismiss().catch(() => {});
  });
}

async function shot(page, name, fullPage = true) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({path: file, fullPage}).catch((e) => log(`(screenshot ${name} failed: ${e.message})`));
  return file;
}

let mainPage = null;

async function check(name, fn) {
  if (ONLY && !ONLY.test(name)) return;
  const started = Date.now();
  try {
    await fn();
    results.push({name, ok: true});
    log(`ok    ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  } catch (e) {
    results.push({name, ok: false, error: e.message});
    log(`FAIL  ${name}: ${e instanceof CheckFailed ? e.message : e.stack || e.message}`);
    if (mainPage) await shot(mainPage, `failed-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
  }
}

// notYet(what) is a predicate's "not yet", saying what it saw instead.
class NotYet {
  constructor(seen) {
    this.seen = seen;
  }
}
const notYet = (seen) => new NotYet(seen);

// waitFor polls fn until it returns a truthy value other than notYet(…); on
// timeout it fails with what it was waiting for and the last thing it saw.
async function waitFor(what, fn, timeout = 15000, every = 100) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v && !(v instanceof NotYet)) return v;
      last = v instanceof NotYet ? v.seen : v;
    } catch (e) {
      last = `error: ${e.message}`;
    }
    if (Date.now() > end) fail(`timed out after ${timeout / 1000}s waiting for ${what}${last !== undefined && last !== false ? `; last seen: ${JSON.stringify(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the coordinator's API, from node

async function api(method, p, form, base = BASE, headers = {}) {
  const init = {method, headers: {...headers}};
  if (form) {
    init.body = new URLSearchParams(form);
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  const r = await fetch(new URL(p, base), init);
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return {status: r.status, text, json};
}

async function submit(doc) {
  const r = await api('POST', 'jobs', {job: JSON.stringify(doc)});
  if (r.status !== 200 || !r.json || !r.json.id) fail(`POST /jobs answered ${r.status} ${r.text}`);
  return r.json.id;
}

async function jobStatus(id) {
  const r = await api('GET', `jobs/${id}`);
  return r.status === 200 ? r.json : {status: `HTTP ${r.status}`};
}

async function control(what) {
  if (!CONTROL) fail('CROWD_E2E_CONTROL is not set: the Go test provides it');
  const r = await fetch(new URL(what, CONTROL.replace(/\/*$/, '/')), {method: 'POST'});
  if (!r.ok) fail(`control ${what} answered ${r.status} ${await r.text()}`);
}

const inputs = (n, prefix = 'item') => Array.from({length: n}, (_, i) => `${prefix}-${i + 1}`);

// ---------------------------------------------------------------- page helpers

async function open(page, hash = '') {
  await page.goto(BASE + hash);
  await waitLive(page);
}

async function waitLive(page, timeout = 15000) {
  await waitFor('the console to say it is live (#live-text)', async () => {
    const t = await page.textContent('#live-text');
    return /^live/.test(t) ? t : false;
  }, timeout);
}

// go shows a route of the console (opening it first if needed).
async function go(page, hash) {
  if (!page.url().startsWith(BASE)) {
    await open(page, hash);
    return;
  }
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
}

const attr = (page, sel, name) => page.$eval(sel, (e, n) => e.getAttribute(n), name).catch(() => null);
const text = (page, sel) => page.$eval(sel, (e) => e.textContent).catch(() => null);
const visible = (page, sel) => page.$eval(sel, (e) => !e.hidden && e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden').catch(() => false);

async function confirmDialog(page, expectTitle) {
  await waitFor('the confirmation dialog', () => page.$eval('#confirm', (d) => d.open));
  const title = await text(page, '#confirm-title');
  if (!title.includes(expectTitle)) fail(`the confirmation dialog says ${JSON.stringify(title)}, expected it to mention ${JSON.stringify(expectTitle)}`);
  await page.click('#confirm-ok');
}

// ---------------------------------------------------------------- checks

async function main() {
  await fs.mkdir(artifacts, {recursive: true});
  for (const f of await fs.readdir(artifacts)) { // failure shots of an earlier run
    if (/^failed-.*\.png$/.test(f)) await fs.rm(path.join(artifacts, f));
  }
  const browser = await chromium.launch(LAUNCH);
  const context = await browser.newContext({viewport: VIEWPORT});
  const page = await context.newPage();
  mainPage = page;
  watch(page, 'console page');

  await check('page loads without errors', async () => {
    const resp = await page.goto(BASE);
    if (!resp || resp.status() !== 200) fail(`GET / answered ${resp && resp.status()}`);
    await waitLive(page);
    await waitFor('the counters to be filled from console/summary', async () => {
      const v = await text(page, '.counter[data-key="workers"] b');
      return v && v !== '–' ? v : false;
    });
    for (const sel of ['#jobs-error', '#workers-error', '#paused-error']) {
      if (await visible(page, sel)) fail(`panel error ${sel}: ${await text(page, sel)}`);
    }
    await waitFor('the graphs to be drawn', () => page.$$eval('.graph canvas', (c) => c.length >= 3));
    await sleep(1000);
    if (problems.length) fail(`errors while loading:\n  ${problems.join('\n  ')}`);
  });

  await check('a submitted job shows in the bar and the table, moves, and reaches 100%', async () => {
    const units = Math.max(30, Math.ceil((WORKERS * 7000) / DELAY)); // about 7 s of work
    const id = await submit({action: 'e2e_echo', inputs: inputs(units, 'progress')});
    await go(page, '#/');
    const block = `#queue .qblock[data-key="${id}"]`;
    const row = `#jobs-body tr[data-key="${id}"]`;
    await waitFor(`job #${id} in the queue bar`, () => page.$(block), 10000);
    await waitFor(`job #${id} in the jobs table`, () => page.$(row), 10000);
    const label = await text(page, `${block} .qid`);
    if (label !== `#${id}`) fail(`the bar's block is labelled ${JSON.stringify(label)}, not "#${id}"`);
    const barSeen = new Set(), rowSeen = new Set();
    await waitFor(`job #${id} to complete`, async () => {
      const b = await text(page, `${block}:not(.leaving) .qpct`);
      const r = await attr(page, row, 'data-percent');
      if (b) barSeen.add(b);
      if (r !== null) rowSeen.add(Number(r));
      return (await jobStatus(id)).status === 'succeeded';
    }, 90000, 100);
    const between = (xs) => [...xs].map((x) => parseInt(x, 10)).filter((p) => p > 0 && p < 100);
    log(`      bar showed ${[...barSeen].join(' ')}; table showed ${[...rowSeen].map((p) => `${p}%`).join(' ')}`);
    if (!/^\d+%$/.test([...barSeen][0] || '')) fail(`the bar's label is not "NN%": ${[...barSeen][0]}`);
    if (between(barSeen).length < 2) fail(`the bar's percentage did not move: it showed ${[...barSeen].join(', ')}`);
    if (between(rowSeen).length < 2) fail(`the table's percentage did not move: it showed ${[...rowSeen].join(', ')}`);
    await waitFor(`job #${id} to leave the queue bar`, async () => !(await page.$(`${block}:not(.leaving)`)), 10000);
    await page.click('#job-tabs button[data-filter="complete"]');
    await waitFor(`job #${id} at 100% under "complete"`, async () => {
      const p = await attr(page, row, 'data-percent');
      const s = await attr(page, row, 'data-status');
      const shown = await text(page, `${row} .pct`);
      return p === '100' && s === 'succeeded' && shown === '100%' ? true : notYet({percent: p, status: s});
    }, 10000);
    await go(page, '#/');
  });

  await check('workers are listed with the unit they hold', async () => {
    const id = await submit({action: 'e2e_echo', inputs: inputs(WORKERS * 12, 'busy')});
    await go(page, '#/');
    await waitFor(`${WORKERS} workers listed`, async () => (await page.$$('#workers li[data-key]')).length >= WORKERS, 10000);
    const names = await page.$$eval('#workers li[data-key] .wname', (n) => n.map((x) => x.textContent));
    const ours = names.filter((n) => /^\d+\.\d+@e2e-host-\d$/.test(n));
    if (ours.length !== WORKERS) fail(`expected the ${WORKERS} test workers, the list shows ${JSON.stringify(names)}`);
    const pattern = new RegExp(`^job #${id} · unit #\\d+$`);
    const busy = await waitFor(`workers shown holding units of job #${id}`, async () => {
      const chips = await page.$$eval('#workers li[data-key] .wunit .chip', (n) => n.map((x) => x.textContent));
      const holding = chips.filter((c) => pattern.test(c));
      return holding.length >= Math.min(WORKERS, 2) ? holding : false;
    }, 15000);
    log(`      holding: ${busy.join(', ')}`);
    // CloudCrowd's bubble: click a busy worker, it asks GET worker/<name>.
    const bubbleText = await waitFor('a worker bubble naming its job and unit', async () => {
      const li = await page.$(`#workers li[data-key]:has(.wunit a)`);
      if (!li) return false;
      await (await li.$('.wname')).click();
      const t = await waitFor('the bubble', async () => {
        const s = await text(page, '#bubble');
        return (await visible(page, '#bubble')) && s && !s.includes('asking') ? s : false;
      }, 5000);
      return new RegExp(`job #${id} / unit #\\d+`).test(t) ? t : false;
    }, 15000, 300);
    log(`      bubble: ${(await page.innerText('#bubble')).replace(/\s*\n\s*/g, ' · ')}`);
    await page.mouse.click(5, 300); // a click elsewhere hides it
    await waitFor('the bubble to hide', async () => !(await visible(page, '#bubble')), 3000);
    const del = await api('DELETE', `jobs/${id}`);
    if (del.status !== 204) fail(`DELETE jobs/${id} answered ${del.status}`);
  });

  await check('graphs have data after a reload', async () => {
    await waitFor('console/history to hold 5 points', async () => {
      const r = await api('GET', 'console/history');
      return r.status === 200 && r.json.points && r.json.points.length >= 5 ? true : notYet(`HTTP ${r.status} ${r.text.slice(0, 80)}`);
    }, 20000, 500);
    await page.reload();
    await waitLive(page);
    for (const id of ['graph-queue', 'graph-rate', 'graph-workers']) {
      await waitFor(`#${id} to hold at least 5 points`, async () => Number(await attr(page, `#${id}`, 'data-points')) >= 5, 10000);
    }
    // The series are drawn: count pixels of each series' colour on its canvas.
    const counts = await page.evaluate(() => {
      const css = getComputedStyle(document.documentElement);
      const rgb = (name) => {
        const n = parseInt(css.getPropertyValue(name).trim().slice(1), 16);
        return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
      };
      const count = (sel, color) => {
        const canvas = document.querySelector(`${sel} canvas`);
        const {data} = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3] > 200 && Math.abs(data[i] - color[0]) + Math.abs(data[i + 1] - color[1]) + Math.abs(data[i + 2] - color[2]) < 60) n++;
        }
        return n;
      };
      return {
        queue: count('#graph-queue', rgb('--c-queued')),
        rate: count('#graph-rate', rgb('--c-rate')),
        workers: count('#graph-workers', rgb('--c-workers')),
      };
    });
    log(`      series pixels: ${JSON.stringify(counts)}`);
    for (const [k, n] of Object.entries(counts)) if (n < 20) fail(`the ${k} graph shows no series line (${n} pixels of its colour)`);
    await shot(page, 'graphs', false);
  });

  await check('delete a job from its page', async () => {
    const id = await submit({action: 'e2e_echo', inputs: inputs(200, 'doomed')});
    await go(page, `#/jobs/${id}`);
    await waitFor(`job #${id}'s page`, async () => (await text(page, '#job-title')) === `Job #${id}` && (await text(page, '#job-status')) !== '' && (await page.$$('#units-body tr[data-key]')).length > 0, 10000);
    await page.click('#job-delete');
    await confirmDialog(page, `Delete job #${id}`);
    await waitFor('the console to go back to the jobs list', () => page.evaluate(() => location.hash === '#/'), 5000);
    await waitFor(`GET jobs/${id} to answer 404`, async () => (await api('GET', `jobs/${id}`)).status === 404, 5000);
    await waitFor(`job #${id} to leave the table and the bar`, async () =>
      !(await page.$(`#jobs-body tr[data-key="${id}"]`)) && !(await page.$(`#queue .qblock[data-key="${id}"]:not(.leaving)`)), 5000);
  });

  let failedJob = null;
  await check('retry the failed units of a failed job', async () => {
    const id = await submit({action: 'e2e_echo', inputs: ['fail-one', 'fail-two', 'fine']});
    failedJob = id;
    await go(page, `#/jobs/${id}`);
    await waitFor(`job #${id} to fail`, async () => (await text(page, '#job-status')) === 'failed', 30000);
    const failed = await waitFor('two failed units listed', async () => {
      const rows = await page.$$eval('#units-body tr[data-state="failed"]', (trs) => trs.map((tr) => ({
        input: tr.querySelector('.input').textContent,
        errors: [...tr.querySelectorAll('.errors li')].map((li) => li.textContent),
      })));
      return rows.length === 2 ? rows : false;
    }, 10000);
    for (const u of failed) {
      if (u.errors.length !== RETRIES || !u.errors.every((e) => /simulated failure/.test(e))) {
        fail(`unit ${u.input} should list the error of each of its ${RETRIES} failed attempts; it shows ${JSON.stringify(u.errors)}`);
      }
    }
    await shot(page, 'job-failed');
    await page.click('#job-retry');
    await confirmDialog(page, `Retry job #${id}`);
    await waitFor(`job #${id} to run its failed units again and succeed`, async () => {
      const s = await text(page, '#job-status');
      const states = await page.$$eval('#units-body tr[data-key]', (trs) => trs.map((tr) => tr.dataset.state));
      return s === 'succeeded' && states.length === 3 && states.every((x) => x === 'succeeded') ? true : notYet({status: s, units: states});
    }, 30000);
    const outputs = await page.$$eval('#job-outputs li pre', (p) => p.map((x) => x.textContent));
    if (JSON.stringify(outputs) !== JSON.stringify(['fail-one', 'fail-two', 'fine'])) fail(`the outputs read ${JSON.stringify(outputs)}`);
  });

  let xssJob = null;
  await check('user-supplied text is escaped', async () => {
    const id = await submit({action: 'e2e_echo', inputs: [SCRIPT, IMG], options: {note: SCRIPT, html: IMG}});
    xssJob = id;
    await waitFor(`job #${id} to complete`, async () => (await jobStatus(id)).status === 'succeeded', 30000);
    const checkin = await api('PUT', 'worker', {name: EVIL_WORKER, thread_status: SCRIPT});
    if (checkin.status !== 204) fail(`PUT /worker with a hostile name answered ${checkin.status} ${checkin.text}`);
    try {
      await go(page, `#/jobs/${id}`);
      await waitFor(`job #${id}'s page with its outputs`, async () => (await page.$$('#job-outputs li pre')).length === 2, 10000);
      const where = {
        options: await text(page, '#job-options'),
        outputs: await text(page, '#job-outputs'),
        inputs: await text(page, '#units-body'),
      };
      for (const [k, v] of Object.entries(where)) {
        if (!v.includes(SCRIPT) || !v.includes(IMG)) fail(`the job's ${k} should show ${SCRIPT} and ${IMG} as text; it reads ${JSON.stringify(v)}`);
      }
      for (const s of [SCRIPT, IMG]) {
        if (!(await page.getByText(s, {exact: true}).first().isVisible())) fail(`${s} is not visible as text on the job's page`);
      }
      await shot(page, 'job-escaped');
      await go(page, '#/');
      const li = `#workers li[data-key="${EVIL_WORKER.replace(/"/g, '\\"')}"]`;
      await waitFor('the hostile worker name in the workers list', async () => (await text(page, `${li} .wname`)) === EVIL_WORKER, 10000);
      await page.click(`${li} .wname`);
      await waitFor('its bubble, with the name as text', async () => (await text(page, '#bubble .bubble-title')) === EVIL_WORKER, 5000);
      await page.mouse.click(5, 300);
      const made = await page.evaluate(() => ({
        imgs: document.querySelectorAll('img').length,
        scripts: [...document.scripts].map((s) => s.src.replace(location.origin, '')),
      }));
      if (made.imgs) fail(`${made.imgs} <img> element(s) were made from data`);
      if (made.scripts.length !== 2 || made.scripts.some((s) => !/^\/console\/static\//.test(s))) fail(`unexpected scripts: ${JSON.stringify(made.scripts)}`);
      await sleep(500);
      const dialogs = problems.filter((p) => p.includes('dialog fired'));
      if (dialogs.length) fail(dialogs.join('; '));
    } finally {
      await api('PUT', 'worker', {name: EVIL_WORKER, terminated: 'true'});
    }
  });

  await check('pause and resume an action', async () => {
    await go(page, '#/');
    await page.fill('#pause-action', 'word_count');
    await page.click('#pause-form button[type="submit"]');
    const li = '#paused li[data-key="word_count"]';
    await waitFor('word_count in the paused list', () => page.$(li), 5000);
    await waitFor('the header to say word_count is paused', async () => (await visible(page, '#paused-note')) && (await text(page, '#paused-note')).includes('word_count'), 5000);
    const bl = await api('GET', 'blacklist');
    if (bl.status !== 200 || !bl.json.some((p) => p.action === 'word_count')) fail(`GET blacklist answered ${bl.status} ${bl.text}`);
    const id = await submit({action: 'word_count', inputs: ['one two three', 'four five']});
    await sleep(3 * DELAY + 2000);
    const held = await jobStatus(id);
    if (held.percent_complete !== 0) fail(`job #${id} of a paused action progressed: ${JSON.stringify(held)}`);
    const row = await attr(page, `#jobs-body tr[data-key="${id}"]`, 'data-percent');
    if (row !== '0') fail(`the table shows job #${id} of the paused action at ${row}%`);
    await page.click(`${li} button`);
    await waitFor('word_count to leave the paused list', async () => !(await page.$(li)), 5000);
    await waitFor(`job #${id} to run once resumed`, async () => (await jobStatus(id)).status === 'succeeded', 20000);
    if (await visible(page, '#paused-note')) fail('the header still says an action is paused');
  });

  await check('screenshots of a busy console', async () => {
    const sizes = [180, 90, 60, 140, 24, 40, 12, 8, 30, 16];
    const ids = [];
    for (const [i, n] of sizes.entries()) {
      ids.push(await submit({action: i % 3 === 1 ? 'e2e_merge' : 'e2e_echo', inputs: inputs(n, `batch${i}`), options: {batch: i}}));
    }
    await go(page, '#/');
    await page.reload();
    await waitLive(page);
    await sleep(4000);
    log(`      dashboard: ${await shot(page, 'dashboard')}`);
    await page.emulateMedia({colorScheme: 'dark'});
    await sleep(1600);
    log(`      dark: ${await shot(page, 'dashboard-dark')}`);
    await page.emulateMedia({colorScheme: 'light'});
    await go(page, `#/jobs/${ids[0]}`);
    await waitFor(`job #${ids[0]}'s units`, async () => (await page.$$('#units-body tr[data-key]')).length > 0, 10000);
    await sleep(1600);
    log(`      job page: ${await shot(page, 'job')}`);
    await go(page, '#/');
  });

  await check('the Disconnected banner comes and goes', async () => {
    await go(page, '#/');
    await waitLive(page);
    if (await visible(page, '#disconnected')) fail('the banner shows while the coordinator answers');
    expectNetworkErrors = true;
    try {
      await control('down');
      await waitFor('the Disconnected banner', () => visible(page, '#disconnected'), 10000);
      const t = await text(page, '#disconnected');
      if (!/Disconnected/.test(t)) fail(`the banner reads ${JSON.stringify(t)}`);
      await sleep(500);
      log(`      disconnected: ${await shot(page, 'disconnected', false)}`);
      await control('up');
      await waitFor('the banner to go once the coordinator answers', async () => !(await visible(page, '#disconnected')), 10000);
      await waitLive(page, 5000);
    } finally {
      await control('up').catch(() => {});
      await sleep(POLL_GRACE);
      expectNetworkErrors = false;
    }
  });

  await check('with auth on, the console needs credentials', async () => {
    if (!AUTH_URL || !LOGIN) fail('CROWD_E2E_AUTH_URL and CROWD_E2E_AUTH are not set: the Go test provides them');
    // Without credentials: 401 for the page, its files and its data.
    const anon = await browser.newContext({viewport: VIEWPORT});
    try {
      const p = await anon.newPage();
      const statuses = [];
      p.on('response', (r) => r.url() === AUTH_URL && statuses.push(r.status()));
      try {
        await p.goto(AUTH_URL);
      } catch (e) {
        // Chromium, asked for credentials it does not have, ends the navigation so.
        if (!/ERR_INVALID_AUTH_CREDENTIALS/.test(e.message)) throw e;
      }
      if (statuses[0] !== 401) fail(`GET / without credentials answered ${statuses.join(', ') || 'nothing'}, want 401`);
      await sleep(500);
      if (await p.$('#queue').catch(() => null)) fail('the console page was shown without credentials');
    } finally {
      await anon.close();
    }
    for (const f of ['console/static/app.js', 'console/static/app.css', 'status', 'console/summary']) {
      const r = await api('GET', f, null, AUTH_URL);
      if (r.status !== 401) fail(`GET ${f} without credentials answered ${r.status}, want 401`);
    }
    // With credentials (Playwright's httpCredentials), the console works.
    const authed = await browser.newContext({viewport: VIEWPORT, httpCredentials: {username: LOGIN, password: PASSWORD, send: 'always'}});
    try {
      const p = await authed.newPage();
      watch(p, 'console page with auth');
      const resp = await p.goto(AUTH_URL);
      if (resp.status() !== 200) fail(`GET / with credentials answered ${resp.status()}`);
      await waitLive(p);
      await waitFor('the counters, with credentials', async () => (await text(p, '.counter[data-key="workers"] b')) !== '–', 10000);
      if (await visible(p, '#jobs-error')) fail(`jobs panel: ${await text(p, '#jobs-error')}`);
    } finally {
      await authed.close();
    }
    // Credentials in the URL: the page's own requests must still work.
    const inUrl = new URL(AUTH_URL);
    inUrl.username = encodeURIComponent(LOGIN);
    inUrl.password = encodeURIComponent(PASSWORD);
    const urlCtx = await browser.newContext({viewport: VIEWPORT});
    try {
      const p = await urlCtx.newPage();
      watch(p, 'console page with credentials in its URL');
      const resp = await p.goto(inUrl.href);
      if (resp.status() !== 200) fail(`GET / with credentials in the URL answered ${resp.status()}`);
      await waitLive(p);
    } finally {
      await urlCtx.close();
    }
  });

  await check(`the console stays fast with ${BULK_JOBS.toLocaleString('en-US')} jobs`, async () => {
    if (!BULK_URL || !BULK_JOBS) fail('CROWD_E2E_BULK_URL and CROWD_E2E_BULK_JOBS are not set: the Go test provides them');
    const fmt = (n) => n.toLocaleString('en-US');
    await waitFor(`the coordinator to hold ${fmt(BULK_JOBS)} jobs`, async () => {
      const r = await api('GET', 'console/summary', null, BULK_URL);
      return r.json && r.json.jobs.total >= BULK_JOBS ? true : notYet(r.json ? r.json.jobs.total : r.status);
    }, 300000, 1000);
    const p = await context.newPage();
    watch(p, 'console page with many jobs');
    try {
      let t = Date.now();
      await p.goto(BULK_URL);
      await waitFor('a full first page of jobs', async () => (await p.$$('#jobs-body tr[data-key]')).length === 50, 10000);
      const first = Date.now() - t;
      const count = await text(p, '#job-tabs button[data-filter="incomplete"] .tab-count');
      if (count !== fmt(BULK_JOBS)) fail(`the Incomplete tab counts ${count}, want ${fmt(BULK_JOBS)}`);
      await waitFor('the note of the jobs beyond the bar', async () => (await text(p, '#queue-more')).includes(fmt(BULK_JOBS - 60)), 5000);
      t = Date.now();
      await p.click('#jobs-pager button[data-page="last"]');
      const range = `${fmt(BULK_JOBS - 49)}–${fmt(BULK_JOBS)} of ${fmt(BULK_JOBS)} jobs`;
      await waitFor(`the last page (${range})`, async () => (await text(p, '#jobs-range')) === range && (await attr(p, '#jobs-body tr[data-key]', 'data-key')) === String(BULK_JOBS - 49), 10000);
      const last = Date.now() - t;
      await sleep(3500); // a couple of polls on the last page
      const polls = await p.evaluate(() => performance.getEntriesByType('resource')
        .filter((e) => !/\/console\/static\//.test(e.name))
        .map((e) => ({url: e.name.replace(location.origin, ''), ms: Math.round(e.duration), bytes: e.encodedBodySize})));
      const slowest = polls.reduce((a, b) => (b.ms > a.ms ? b : a), {ms: 0});
      const biggest = polls.reduce((a, b) => (b.bytes > a.bytes ? b : a), {bytes: 0});
      log(`      first page in ${first} ms, last page in ${last} ms; ${polls.length} requests, slowest ${slowest.ms} ms (${slowest.url}), biggest ${fmt(biggest.bytes)} bytes (${biggest.url})`);
      if (first > 5000 || last > 5000) fail(`too slow: first page ${first} ms, last page ${last} ms`);
      if (biggest.bytes > 256 * 1024) fail(`a poll moved ${fmt(biggest.bytes)} bytes: ${biggest.url}`);
      await shot(p, 'many-jobs', false);
    } finally {
      await p.close();
    }
  });

  await check("a cluster's nodes show with their role, term and commit index", async () => {
    if (!CLUSTER_URL) fail('CROWD_E2E_CLUSTER_URL is not set: the Go test provides it');
    if (!(await page.$eval('#cluster', (e) => e.hidden))) fail('a single coordinator shows a cluster');
    const p = await context.newPage();
    watch(p, 'console page of a cluster');
    try {
      await p.goto(CLUSTER_URL);
      await waitLive(p);
      await waitFor('three nodes in the counters', async () => (await p.$$('#cluster .counter.node')).length === 3, 10000);
      const nodes = await p.$$eval('#cluster .counter.node', (ns) => ns.map((n) => ({role: n.dataset.role, text: n.textContent})));
      const want = [
        {role: 'leader', text: 'leadern0 · term 7 · commit 1,234'},
        {role: 'follower', text: 'followern1 · term 7 · commit 1,230'},
        {role: 'unreachable', text: 'unreachablen2'},
      ];
      if (JSON.stringify(nodes) !== JSON.stringify(want)) fail(`the nodes show as ${JSON.stringify(nodes)}, want ${JSON.stringify(want)}`);
      await shot(p, 'cluster', false);
    } finally {
      await p.close();
    }
  });

  await check('no console errors, page errors or dialogs', async () => {
    if (problems.length) fail(`\n  ${problems.join('\n  ')}`);
  });

  await browser.close();
  const failed = results.filter((r) => !r.ok);
  log(`${results.length - failed.length} of ${results.length} checks passed; screenshots in ${artifacts}`);
  for (const f of failed) log(`  failed: ${f.name}`);
  return failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
