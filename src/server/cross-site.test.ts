/**
 * A web page on another site can't drive the backend: in Chromium, a page served from another origin tries what a
 * page may send anywhere without asking (`fetch` with `mode: 'no-cors'` and a Blob body, `navigator.sendBeacon`, a
 * form post, a CORS request that needs a preflight) against `cellpipe serve --port` (the development server, which
 * has no token): no run is created and no setting changes. A page of the server's own origin still works.
 * (Behind Jupyter the backend gets the same headers through the proxy, so the same check holds there.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createServer, request } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium } from '@playwright/test';
import { startServer } from './index.js';
import { FIXTURES } from '../runs/testing.js';

const CHROMIUM = '/usr/bin/chromium';

function get(port: number, urlPath: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: urlPath }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    }).on('error', reject).end();
  });
}

/** The attacker's page: every way a cross-site page can send a request without the target's consent. */
const attackPage = (api: string) => `<!doctype html><html><body>
<form id="f" method="POST" action="${api}/runs" enctype="text/plain" target="sink">
  <input name='{"path":"numbers.ipynb","x":"' value='"}'>
</form>
<iframe name="sink"></iframe>
<script>
const body = JSON.stringify({ path: 'numbers.ipynb' });
const tries = [
  fetch('${api}/runs', { method: 'POST', mode: 'no-cors', body: new Blob([body]) }),
  fetch('${api}/runs', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body }),
  fetch('${api}/settings', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runsDir: '/tmp/evil' }) }),
  fetch('${api}/runs', { method: 'POST', headers: { 'content-type': 'application/json', 'x-cellpipe-request': '1' }, body }),
];
const beacons = [navigator.sendBeacon('${api}/runs', new Blob([body])), navigator.sendBeacon('${api}/runs', body)];
document.getElementById('f').submit();
window.attack = Promise.allSettled(tries).then((r) => ({ fetches: r.map((x) => x.status), beacons }));
</script></body></html>`;

test('a page from another origin creates no run and changes no setting; a page of the server\'s own origin works', { timeout: 120_000 }, async (t) => {
  if (!fs.existsSync(CHROMIUM)) return t.skip('no Chromium at /usr/bin/chromium');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cellpipe-cross-site-'));
  fs.copyFileSync(path.join(FIXTURES, 'numbers.ipynb'), path.join(root, 'numbers.ipynb'));
  const running = await startServer({ root, port: 0 });
  const port = Number(new URL(running.address).port);
  // Every request the backend answered, to wait for the page's requests without guessing how long they take.
  const answered: { method: string; url: string; status: number }[] = [];
  running.server.on('request', (req, res) => res.on('finish', () => answered.push({ method: req.method!, url: req.url!, status: res.statusCode })));
  const attacker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(attackPage(`http://127.0.0.1:${port}/api`));
  });
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const settingsBefore = await get(port, '/api/settings');
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
    const outcome = await page.evaluate(() => (window as any).attack);
    assert.deepEqual(outcome.beacons, [true, true], 'the browser queued both beacons');
    // Two no-cors fetches, two beacons and the form reach the backend as POSTs; the CORS requests only as preflights.
    const deadline = Date.now() + 30_000;
    const posts = () => answered.filter((a) => a.method === 'POST');
    while (posts().length < 5 || answered.filter((a) => a.method === 'OPTIONS').length < 2) {
      if (Date.now() > deadline) assert.fail(`the page's requests did not all arrive: ${JSON.stringify(answered)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const a of posts()) assert.ok(a.status === 403 || a.status === 415, `refused: ${JSON.stringify(a)}`);
    assert.equal(answered.filter((a) => a.method === 'PUT').length, 0, 'the CORS PUT never got past its preflight');
    assert.deepEqual(outcome.fetches.slice(2), ['rejected', 'rejected'], 'the CORS requests failed in the page');
    const runs = await get(port, '/api/runs?notebook=numbers.ipynb');
    assert.deepEqual(runs.json.runs, [], 'no run was created');
    assert.deepEqual((await get(port, '/api/settings')).json, settingsBefore.json, 'no setting changed');

    // The server's own origin (as the JupyterLab page is to Jupyter): the same request is served.
    const own = await browser.newPage();
    await own.goto(`http://127.0.0.1:${port}/api/health`);
    const compiled = await own.evaluate(async () => {
      const r = await fetch('/api/compile', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: 'numbers.ipynb' }) });
      return r.status;
    });
    assert.equal(compiled, 200, 'a same-origin page is served');
  } finally {
    await browser.close();
    attacker.close();
    await running.close();
  }
});
