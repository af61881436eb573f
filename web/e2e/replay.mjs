// Replay on the canvas (/app/calls/$callId/replay), driven by run.mjs: waits for the call to
// reach a final status, reads its walk (`path`) from the API, opens the replay page, checks the
// canvas shows an active node (the first step: the page opens where the walk starts), moves the
// scrubber to its end by keyboard and checks the active node is the walk's last step, steps back
// one node with Previous node; then a screenshot and axe.

/** The call as the API returns it, read from the signed-in page. */
async function readCall(page, teamId, callId) {
  return page.evaluate(
    async ([team, id]) => {
      const res = await fetch(`/interview_response/${id}`, { headers: { team_id: team } });
      return (await res.json())?.data ?? null;
    },
    [teamId, callId],
  );
}

/**
 * ctx: { page(), step, expect, settled, shot, accessible, BASE, TIMEOUT, teamId() }.
 * `name` is the screenshot's name; `minSteps` the least walk expected (start → end: 2).
 */
export async function replayChecks(ctx, callId, { name = 'call-replay', minSteps = 2, recording = false, viaLink = false } = {}) {
  const { step, expect, settled, shot, accessible, BASE, TIMEOUT } = ctx;
  let call = null;
  await step(`${name}: the call is finished and kept its walk (path)`, async () => {
    const page = ctx.page();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      call = await readCall(page, ctx.teamId(), callId);
      if (call?.status && call.status !== 'NOT_STARTED' && call.status !== 'IN_PROGRESS') break;
      await new Promise((f) => setTimeout(f, 1000));
    }
    expect(call && !['NOT_STARTED', 'IN_PROGRESS'].includes(call.status), `the call is still ${call?.status} after 60 s`);
    const path = call.path ?? [];
    expect(path.length >= minSteps, `expected a walk of at least ${minSteps} steps, got ${JSON.stringify(path).slice(0, 300)}`);
    expect(path[0].type === 'start', `the walk starts at ${path[0].node} (${path[0].type}), not a start node`);
    expect(path.every((s) => typeof s.at === 'string' && s.node), 'a step without node or time');
  });
  if (!call?.path?.length) return;
  const path = call.path;
  const first = path[0].node;
  const last = path[path.length - 1].node;

  await step(`${name}: the canvas shows the active node, the scrubber's end shows the last step`, async () => {
    const page = ctx.page();
    if (viaLink) {
      // From the call page (where run.mjs left the browser): its "Replay on canvas" link.
      await page.getByRole('link', { name: 'Replay on canvas' }).click();
      await page.waitForURL((u) => u.pathname === `/app/calls/${callId}/replay`);
    } else {
      await page.goto(`${BASE}/app/calls/${callId}/replay`, { waitUntil: 'domcontentloaded' });
    }
    await page.getByRole('heading', { level: 1, name: /^Replay/ }).waitFor({ timeout: TIMEOUT });
    await settled();
    const activeNode = page.locator('[data-testid="replay-canvas"] .react-flow__node[aria-current="step"]');
    await activeNode.waitFor({ timeout: TIMEOUT });
    expect((await activeNode.count()) === 1, `expected one active node, got ${await activeNode.count()}`);
    const opened = await activeNode.getAttribute('data-id');
    expect(opened === first, `the replay opens on node ${opened}, the walk starts at ${first}`);
    await page.getByRole('heading', { name: `Step 1 of ${path.length}` }).waitFor();

    // To the end by keyboard: the slider is labelled and takes End.
    const slider = page.getByRole('slider', { name: 'Call time' });
    await slider.focus();
    await page.keyboard.press('End');
    await page.waitForFunction(
      (id) => document.querySelector('[data-testid="replay-canvas"] .react-flow__node[aria-current="step"]')?.getAttribute('data-id') === id,
      last,
      { timeout: TIMEOUT },
    );
    const value = Number(await slider.inputValue());
    const max = Number(await slider.getAttribute('max'));
    expect(value === max, `the slider is at ${value}, its end is ${max}`);
    await page.getByRole('heading', { name: `Step ${path.length} of ${path.length}` }).waitFor();
    expect((await page.locator('[data-testid="replay-step"]').getAttribute('data-node')) === last, 'the side panel does not show the last step');
    // Every node of the walk is in the flow shown, and marked visited or active.
    for (const s of path) {
      const n = page.locator(`[data-testid="replay-canvas"] .react-flow__node[data-id="${s.node}"]`);
      expect((await n.count()) === 1, `node ${s.node} of the walk is not on the canvas`);
      const label = (await n.getAttribute('aria-label')) ?? '';
      expect(/\((active|visited)\)$/.test(label), `node ${s.node} is not marked as walked: "${label}"`);
    }
    // Steps walked in one go share an instant: Previous node still reaches the one before.
    await page.getByRole('button', { name: 'Previous node' }).click();
    await page.getByRole('heading', { name: `Step ${path.length - 1} of ${path.length}` }).waitFor();
    const prev = await page.locator('[data-testid="replay-canvas"] .react-flow__node[aria-current="step"]').getAttribute('data-id');
    expect(prev === path[path.length - 2].node, `Previous node shows ${prev}, expected ${path[path.length - 2].node}`);
    await slider.focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('End');
    await page.getByRole('heading', { name: `Step ${path.length} of ${path.length}` }).waitFor();
    if (recording) {
      await page.getByText('The recording plays in sync with the canvas.').waitFor({ timeout: 30_000 });
      expect((await page.locator('audio').count()) === 1, 'no audio element for the recording');
    }
    await shot(name);
    await accessible(name.replace(/-/g, ' '));
  });
}
