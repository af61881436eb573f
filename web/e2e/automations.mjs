// The automation builder, end to end (called from run.mjs): create an automation with a
// webhook trigger in the UI, capture a sample payload (Draft), add steps from the palette and
// fill them (the variable picker lists the sample's paths), see a refused save's problems on the
// step, remove that step with the Delete key, undo/redo with the buttons and the keyboard, save,
// switch to Live, fire the webhook from node and follow the run to its steps; then delete it.

/**
 * @param {object} t  what run.mjs provides: page() (the current page), step, expect, settled,
 *   shot, accessible, BASE, stamp, TIMEOUT, teamId() (the selected team)
 */
export async function automationChecks(t) {
  const { step, expect, settled, shot, accessible, BASE, stamp, TIMEOUT } = t;
  const page = () => t.page();
  const name = `E2E automation ${stamp}`;
  let automationId = '';
  let runId = '';

  await step('automations: create one with a webhook trigger, landing in the builder', async () => {
    const p = page();
    await p.goto(`${BASE}/app/automations`, { waitUntil: 'domcontentloaded' });
    await p.getByRole('button', { name: 'New automation' }).click();
    const dialog = p.getByRole('dialog');
    await dialog.getByLabel('Name').fill(name);
    await dialog.getByLabel('Trigger').selectOption('webhook');
    await dialog.getByRole('button', { name: 'Create automation' }).click();
    await p.getByRole('heading', { level: 1, name }).waitFor();
    const m = /\/app\/automations\/([A-Za-z0-9]{12})$/.exec(new URL(p.url()).pathname);
    expect(m, `not on a builder page: ${p.url()}`);
    automationId = m[1];
    await p.getByText('Draft', { exact: true }).first().waitFor();
  }, { fatal: true });

  await step('builder: the webhook URL is shown; a Draft POST is kept as the sample payload', async () => {
    const p = page();
    const url = `${BASE}/webhook/automation/${automationId}`;
    await p.getByText(`/webhook/automation/${automationId}`).first().waitFor();
    await p.getByRole('button', { name: 'Copy webhook URL' }).first().waitFor();
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '+12125550109', name: `Ada ${stamp}`, order: { id: 42, items: [{ sku: 'x' }] } }),
    });
    expect(r.status === 200, `draft webhook POST answered ${r.status}: ${await r.text()}`);
    await p.getByRole('button', { name: 'Check for a new sample' }).first().click();
    await p.getByLabel('Sample payload').getByText('+12125550109').waitFor();
  });

  await step('builder: add a Create contact step from the palette and fill it with the variable picker', async () => {
    const p = page();
    await p.getByRole('button', { name: 'Select the trigger (webhook)' }).click();
    await p.getByRole('heading', { name: 'Add a step after the trigger' }).waitFor();
    await p.getByRole('button', { name: 'Create contact', exact: true }).click();
    await p.getByRole('button', { name: /^Select step create_contact/ }).waitFor();
    await p.getByRole('button', { name: 'Insert variable into Phone number (required)' }).click();
    await p.getByRole('menuitem', { name: /^trigger\.payload\.phone\b/ }).click();
    const phone = await p.getByRole('textbox', { name: 'Phone number (required)', exact: true }).inputValue();
    expect(phone === '{{ trigger.payload.phone }}', `the picker inserted "${phone}"`);
    // Nested paths of the sample are offered too.
    await p.getByRole('button', { name: 'Insert variable into Name', exact: true }).click();
    await p.getByRole('menuitem', { name: /^trigger\.payload\.order\.items\[0\]\.sku\b/ }).waitFor();
    await p.getByRole('menuitem', { name: /^trigger\.payload\.name\b/ }).click();
    expect((await p.getByRole('textbox', { name: 'Name', exact: true }).inputValue()) === '{{ trigger.payload.name }}', 'name not filled');
  });

  await step('builder: add an Add tag step after it; undo and redo (buttons and Ctrl+Z / Ctrl+Shift+Z)', async () => {
    const p = page();
    await p.getByRole('heading', { name: 'Add a step after create_contact' }).waitFor();
    await p.getByRole('button', { name: 'Add tag', exact: true }).click();
    const node = p.getByRole('button', { name: /^Select step add_tag/ });
    await node.waitFor();
    await p.getByRole('button', { name: 'Undo' }).click();
    await node.waitFor({ state: 'detached' });
    await p.getByRole('button', { name: 'Redo' }).click();
    await node.waitFor();
    await p.getByRole('button', { name: 'Undo' }).focus();
    await p.keyboard.press('Control+z');
    await node.waitFor({ state: 'detached' });
    await p.keyboard.press('Control+Shift+z');
    await node.waitFor();
    // By keyboard: the canvas re-fits (a short animation) after the step count changes, and a
    // pointer click timed against it can land on the pane, which deselects.
    await node.focus();
    await p.keyboard.press('Enter');
    await p.getByRole('textbox', { name: 'Tags', exact: true }).fill('from-automation');
    // Later steps see the outputs of earlier ones, and the contact the first one set.
    await p.getByRole('button', { name: 'Insert variable into Contact' }).click();
    await p.getByRole('menuitem', { name: /^steps\.create_contact\.id\b/ }).waitFor();
    await p.getByRole('menuitem', { name: /^contact\.email\b/ }).waitFor();
    await p.keyboard.press('Escape');
  });

  await step('builder: a refused save shows the problem on its step and field; Delete removes the step', async () => {
    const p = page();
    await p.getByRole('heading', { name: 'Add a step after add_tag' }).waitFor();
    await p.getByRole('button', { name: 'Delay', exact: true }).click();
    await p.getByRole('textbox', { name: 'Duration', exact: true }).fill('soon');
    await p.getByRole('button', { name: 'Save', exact: true }).click();
    await p.getByRole('alert').filter({ hasText: 'refused' }).waitFor();
    await p.getByText(/is not a duration/).first().waitFor();
    await p.getByRole('button', { name: /^Select step delay \(Delay\), 1 problem/ }).waitFor();
    expect((await p.getByRole('textbox', { name: 'Duration', exact: true }).getAttribute('aria-invalid')) === 'true', 'the Duration field is not marked invalid');
    await shot('automation-builder-problems');
    // Delete removes the selected step (focus outside a text field).
    await p.getByRole('button', { name: /^Select step delay/ }).focus();
    await p.keyboard.press('Delete');
    await p.getByRole('button', { name: /^Select step delay/ }).waitFor({ state: 'detached' });
  });

  await step('builder: save, the canvas shows trigger -> create_contact -> add_tag -> done', async () => {
    const p = page();
    await p.getByRole('button', { name: 'Save', exact: true }).click();
    await p.getByText(/Saved \(version \d+\)/).waitFor();
    const r = await p.evaluate(async ([id, team]) => {
      const res = await fetch(`/automation/${id}`, { headers: { team_id: team } });
      return res.json();
    }, [automationId, t.teamId()]);
    const steps = r?.data?.steps ?? [];
    expect(
      steps.map((s) => `${s.slug}:${s.type}>${s.next ?? ''}`).join(' ') === 'create_contact:create_contact>add_tag add_tag:add_tag>done done:end>',
      `stored steps: ${JSON.stringify(steps)}`,
    );
    await p.getByRole('button', { name: /^Select step create_contact/ }).click();
    await settled();
    await shot('automation-builder');
    await accessible('automation builder');
  });

  await step('builder: switch to Live', async () => {
    const p = page();
    await p.getByRole('button', { name: 'Switch to Live' }).click();
    await p.getByRole('button', { name: 'Switch to Draft' }).waitFor();
    await p.getByText('Live', { exact: true }).first().waitFor();
  });

  await step('webhook POST from node starts a run (202 with run_id)', async () => {
    const r = await fetch(`${BASE}/webhook/automation/${automationId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone: '+12125550109', name: `Ada ${stamp}` }),
    });
    const body = await r.json().catch(() => null);
    expect(r.status === 202 && body?.data?.run_id, `live webhook POST answered ${r.status}: ${JSON.stringify(body)}`);
    runId = body.data.run_id;
  });

  await step('runs: the run is listed, and its page shows each step with input, output and timing', async () => {
    const p = page();
    await p.getByRole('link', { name: 'Runs', exact: true }).click();
    await p.getByRole('heading', { level: 1, name: `Runs of ${name}` }).waitFor();
    await p.getByRole('link', { name: new RegExp(`^Run ${runId.slice(0, 8)}`) }).click();
    await p.getByRole('heading', { level: 1, name: `Run ${runId.slice(0, 8)}` }).waitFor();
    // The page polls while the run is in flight.
    await p.getByText('completed', { exact: true }).first().waitFor({ timeout: 30_000 });
    for (const h of ['1. create_contact', '2. add_tag']) await p.getByRole('heading', { name: h, exact: true }).waitFor({ timeout: TIMEOUT });
    await p.getByLabel('Output of create_contact').getByText('+12125550109').first().waitFor();
    await p.getByLabel('Input of add_tag').getByText('from-automation').first().waitFor();
    await settled();
    await shot('automation-run');
    await accessible('automation run');
  });

  await step('runs list page is accessible', async () => {
    const p = page();
    await p.getByRole('link', { name: 'Runs', exact: true }).click();
    await p.getByRole('heading', { level: 1, name: `Runs of ${name}` }).waitFor();
    await settled();
    await shot('automation-runs');
    await accessible('automation runs');
  });

  await step('automations: the list shows it Live; delete it through the UI', async () => {
    const p = page();
    await p.goto(`${BASE}/app/automations`, { waitUntil: 'domcontentloaded' });
    const row = p.getByRole('row').filter({ hasText: name });
    await row.getByText('Live', { exact: true }).waitFor();
    await row.getByRole('button', { name: `Delete ${name}` }).click();
    await p.getByRole('dialog').getByRole('button', { name: 'Delete automation' }).click();
    await row.waitFor({ state: 'detached' });
  });
}

/** Analytics: the page answers (not the 404 fallback), periods switch, the chart or its empty state shows. */
export async function analyticsChecks(t) {
  const { step, expect } = t;
  await step('analytics: served by the server, periods switch', async () => {
    const p = t.page();
    const missing = await p.getByText('does not provide analytics yet').count();
    expect(missing === 0, 'GET /analytics is missing on the server: the page shows its fallback');
    await p.getByRole('radio', { name: 'All time' }).click();
    expect((await p.getByRole('radio', { name: 'All time' }).getAttribute('aria-checked')) === 'true', 'period did not switch');
    await p.getByRole('heading', { name: /Agents|No calls/ }).first().waitFor().catch(async () => {
      await p.getByText('No calls in this period').first().waitFor();
    });
  });
}
