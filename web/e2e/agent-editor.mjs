// The voice agent flow editor, end to end (called by run.mjs with its helpers): builds a small
// agent by drag and drop (palette → canvas, start → question → end), then by keyboard alone in
// the outline (add a speak node, connect it, delete a node, move one), undoes and redoes, drags
// a node with the mouse (one undo step), zooms out to the low-detail boxes and back,
// waits for the autosave, publishes (the dialog shows the diff) and sees version 2, and
// restores version 1 in one click. Screenshots agent-editor, agent-publish-diff, agent-versions.

export async function agentEditorSteps({ page, step, expect, shot, accessible, BASE, agentId, TIMEOUT }) {
  const rows = () => page.locator('[data-outline-row]');
  const node = (id) => page.locator(`.react-flow__node[data-id="${id}"]`);
  const outcome = (id, h) => page.getByRole('list', { name: `Outcomes of ${id}` }).getByRole('listitem').filter({ hasText: new RegExp(`^${h} →`) });
  const saved = async () => {
    await page.getByTestId('save-status').filter({ hasText: /^Saved/ }).waitFor({ timeout: TIMEOUT });
  };

  /** Drags from one element to another with the mouse (xyflow connections). */
  async function mouseDrag(from, to) {
    const a = await from.boundingBox();
    const b = await to.boundingBox();
    expect(a && b, 'drag ends not visible');
    await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
    await page.mouse.down();
    await page.mouse.move((a.x + b.x) / 2 + 5, (a.y + b.y) / 2 + 5, { steps: 5 });
    await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 10 });
    await page.mouse.up();
  }

  await step('agent editor: opens on the draft with the canvas, palette and outline', async () => {
    await page.goto(`${BASE}/app/agents/${agentId}`, { waitUntil: 'domcontentloaded' });
    await page.getByRole('heading', { level: 1 }).waitFor();
    await node('start').waitFor();
    await page.getByRole('heading', { name: 'Outline' }).waitFor();
    const missing = await page.getByText('This server has no drafts yet').count();
    expect(missing === 0, 'the server has no draft endpoints (GET /interview/{id}/draft answered 404)');
  });

  await step('agent editor: drag a question from the palette and connect start → question → end', async () => {
    const canvas = page.getByTestId('canvas');
    const box = await canvas.boundingBox();
    await page.locator('[data-node-type="question"]').dragTo(canvas, { targetPosition: { x: box.width / 2 + 120, y: 80 } });
    await node('question-1').waitFor();
    // start's "next" to the question (replaces start → end), then the question's "next" to end.
    await mouseDrag(page.locator('.react-flow__handle[data-nodeid="start"][data-handleid="next"]'), node('question-1').locator('.react-flow__handle.target'));
    await outcome('start', 'next').filter({ hasText: 'question-1' }).waitFor();
    await mouseDrag(page.locator('.react-flow__handle[data-nodeid="question-1"][data-handleid="next"]'), node('end').locator('.react-flow__handle.target'));
    await outcome('question-1', 'next').filter({ hasText: 'end' }).waitFor();
    // Edit it in the side panel.
    await node('question-1').click();
    const panel = page.getByRole('complementary', { name: 'Selected node' });
    await panel.getByRole('textbox', { name: 'Question' }).fill('Can you make it on Thursday?');
    // A field shows its problem once touched: the empty variable name, then fixed.
    await panel.getByLabel('Saves the answer as').focus();
    await panel.getByLabel('Kind of answer').focus();
    await panel.getByTestId('field-problem').first().waitFor();
    await panel.getByLabel('Saves the answer as').fill('confirmed');
    await page.waitForFunction(() => !document.querySelector('[data-testid="field-problem"]'), null, { timeout: TIMEOUT });
  });

  await step('agent editor: keyboard only — add a speak node after no_match, connect it, move it, delete a node', async () => {
    // Select question-1 in the outline with the keyboard.
    const qRow = rows().filter({ hasText: 'question-1' });
    await qRow.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Actions on question-1' }).waitFor();
    await page.getByLabel('New node type').focus();
    await page.getByLabel('New node type').selectOption('speak');
    await page.getByLabel('After outcome').selectOption('no_match');
    await page.getByRole('button', { name: 'Add after question-1' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Actions on speak-1' }).waitFor();
    await outcome('question-1', 'no_match').filter({ hasText: 'speak-1' }).waitFor();
    const panel = page.getByRole('complementary', { name: 'Selected node' });
    await panel.getByRole('textbox', { name: 'Message' }).focus();
    await page.keyboard.type('Sorry, I did not catch that. Goodbye {{contact.name}}.');
    // Connect speak-1's next to end with the selects and Enter.
    await page.getByLabel('Connect outcome').selectOption('next');
    await page.getByLabel('To node').selectOption('end');
    await page.getByRole('button', { name: 'Connect', exact: true }).focus();
    await page.keyboard.press('Enter');
    await outcome('speak-1', 'next').filter({ hasText: 'end' }).waitFor();
    // Move it with Alt+arrows on its outline row (10 px, Shift: 50 px).
    const before = await node('speak-1').boundingBox();
    const sRow = rows().filter({ hasText: 'speak-1' });
    await sRow.focus();
    await page.keyboard.press('Alt+Shift+ArrowRight');
    await page.keyboard.press('Alt+ArrowDown');
    await page.waitForTimeout(200);
    const after = await node('speak-1').boundingBox();
    expect(after.x > before.x + 20 && after.y > before.y, `speak-1 did not move: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    // Select the end node (no outcomes), add an unconnected end node by keyboard, then delete
    // it with the Delete key on its row.
    await page.locator('[data-outline-row][data-node-id="end"]').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Actions on end' }).waitFor();
    await page.getByLabel('New node type').selectOption('end');
    await page.getByRole('button', { name: 'Add node' }).focus();
    await page.keyboard.press('Enter');
    await rows().filter({ hasText: 'end-1' }).waitFor();
    const n = await rows().count();
    await rows().filter({ hasText: 'end-1' }).focus();
    await page.keyboard.press('Delete');
    await rows().filter({ hasText: 'end-1' }).waitFor({ state: 'detached' });
    expect((await rows().count()) === n - 1, 'Delete did not remove the node');
    await outcome('speak-1', 'next').filter({ hasText: 'end' }).waitFor();
  });

  await step('agent editor: undo and redo (keyboard and buttons)', async () => {
    const n = await rows().count();
    await rows().first().focus();
    await page.keyboard.press('Control+z'); // undoes the deletion of end-1
    await rows().filter({ hasText: 'end-1' }).waitFor();
    expect((await rows().count()) === n + 1, 'undo did not bring the deleted node back');
    await page.keyboard.press('Control+Shift+z');
    await rows().filter({ hasText: 'end-1' }).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Undo' }).click();
    await rows().filter({ hasText: 'end-1' }).waitFor();
    await page.getByRole('button', { name: 'Redo' }).click();
    await rows().filter({ hasText: 'end-1' }).waitFor({ state: 'detached' });
  });

  await step('agent editor: drag a node with the mouse; one undo step puts it back, redo moves it again', async () => {
    const where = () => page.evaluate(() => document.querySelector('.react-flow__node[data-id="end"]')?.style.transform ?? null);
    const at = (t) => page.waitForFunction((t) => document.querySelector('.react-flow__node[data-id="end"]')?.style.transform === t, t, { timeout: TIMEOUT });
    const n = await rows().count();
    const origin = await where();
    const box = await node('end').boundingBox();
    // The end node is wholly in view (speak-1 is cut by the canvas's edge). Grab the card's
    // left part (the target handle is at the top centre), then 12 moves.
    const x = box.x + 30;
    const y = box.y + box.height / 2;
    await page.mouse.move(x, y);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) await page.mouse.move(x + 5 * i, y + 3 * i);
    await page.mouse.up();
    const moved = await where();
    expect(moved && moved !== origin, `end did not move: ${origin} → ${moved}`);
    await page.getByRole('button', { name: 'Undo' }).click();
    await at(origin);
    expect((await rows().count()) === n, 'the undo of a drag changed more than the position');
    await page.getByRole('button', { name: 'Redo' }).click();
    await at(moved);
  });

  await step('agent editor: zoomed out below 0.5 nodes are plain labelled boxes, and full cards again when zoomed in', async () => {
    const low = page.locator('.react-flow__node [data-detail="low"]');
    for (let i = 0; i < 8 && (await low.count()) === 0; i++) {
      await page.getByRole('button', { name: 'Zoom Out' }).click();
      await page.waitForTimeout(100);
    }
    await low.first().waitFor({ timeout: TIMEOUT });
    expect((await low.count()) === (await page.locator('.react-flow__node').count()), 'some nodes kept their full card below zoom 0.5');
    // The text is gone from the box but not from the node's accessible name.
    expect(/Sorry, I did not catch that/.test((await node('speak-1').getAttribute('aria-label')) ?? ''), 'the low-detail node lost its accessible name');
    expect((await node('speak-1').locator('.react-flow__handle').count()) === 2, 'the low-detail node lost its handles');
    await accessible('agent editor, zoomed out');
    // The low-detail handles are plain elements (flow/PlainHandle.tsx): a connection drawn by
    // mouse from one still connects (start's next, now to question-1, to end), and undo puts it back.
    const edge = (from, to) => page.locator(`.react-flow__edge[aria-label="Connection next from ${from} to ${to}"]`);
    await mouseDrag(page.locator('.react-flow__handle[data-nodeid="start"][data-handleid="next"]'), node('end').locator('.react-flow__handle.target'));
    await edge('start', 'end').waitFor({ timeout: TIMEOUT });
    expect((await edge('start', 'question-1').count()) === 0, 'the connection drawn at low zoom did not replace start → question-1');
    await page.getByRole('button', { name: 'Undo' }).click();
    await edge('start', 'question-1').waitFor({ timeout: TIMEOUT });
    for (let i = 0; i < 8 && (await low.count()) > 0; i++) {
      await page.getByRole('button', { name: 'Zoom In' }).click();
      await page.waitForTimeout(100);
    }
    await page.waitForFunction(() => !document.querySelector('[data-detail="low"]'), null, { timeout: TIMEOUT });
    await node('speak-1').getByText('Sorry, I did not catch that', { exact: false }).waitFor();
  });

  await step('agent editor: autosaves the draft ("Saved"), and the draft survives a reload', async () => {
    await saved();
    await page.reload({ waitUntil: 'domcontentloaded' });
    await node('speak-1').waitFor();
    await outcome('question-1', 'no_match').filter({ hasText: 'speak-1' }).waitFor();
    await page.getByText('draft in progress').waitFor();
    await page.waitForLoadState('networkidle', { timeout: TIMEOUT }).catch(() => {});
    await shot('agent-editor');
    await accessible('agent editor');
  });

  await step('agent editor: publish shows the diff and makes version 2', async () => {
    await page.getByRole('button', { name: 'Publish…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByTestId('publish-diff').waitFor();
    const text = (await dialog.textContent()) ?? '';
    expect(/Nodes added \(2\)/.test(text) && /question-1/.test(text) && /speak-1/.test(text), `diff does not list the added nodes: ${text.slice(0, 300)}`);
    expect(/Connections added \(4\)/.test(text) && /Connections removed \(1\)/.test(text), `diff does not list the connections: ${text.slice(0, 400)}`);
    await shot('agent-publish-diff');
    await accessible('publish dialog');
    await dialog.getByRole('button', { name: 'Publish version 2' }).click();
    await page.getByText('Published version 2').waitFor();
    await page.getByText('live version 2').waitFor();
  });

  await step('agent editor: versions list shows version 2 live; restoring version 1 is one click', async () => {
    await page.getByRole('tab', { name: 'Versions' }).click();
    const table = page.getByRole('table', { name: 'Versions' });
    await table.getByRole('row').filter({ hasText: 'Version 2' }).filter({ hasText: 'Live' }).waitFor();
    await shot('agent-versions');
    await accessible('agent versions');
    await table.getByRole('button', { name: 'Restore version 1' }).click();
    await page.getByText(/Restored version 1 as version 3/).waitFor();
    await page.getByText('live version 3').waitFor();
    await page.getByRole('tab', { name: 'Flow' }).click();
    await node('start').waitFor();
    expect((await node('question-1').count()) === 0, 'the restored version 1 still shows question-1');
  });
}
