// Team isolation in the browser: a signed-in member of team A opens the URL of an agent that
// belongs to team B (made by scripts/test-web through B's own API token and passed as
// PARLEY_OTHER_TEAM / PARLEY_OTHER_AGENT). The dashboard must show nothing of it, and the API must
// refuse the session for team B outright (401, as for a wrong token), whatever the page asks.

export async function crossTeamChecks({ page, step, expect, shot, BASE, TIMEOUT }) {
  const otherTeam = process.env.PARLEY_OTHER_TEAM ?? '';
  const otherAgent = process.env.PARLEY_OTHER_AGENT ?? '';
  const otherTitle = process.env.PARLEY_OTHER_AGENT_TITLE ?? '';
  if (!otherTeam || !otherAgent) {
    await step('cross-team URL refused (skipped: PARLEY_OTHER_TEAM/PARLEY_OTHER_AGENT not set)', async () => {
      throw new Error('run through scripts/test-web, which makes a second team');
    });
    return;
  }
  await step('cross-team: another team\'s agent URL shows nothing of it', async () => {
    const p = page();
    await p.goto(`${BASE}/app/agents/${otherAgent}`, { waitUntil: 'domcontentloaded' });
    await p.getByText(/not found/i).first().waitFor({ timeout: TIMEOUT });
    const body = await p.locator('body').innerText();
    expect(!otherTitle || !body.includes(otherTitle), `team B's agent title is visible: ${otherTitle}`);
    await shot('cross-team-refused');
  });
  await step('cross-team: the session is refused for a team it is not a member of', async () => {
    const statuses = await page().evaluate(async ([team, agent]) => {
      const ask = async (path) => (await fetch(path, { headers: { team_id: team } })).status;
      return [await ask(`/interview/${agent}`), await ask('/contact'), await ask('/call')];
    }, [otherTeam, otherAgent]);
    expect(statuses.every((s) => s === 401), `answers for team B: ${statuses.join(', ')}`);
  });
}
