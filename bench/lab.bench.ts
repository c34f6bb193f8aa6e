/**
 * In-browser measurements of the cellpipe JupyterLab extension (run by bench/lab.sh).
 */
import { test, expect, type Page } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const URL = process.env.BENCH_URL!;
const TOKEN = process.env.BENCH_TOKEN!;
const here = dirname(fileURLToPath(import.meta.url));
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  labextensionJsBytes: Number(process.env.BENCH_JS_RAW),
  labextensionJsGzipBytes: Number(process.env.BENCH_JS_GZ),
};

test.describe.configure({ mode: 'serial' });

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
const r1 = (n: number) => Math.round(n * 10) / 10;

async function open(page: Page, name: string) {
  await page.goto(`${URL}lab/tree/${name}?token=${TOKEN}&reset`);
  await page.locator('.cp-cell-bar').first().waitFor({ timeout: 120_000 });
}

test('print → line in the page, 200 lines', async ({ page }) => {
  await open(page, 'latency.ipynb');
  // Record when each LAT line node appears, against the time the step printed it (same machine clock).
  await page.evaluate(() => {
    const w = window as unknown as { latencies: number[] };
    w.latencies = [];
    new MutationObserver((records) => {
      const now = Date.now();
      for (const r of records) {
        for (const n of r.addedNodes) {
          const text = (n as HTMLElement).textContent ?? '';
          const m = /^LAT (\d+) ([0-9.]+)$/.exec(text);
          if (m && (n as HTMLElement).classList?.contains('cp-log-line')) w.latencies.push(now - Number(m[2]));
        }
      }
    }).observe(document.body, { childList: true, subtree: true });
  });
  const sidebar = page.locator('#cellpipe-sidebar');
  if (!(await sidebar.isVisible())) await page.locator('.jp-SideBar [data-id="cellpipe-sidebar"]').click();
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  await expect.poll(() => page.evaluate(() => (window as unknown as { latencies: number[] }).latencies.length)).toBe(200);
  const lat = await page.evaluate(() => (window as unknown as { latencies: number[] }).latencies);
  results.logLineLatencyMs = { n: lat.length, p50: r1(pct(lat, 50)), p95: r1(pct(lat, 95)), max: r1(Math.max(...lat)) };
  console.log('print → page latency (ms):', results.logLineLatencyMs);
});

test('re-diagnose after an edit, 300-cell notebook', async ({ page }) => {
  await open(page, 'big.ipynb');
  await expect(page.locator('.cp-cell-bar')).toHaveCount(300, { timeout: 120_000 });
  const times = await page.evaluate(async () => {
    const dbg = (window as unknown as { cellpipeDebug: { model(p: string): any; rediagnose(p: string): { total: number; compile: number } } }).cellpipeDebug;
    const model = dbg.model('big.ipynb');
    const cells = model.panel.content.model.cells;
    const out: { total: number; compile: number }[] = [];
    for (let k = 0; k < 40; k++) {
      const i = 10 + ((k * 37) % 280);
      const cell = cells.get(i);
      const src: string = cell.sharedModel.getSource();
      // Alternate between introducing an undefined name (a diagnostic appears) and restoring the cell.
      cell.sharedModel.setSource(k % 2 ? src.replace(/^print\(.*\)$/m, '') : `${src}\nprint(undefined_name_${k})`);
      out.push(dbg.rediagnose('big.ipynb'));
      await new Promise((r) => setTimeout(r, 20));
    }
    return out;
  });
  const total = times.map((t) => t.total);
  const compile = times.map((t) => t.compile);
  results.rediagnose300CellsMs = { n: total.length, p50: r1(pct(total, 50)), p95: r1(pct(total, 95)), max: r1(Math.max(...total)) };
  results.compileOnly300CellsMs = { n: compile.length, p50: r1(pct(compile, 50)), p95: r1(pct(compile, 95)), max: r1(Math.max(...compile)) };
  console.log('re-diagnose after an edit (compile + redraw, ms):', results.rediagnose300CellsMs);
  console.log('  of which the in-browser compile (ms):', results.compileOnly300CellsMs);
});

test.afterAll(() => {
  console.log(JSON.stringify(results, null, 1));
  writeFileSync(join(here, 'lab-results.json'), JSON.stringify(results, null, 1) + '\n');
});
