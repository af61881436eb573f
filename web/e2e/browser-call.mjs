// "Test in browser", end to end (called by run.mjs): a SECOND Chromium launched with a fake
// microphone that plays a WAV generated now (espeak-ng: "Yes, I can make it.", after 3 s of
// silence, sox; Chromium loops the file), signs in, creates an agent start → question (yes_no,
// `confirmed`) → end through the API with the session, presses "Test in browser" on its editor
// and waits for the call to end. The agent must have heard the answer: the call (GET
// /interview_response/{id} from node, with the session cookie) is a BROWSER_CALL, ENDED, with
// `confirmed` true. Also: the question node was lit on the canvas during the call, the walk's
// last node at the end, no CSP refusal (the worklet loads from /app/assets), axe on the panel,
// screenshot agent-test-in-browser.png.
import AxeBuilder from '@axe-core/playwright';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FLOW = {
  nodes: [
    { id: 'start', type: 'start', position: { x: 0, y: 0 }, data: {} },
    { id: 'ask', type: 'question', position: { x: 0, y: 170 }, data: { question: 'Can you make it on Thursday?', variable: 'confirmed', kind: 'yes_no' } },
    { id: 'yes', type: 'end', position: { x: -150, y: 340 }, data: { outcome: 'confirmed', message: 'Great. Goodbye.' } },
    { id: 'no', type: 'end', position: { x: 150, y: 340 }, data: { outcome: 'declined', message: 'Okay. Goodbye.' } },
  ],
  edges: [
    { id: 'e1', source: 'start', sourceHandle: 'next', target: 'ask' },
    { id: 'e2', source: 'ask', sourceHandle: 'yes', target: 'yes' },
    { id: 'e3', source: 'ask', sourceHandle: 'no', target: 'no' },
    { id: 'e4', source: 'ask', sourceHandle: 'no_match', target: 'no' },
  ],
};

/** The fake microphone's file: 16-bit mono PCM WAV, the answer after 3 s of silence (and 2 s after). */
function answerWav(dir) {
  const raw = path.join(dir, 'answer-raw.wav');
  const wav = path.join(dir, 'answer.wav');
  execFileSync('espeak-ng', ['-s', '150', '-w', raw, 'Yes, I can make it.']);
  execFileSync('sox', [raw, '-b', '16', '-c', '1', '-r', '48000', '-e', 'signed-integer', wav, 'pad', '3', '2']);
  return wav;
}

export async function browserCallChecks({ chromium, step, expect, BASE, EMAIL, PASSWORD, SHOTS, TIMEOUT, teamId, stamp }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-mic-'));
  let browser = null;
  let page = null;
  let agentId = '';
  let callId = '';
  let cookie = '';
  const problems = [];
  try {
    await step('test in browser: a second Chromium with a fake microphone speaking a generated answer, signed in', async () => {
      const wav = answerWav(dir);
      browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          '--disable-gpu',
          '--use-fake-ui-for-media-stream',
          '--use-fake-device-for-media-stream',
          `--use-file-for-fake-audio-capture=${wav}`,
          '--autoplay-policy=no-user-gesture-required',
        ],
      });
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
      context.setDefaultTimeout(TIMEOUT);
      page = await context.newPage();
      page.on('pageerror', (e) => problems.push(`uncaught error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
      });
      await page.goto(`${BASE}/app/signin?redirect=%2Fagents`, { waitUntil: 'domcontentloaded' });
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Voice Agents' }).waitFor();
      cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    }, { fatal: false });
    if (!page) return;

    await step('test in browser: an agent start → question (yes_no, confirmed) → end, created with the session', async () => {
      const r = await page.evaluate(
        async ([team, title, flow]) => {
          const user = await (await fetch('/user')).json();
          const csrf = (user.data ?? user).csrf_token;
          const res = await fetch('/interview/create', {
            method: 'POST',
            headers: { 'content-type': 'application/json', team_id: team, 'x-csrf-token': csrf },
            body: JSON.stringify({ title, flow }),
          });
          return { status: res.status, body: await res.json().catch(() => null) };
        },
        [teamId(), `Browser test ${stamp}`, FLOW],
      );
      expect(r.status === 200 || r.status === 201, `POST /interview/create answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
      agentId = (r.body.data ?? r.body).id;
      expect(agentId, 'no agent id');
    });
    if (!agentId) return;

    let litDuring = [];
    await step('test in browser: press it, the agent asks, hears the fake mic answer and the call ends (≤ 90 s)', async () => {
      await page.goto(`${BASE}/app/agents/${agentId}`, { waitUntil: 'domcontentloaded' });
      await page.locator('.react-flow__node[data-id="ask"]').waitFor();
      await page.getByRole('button', { name: 'Test in browser' }).click();
      const panel = page.getByRole('region', { name: 'Test in browser' });
      await panel.waitFor();
      await page.locator('[data-testid="tib-status"][data-phase="live"]').waitFor({ timeout: 20_000 });
      await panel.getByRole('button', { name: 'Hang up' }).waitFor();
      const deadline = Date.now() + 90_000;
      let phase = '';
      while (Date.now() < deadline) {
        phase = (await page.getByTestId('tib-status').getAttribute('data-phase')) ?? '';
        const lit = await page.locator('.react-flow__node:has([data-live-node="true"])').getAttribute('data-id').catch(() => null);
        if (lit && litDuring.at(-1) !== lit) litDuring.push(lit);
        if (phase !== 'live' && phase !== 'connecting' && phase !== 'mic') break;
        await page.waitForTimeout(250);
      }
      const status = await page.getByTestId('tib-status').textContent();
      expect(phase === 'ended', `the call did not end within 90 s (phase ${phase}: ${status})`);
      // The final result (outcome, variables) shows once the call's final status is written.
      await page.getByTestId('tib-outcome').waitFor({ timeout: 30_000 });
      callId = (await panel.getByRole('link', { name: 'Open the call’s page' }).getAttribute('href'))?.split('/').pop() ?? '';
      expect(callId, 'no link to the call page');
    });

    await step('test in browser: the call is a BROWSER_CALL and captured confirmed = true (from node)', async () => {
      expect(callId, 'no call');
      const res = await fetch(`${BASE}/interview_response/${callId}`, { headers: { cookie, team_id: teamId() } });
      const body = await res.json();
      const call = body.data ?? body;
      const said = (call.conversation_history ?? []).map((t) => `${t.author}: ${t.text}`).join(' | ');
      expect(res.status === 200, `GET /interview_response/${callId} answered ${res.status}`);
      expect(call.type === 'BROWSER_CALL', `call type ${call.type}`);
      expect(call.status === 'ENDED', `status ${call.status} (${call.end_reason ?? ''}); heard: ${said}`);
      expect(call.variables?.confirmed === true, `confirmed = ${JSON.stringify(call.variables?.confirmed)}, outcome ${call.outcome}; heard: ${said}`);
      expect(call.outcome === 'confirmed', `outcome ${call.outcome}`);
    });

    await step('test in browser: the question node lit during the call, the walk’s last node at the end; panel shows the result', async () => {
      expect(litDuring.includes('ask'), `nodes lit during the call: ${JSON.stringify(litDuring)}`);
      const last = await page.locator('.react-flow__node:has([data-live-node="true"])').getAttribute('data-id');
      expect(last === 'yes', `lit at the end: ${last}`);
      const vars = await page.getByTestId('tib-variables').textContent();
      expect(/confirmed\s*true/.test(vars ?? ''), `variables shown: ${vars}`);
      const log = await page.getByRole('log', { name: 'Live transcript' }).textContent();
      expect(/Can you make it on Thursday/i.test(log ?? ''), `transcript shown: ${log}`);
      await page.screenshot({ path: path.join(SHOTS, 'agent-test-in-browser.png'), fullPage: true });
      const r = await new AxeBuilder({ page }).include('[data-testid="test-in-browser"]').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
      const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      expect(bad.length === 0, `axe on the panel: ${bad.map((v) => `${v.id} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
    });

    await step('test in browser: no uncaught errors and no CSP refusals (the worklet loads from the app)', async () => {
      expect(problems.length === 0, problems.slice(0, 5).join('\n'));
    });
  } finally {
    await browser?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
