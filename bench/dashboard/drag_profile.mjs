#!/usr/bin/env node
// Where the main thread's time goes while dragging a node of the 300-node agent: the drag of
// measure.mjs (same node, 30 moves, one per frame) on a running, seeded server, with Chromium's
// tracing or its CPU profiler on. Not run by dashboard.sh; a tool for finding what to fix.
//
//   python3 bench/dashboard/seed.py setup --url $URL --log $DATA/server.log --out state.json --calls 0
//   (then `parley user set-password` for owner@parley.local, as dashboard.sh does)
//   STATE=state.json PARLEY_EMAIL=owner@parley.local PARLEY_PASSWORD=… \
//     DISTS=web/dist,/tmp/old-dist RUNS=3 MODE=trace node bench/dashboard/drag_profile.mjs
//
// DISTS: builds of the dashboard to compare (served for /app/ as measure.mjs does), alternating.
// MODE: frames (frame intervals only), trace (main-thread time by trace event, the sum of
// top-level tasks per frame; the trace is written to OUT), cpu (a V8 CPU profile, the functions
// with the most self time; the .cpuprofile is written to OUT, open it in DevTools; build with
// `npx vite build --minify false --outDir …` for readable names). CSS: a style sheet added before
// the drag (to try what hiding something would save). The agent's draft is discarded before each
// drag, so each starts from the same flow.
import { createRequire } from 'node:module';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../web/package.json'));
const { chromium } = require('playwright-core');
const state = JSON.parse(readFileSync(process.env.STATE, 'utf8'));
const MODE = process.env.MODE ?? 'frames';
const RUNS = Number(process.env.RUNS ?? 3);
const dists = (process.env.DISTS ?? path.join(here, '../../web/dist')).split(',').map((d) => path.resolve(d));
const OUT = process.env.OUT ?? '/tmp';
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.svg': 'image/svg+xml' };
async function serveDist(context, dist) {
  await context.route(/\/app(\/|$)/, async (route) => {
    const url = new URL(route.request().url());
    const rel = url.pathname.replace(/^\/app\/?/, '');
    let file = path.join(dist, rel);
    if (!rel || !existsSync(file)) file = path.join(dist, 'index.html');
    const served = await route.fetch();
    const headers = { ...served.headers() };
    delete headers['content-encoding']; delete headers['content-length']; delete headers['etag'];
    headers['content-type'] = TYPES[path.extname(file)] ?? 'application/octet-stream';
    await route.fulfill({ status: 200, headers, body: readFileSync(file) });
  });
}
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]; };
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-gpu'] });
async function signIn() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${state.url}/app/signin?redirect=%2Fagents`);
  await page.getByLabel('Email').fill(process.env.PARLEY_EMAIL);
  await page.getByLabel('Password').fill(process.env.PARLEY_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Voice Agents' }).waitFor();
  const s = await context.storageState(); await context.close(); return s;
}
const storage = await signIn();
async function drag(dist, tag) {
  await fetch(`${state.url}/interview/${state.big_agent}/draft`, { method: 'DELETE', headers: { 'x-api-token': state.token, team_id: state.team } }).then((r) => { if (process.env.VERBOSE) console.log('discard', r.status); });
  const context = await browser.newContext({ storageState: storage, viewport: { width: 1280, height: 800 } });
  await serveDist(context, dist);
  const page = await context.newPage();
  await page.goto(`${state.url}/app/agents/${state.big_agent}`);
  await page.locator('[data-outline-row]').nth(299).waitFor({ state: 'attached' });
  await page.locator('.react-flow__node').first().waitFor();
  if (process.env.CSS) await page.addStyleTag({ content: process.env.CSS });
  await page.waitForTimeout(1500);
  const canvas = await page.getByTestId('canvas').boundingBox();
  const target = await page.evaluate(({ box }) => {
    let best = null; const cx = box.x + box.width / 2; const cy = box.y + box.height / 2;
    for (const el of document.querySelectorAll('.react-flow__node')) {
      const r = el.getBoundingClientRect(); const x = r.x + r.width / 2; const y = r.y + r.height / 2;
      if (!(r.width > 0 && r.x >= box.x && r.y >= box.y && r.right <= box.x + box.width && r.bottom <= box.y + box.height)) continue;
      if (document.elementFromPoint(x, y)?.closest('.react-flow__node') !== el) continue;
      const d = Math.hypot(x - cx, y - cy);
      if (!best || d < best.d) best = { id: el.dataset.id, x, y, d };
    }
    return best;
  }, { box: canvas });
  const vp0 = await page.evaluate(() => document.querySelector('.react-flow__viewport').style.transform);
  if (process.env.VERBOSE) console.log('canvas', JSON.stringify(canvas), 'target', JSON.stringify(target), vp0);
  const cdp = await context.newCDPSession(page);
  if (MODE === 'cpu') { await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 100 }); await cdp.send('Profiler.start'); }
  let traceDone;
  if (MODE === 'trace') {
    const chunks = [];
    cdp.on('Tracing.dataCollected', (e) => chunks.push(...e.value));
    traceDone = new Promise((r) => cdp.on('Tracing.tracingComplete', () => r(chunks)));
    await cdp.send('Tracing.start', { categories: 'devtools.timeline,disabled-by-default-devtools.timeline,v8.execute,blink.user_timing', transferMode: 'ReportEvents' });
  }
  await page.evaluate(() => {
    window.__frames = []; window.__long = []; window.__rec = true;
    const tick = (t) => { window.__frames.push(t); if (window.__rec) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration))).observe({ type: 'longtask' });
  });
  const nextFrame = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  await page.mouse.move(target.x, target.y);
  await page.mouse.down();
  for (let i = 1; i <= 30; i++) { await page.mouse.move(target.x + (240 * i) / 30, target.y + (150 * i) / 30); await nextFrame(); }
  await page.mouse.up(); await nextFrame(); await nextFrame();
  const { frames, long } = await page.evaluate(() => { window.__rec = false; return { frames: window.__frames, long: window.__long }; });
  let cpuProfile = null; // PROFSTOP
  if (MODE === 'cpu') cpuProfile = (await cdp.send('Profiler.stop')).profile;
  if (process.env.VERBOSE) console.log('after', await page.evaluate(() => document.querySelector('.react-flow__viewport').style.transform));
  nFrames = frames.length;
  const info = await page.evaluate((id) => ({ n: document.querySelectorAll('.react-flow__node').length, el: document.querySelectorAll('[data-testid=canvas] *').length, vp: document.querySelector('.react-flow__viewport').style.transform, tr: document.querySelector(`.react-flow__node[data-id="${id}"]`)?.style.transform }), target.id);
  if (process.env.VERBOSE) console.log('  info', target.id, JSON.stringify(info));
  const undo = await page.getByRole('button', { name: 'Undo' }).isEnabled();
  if (MODE === 'cpu') {
    const profile = cpuProfile;
    writeFileSync(path.join(OUT, `drag-${tag}.cpuprofile`), JSON.stringify(profile));
    summarizeCpu(profile);
  }
  if (MODE === 'trace') {
    await cdp.send('Tracing.end');
    const ev = await traceDone;
    writeFileSync(path.join(OUT, `drag-${tag}.trace.json`), JSON.stringify({ traceEvents: ev }));
    summarizeTrace(ev);
  }
  await context.close();
  const iv = frames.slice(1).map((t, i) => t - frames[i]);
  return { busy: lastBusy, p50: pct(iv, 50), p95: pct(iv, 95), max: Math.max(...iv), over: iv.filter((d) => d > 16.7).length / iv.length, late: iv.filter((d) => d > 25).length, n: iv.length, long: long.length, longMax: long.length ? Math.max(...long) : 0, undo };
}
function summarizeCpu(p) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map(); const dt = p.timeDeltas; const counts = new Map();
  p.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
  let total = 0;
  for (const [id, us] of counts) {
    const n = byId.get(id); const cf = n.callFrame;
    const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').pop()}:${cf.lineNumber}:${cf.columnNumber}`;
    self.set(key, (self.get(key) ?? 0) + us); if (cf.functionName !== '(idle)') total += us;
  }
  console.log(`cpu total non-idle ${(total / 1000).toFixed(0)} ms`);
  [...self].sort((a, b) => b[1] - a[1]).slice(0, 40).forEach(([k, us]) => console.log(`  ${(us / 1000).toFixed(1).padStart(7)} ms  ${k}`));
}
function summarizeTrace(ev) {
  const main = ev.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const tid = main?.tid; const pid = main?.pid;
  const sum = new Map();
  for (const e of ev) if (e.tid === tid && e.pid === pid && e.ph === 'X' && e.dur) sum.set(e.name, (sum.get(e.name) ?? 0) + e.dur);
  // self time per name (nesting removed) + busy = sum of top-level tasks
  const xs = ev.filter((e) => e.tid === tid && e.pid === pid && e.ph === 'X' && e.dur != null).sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const stack = []; let busy = 0; const self = new Map();
  for (const e of xs) { while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop(); if (stack.length) stack.at(-1)._c = (stack.at(-1)._c ?? 0) + e.dur; else busy += e.dur; stack.push(e); }
  for (const e of xs) self.set(e.name, (self.get(e.name) ?? 0) + e.dur - (e._c ?? 0));
  const g = (k) => ((self.get(k) ?? 0) / 1000).toFixed(0);
  const js = ['FunctionCall', 'RunMicrotasks', 'FireAnimationFrame', 'EventDispatch', 'TimerFire', 'RunTask', 'V8.BytecodeBudgetInterrupt', 'MinorGC'].reduce((a, k) => a + (self.get(k) ?? 0), 0) / 1000;
  lastBusy = busy / 1000;
  console.log(`  BUSY ${(busy / 1000).toFixed(0)} ms, ${(busy / 1000 / nFrames).toFixed(1)}/frame: js+tasks ${js.toFixed(0)}, Layerize ${g('Layerize')}, Commit ${g('Commit')}, PrePaint ${g('PrePaint')}, Paint ${g('Paint')}, Layout ${g('Layout')}, Style ${g('UpdateLayoutTree')}, HitTest ${g('HitTest')}`);
  if (!process.env.VERBOSE) return;
  [...sum].sort((a, b) => b[1] - a[1]).slice(0, 25).forEach(([k, us]) => console.log(`  ${(us / 1000).toFixed(1).padStart(7)} ms  ${k}`));
}
let lastBusy = null; let nFrames = 1;
const res = {};
for (let i = 0; i < RUNS; i++) for (const [j, d] of dists.entries()) {
  const r = await drag(d, `run${i}-d${j}`);
  (res[d] ??= []).push(r);
  console.log(`${d} run ${i}: p50 ${r.p50.toFixed(1)} p95 ${r.p95.toFixed(1)} max ${r.max.toFixed(1)} over16 ${(r.over * 100).toFixed(0)}% late ${r.late} frames ${r.n} long ${r.long} (max ${r.longMax.toFixed(0)}) undo=${r.undo}`);
}
for (const [d, rs] of Object.entries(res)) {
  const m = (k) => pct(rs.map((r) => r[k]), 50);
  console.log(`MEDIAN ${d}: p50 ${m('p50').toFixed(1)} p95 ${m('p95').toFixed(1)} max ${m('max').toFixed(1)} over16 ${(m('over') * 100).toFixed(0)}% late ${m('late')} long ${m('long')} busy ${m('busy')}`);
}
await browser.close();
