/**
 * Nothing runs unasked, in a real JupyterLab and Chromium:
 * - a notebook just opened (and saved) runs none of its code — not even its imports cells, which cellpipe pre-warms
 *   only for a notebook already run in this session — until the user presses Run, which then runs them;
 * - a page on another origin (whose requests carry the user's Jupyter cookie: same host, another port) can't start a
 *   run or change a setting through the backend behind Jupyter.
 */
import { test, expect } from '@playwright/test';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { URL, TOKEN, ROOT, openNotebook, openSidebar } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

const cell = (id: string, tags: string[], source: string) => ({ cell_type: 'code', id, metadata: { tags }, source, outputs: [], execution_count: null });

/** A notebook as if downloaded: its imports cell leaves a file behind when it runs. */
function downloaded(name: string, marker: string): void {
  writeFileSync(join(ROOT, name), JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' } },
    cells: [
      cell('imports', ['imports'], `import os\nwith open(${JSON.stringify(marker)}, "a") as fh:\n    fh.write("imports ran\\n")`),
      cell('hello', ['step:hello'], 'print("hello from", os.getpid())'),
    ],
  }));
}

test('a notebook just opened and saved runs none of its code until Run; Run runs it', async ({ page }) => {
  const name = `downloaded-${Date.now()}.ipynb`;
  const marker = join(ROOT, `${name}.imports-ran`);
  downloaded(name, marker);
  // Every prewarm the page asks for, with the backend's answer: the page must not ask before a Run.
  const prewarms: unknown[] = [];
  page.on('response', async (r) => {
    if (r.url().includes('/cellpipe/api/prewarm') && !r.url().includes('asked=by-the-test')) prewarms.push(await r.json().catch(() => null));
  });
  await openNotebook(page, name);
  await openSidebar(page);
  await expect(page.locator('#cellpipe-sidebar .cp-dag-node')).toHaveCount(1);
  // Saving is the other moment the page used to pre-warm.
  await page.locator('.jp-NotebookPanel .jp-Cell').first().click();
  await page.keyboard.press('Control+s');
  await expect(page.locator('.jp-NotebookPanel .jp-mod-dirty')).toHaveCount(0);
  // The backend refuses on its own too: asked directly (as a page could), it runs nothing and says why. Its answer
  // comes once it decided, so the file's absence after it is not a matter of timing.
  const direct = await page.evaluate(async ([path, token]) => {
    const r = await fetch('/cellpipe/api/prewarm?asked=by-the-test', {
      method: 'POST', body: JSON.stringify({ path }),
      headers: { 'Content-Type': 'application/json', 'X-Cellpipe-Request': '1', Authorization: `token ${token}` },
    });
    return r.json();
  }, [name, TOKEN]);
  expect(direct).toMatchObject({ warm: false, reason: expect.stringContaining('has not been run in this session') });
  expect(prewarms).toEqual([]);
  expect(existsSync(marker)).toBe(false);

  await page.locator('#cellpipe-sidebar .cp-run-button').click();
  await expect(page.locator('#cellpipe-sidebar .cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  expect(existsSync(marker)).toBe(true);
});

test('a page on another origin, with the user\'s Jupyter cookie, starts no run and changes no setting', async ({ page }) => {
  await openNotebook(page, 'candies_sharing.ipynb'); // logs in: the token becomes a cookie for 127.0.0.1
  const api = `${URL}cellpipe/api`;
  const auth = { Authorization: `token ${TOKEN}`, 'X-Cellpipe-Request': '1' };
  const count = async () => (await (await page.request.get(`${api}/runs?notebook=candies_sharing.ipynb`, { headers: auth })).json()).runs.length;
  const runsBefore = await count();
  const settingsBefore = await (await page.request.get(`${api}/settings`, { headers: auth })).json();
  const attacker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><form id="f" method="POST" action="${api}/runs" enctype="text/plain" target="sink">
<input name='{"path":"candies_sharing.ipynb","x":"' value='"}'></form><iframe name="sink"></iframe><script>
const body = JSON.stringify({ path: 'candies_sharing.ipynb' });
const sent = [
  fetch('${api}/runs', { method: 'POST', mode: 'no-cors', credentials: 'include', body: new Blob([body]) }),
  fetch('${api}/runs', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body }),
  fetch('${api}/settings', { method: 'PUT', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runsDir: '/tmp/evil' }) }),
];
navigator.sendBeacon('${api}/runs', new Blob([body]));
document.getElementById('f').submit();
window.attack = Promise.allSettled(sent).then((r) => r.map((x) => x.status));
</script>`);
  });
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
  try {
    const other = await page.context().newPage();
    // Every answer the backend gave the attacker's requests (opaque to the page, visible to the browser).
    const answered: number[] = [];
    other.on('response', (r) => {
      if (r.url().startsWith(api) && r.request().method() !== 'OPTIONS') answered.push(r.status());
    });
    await other.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
    const outcome = await other.evaluate(() => (window as any).attack);
    expect(outcome[2]).toBe('rejected'); // the CORS PUT never passed its preflight
    await expect.poll(() => answered.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(3); // two fetches and the form
    for (const status of answered) expect([403, 415]).toContain(status);
    expect(await count()).toBe(runsBefore);
    expect(await (await page.request.get(`${api}/settings`, { headers: auth })).json()).toEqual(settingsBefore);
  } finally {
    attacker.close();
  }
});
