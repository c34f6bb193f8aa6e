/**
 * A run comes back into the notebook (issue 13), in a real JupyterLab + Chromium with real local runs: each cell
 * shows its plot, table and values from the run under it, marked with the run; one click shows the kernel's outputs
 * instead; an older run picked in the history shows its outputs; a failing run marks the cell that raised and shows
 * the error under it; two runs with different parameters compare side by side; the executed notebook is exported
 * and nbformat accepts it.
 */
import { test, expect, type Page } from '@playwright/test';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, keep, openNotebook, openSidebar } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = join(here, '../../.venv/bin/python');
const NB = 'outputs.ipynb';
const FAILING = 'outputs_failing.ipynb';

type Nb = { cells: { cell_type: string; source: string | string[]; outputs?: unknown[] }[] };

test.beforeAll(() => {
  copyFileSync(join(here, 'notebooks', NB), join(ROOT, NB));
  // The same notebook whose table step divides by zero at the default RATE (line 2 of the step's cell, cell 7).
  const nb = JSON.parse(readFileSync(join(here, 'notebooks', NB), 'utf8')) as Nb;
  nb.cells[6].source = "total = sum(ys)\nscale = total / (RATE - 0.5)\ndisplay(Table([('scale', scale)]))";
  writeFileSync(join(ROOT, FAILING), JSON.stringify(nb, null, 1));
});

/** The notebook's i-th cell (0-based, as the DOM orders them). */
const cell = (page: Page, i: number) => page.locator('.jp-NotebookPanel .jp-Cell').nth(i);

async function runFromSidebar(page: Page, state: 'succeeded' | 'failed'): Promise<string> {
  const sidebar = page.locator('#cellpipe-sidebar');
  const before = await sidebar.locator('.cp-current-run').getAttribute('data-run-id').catch(() => null);
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).not.toHaveAttribute('data-run-id', before ?? '', { timeout: 60_000 });
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', state, { timeout: 180_000 });
  return (await sidebar.locator('.cp-current-run').getAttribute('data-run-id'))!;
}

test('a run shows each cell\'s plot, table and value under that cell, marked with the run; one click shows the kernel\'s outputs instead', async ({ page }) => {
  await openNotebook(page, NB);
  await openSidebar(page);
  const runId = await runFromSidebar(page, 'succeeded');

  // cell 6 (index 5) draws the plot; cell 7 (index 6) displays the HTML table; cell 8 (index 7) ends in a value.
  const plot = cell(page, 5).locator('.cp-run-outputs');
  await expect(plot).toHaveAttribute('data-run-id', runId);
  await expect(plot).toHaveAttribute('data-step', 'plot');
  await expect(plot.locator('.cp-run-outputs-from')).toContainText(`from run ${runId} · step plot succeeded`);
  await expect(plot.locator('.cp-run-output img')).toBeVisible();
  const table = cell(page, 6).locator('.cp-run-outputs');
  await expect(table.locator('table')).toBeVisible();
  await expect(table.locator('table td').first()).toHaveText('rate');
  await expect(table.locator('table tr').nth(2)).toContainText('3.0');
  await expect(cell(page, 7).locator('.cp-run-outputs .cp-run-output')).toHaveText("'total is 3.0'");
  // The data step printed a line; it is under the data step's cell (index 4), not under the plot's.
  await expect(cell(page, 4).locator('.cp-run-outputs .cp-run-output')).toContainText('made 4 points');
  await expect(plot.locator('.cp-run-output')).toHaveCount(1);
  await expect(cell(page, 5)).toHaveClass(/cp-showing-run/);
  await cell(page, 5).scrollIntoViewIfNeeded();
  await keep(page, 'outputs-under-cells');

  // One click: every cell shows the kernel's outputs (none: the kernel never ran), the run's fold away.
  await plot.locator('.cp-outputs-switch').click();
  await expect(cell(page, 5)).not.toHaveClass(/cp-showing-run/);
  await expect(plot.locator('.cp-run-output img')).toBeHidden();
  await expect(table.locator('table')).toBeHidden();
  await expect(plot.locator('.cp-outputs-switch')).toHaveText('run outputs');
  await plot.locator('.cp-outputs-switch').click();
  await expect(plot.locator('.cp-run-output img')).toBeVisible();

  // The run's outputs were never written into the notebook (it was saved before the run, as it was).
  const saved = JSON.parse(readFileSync(join(ROOT, NB), 'utf8')) as Nb;
  expect(saved.cells.every((c) => c.cell_type !== 'code' || (c.outputs ?? []).length === 0)).toBe(true);
});

test('runs with different parameters: history rows say what differs, an older run shows its outputs, compare puts both values side by side', async ({ page }) => {
  await openNotebook(page, NB);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  const first = await sidebar.locator('.cp-current-run').getAttribute('data-run-id');
  await sidebar.locator('input[name="param-RATE"]').fill('1.5');
  const second = await runFromSidebar(page, 'succeeded');
  expect(second).not.toBe(first);
  await expect(cell(page, 7).locator('.cp-run-outputs .cp-run-output')).toHaveText("'total is 9.0'");

  const row = (id: string) => sidebar.locator(`.cp-history-item[data-run-id="${id}"]`);
  await expect(row(second).locator('.cp-run-param')).toHaveText(['RATE=1.5']);
  await expect(row(second).locator('.cp-run-metric')).toHaveText('total: 9');
  await expect(row(first!).locator('.cp-run-param')).toHaveCount(0);
  await expect(row(first!).locator('.cp-run-metric')).toHaveText('total: 3');
  await expect(sidebar.locator('.cp-run-details [data-param="RATE"]')).toHaveText('RATE=1.5');

  // The first run, picked in the history, shows its own outputs and parameter values.
  await row(first!).locator('.cp-run-start').click();
  await expect(cell(page, 7).locator('.cp-run-outputs')).toHaveAttribute('data-run-id', first!);
  await expect(cell(page, 7).locator('.cp-run-outputs .cp-run-output')).toHaveText("'total is 3.0'");
  await expect(sidebar.locator('.cp-run-details [data-param="RATE"]')).toHaveText('RATE=0.5');

  await row(first!).locator('.cp-compare-pick').check();
  await row(second).locator('.cp-compare-pick').check();
  await sidebar.locator('.cp-compare-button').click();
  const compare = page.locator('.cp-compare');
  await expect(compare).toBeVisible();
  await expect(compare.locator('thead th[data-run-id]')).toHaveCount(2);
  const rate = compare.locator('tr[data-row="parameter:RATE"]');
  await expect(rate).toHaveClass(/cp-differs/);
  await expect(rate.locator('td')).toHaveText(['0.5', '1.5']);
  await expect(compare.locator('tr[data-row="parameter:N"]')).not.toHaveClass(/cp-differs/);
  await expect(compare.locator('tr[data-row="metric:total"] td')).toHaveText(['3', '9']);
  await expect(compare.locator('tr[data-row="step:plot"] td').first()).toContainText('succeeded');
  await keep(page, 'compare-runs');
});

test('export writes the executed notebook beside the notebook, and nbformat accepts it', async ({ page }) => {
  await openNotebook(page, NB);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  const runId = (await sidebar.locator('.cp-current-run').getAttribute('data-run-id'))!;
  await sidebar.locator('.cp-export-button').click();
  const file = join(ROOT, `outputs.${runId}.ipynb`);
  await expect.poll(() => existsSync(file), { timeout: 30_000 }).toBe(true);
  await expect(page.locator('.lm-TabBar-tabLabel', { hasText: `outputs.${runId}.ipynb` })).toBeVisible();
  execFileSync(PYTHON, ['-c', 'import nbformat,sys; nbformat.validate(nbformat.read(sys.argv[1], 4))', file]);
  const executed = JSON.parse(readFileSync(file, 'utf8')) as { cells: { outputs?: { output_type: string; data?: Record<string, unknown> }[] }[] };
  expect(Object.keys(executed.cells[5].outputs?.[0]?.data ?? {})).toContain('image/png');
  expect(Object.keys(executed.cells[6].outputs?.[0]?.data ?? {})).toContain('text/html');
});

test('a failing run marks the cell that raised and shows the error under it, once; its graph node goes there', async ({ page }) => {
  await openNotebook(page, FAILING);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await runFromSidebar(page, 'failed');
  const failed = cell(page, 6);
  await expect(failed).toHaveClass(/cp-failed-cell/);
  await expect(failed.locator('.cp-failed-marker')).toHaveText('✖ step table failed here (line 2)');
  const error = failed.locator('.cp-run-error');
  await expect(error.locator('.cp-run-error-head')).toContainText('ZeroDivisionError: float division by zero');
  const traceback = error.locator('.cp-run-error-traceback');
  await expect(traceback.locator('pre')).toBeHidden();
  await traceback.locator('summary').click();
  await expect(traceback.locator('pre')).toContainText('scale = total / (RATE - 0.5)');
  // The message is read once: the traceback does not end by repeating it.
  expect(await traceback.locator('pre').textContent()).not.toContain('division by zero');
  // Only the cell that raised is marked; the steps that succeeded keep their outputs.
  await expect(page.locator('.jp-Cell.cp-failed-cell')).toHaveCount(1);
  await expect(cell(page, 5).locator('.cp-run-output img')).toBeVisible();
  await failed.scrollIntoViewIfNeeded();
  await keep(page, 'failed-cell');

  await cell(page, 0).click();
  await sidebar.locator('.cp-dag-node[data-step="table"]').click();
  await expect(cell(page, 6)).toHaveClass(/jp-mod-active/);
  await cell(page, 0).click();
  await sidebar.locator('.cp-run-steps li', { hasText: 'table' }).click();
  await expect(cell(page, 6)).toHaveClass(/jp-mod-active/);
});
