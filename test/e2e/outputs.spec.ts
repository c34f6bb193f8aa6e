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
import { ROOT, TOKEN, URL, cell, keep, openNotebook, openSidebar, runFromSidebar } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = join(here, '../../.venv/bin/python');
const NB = 'outputs.ipynb';
const FAILING = 'outputs_failing.ipynb';
const WIDE = 'wide_graph.ipynb';
const LIVE = 'live_log.ipynb';
const FANOUT = 'fan_out.ipynb';
const FAN = ['train_lr', 'train_rf', 'train_gb', 'train_svm', 'train_knn', 'train_nb', 'train_mlp', 'train_dt'];

const codeCell = (source: string, tags: string[]) => ({ cell_type: 'code', execution_count: null, metadata: { tags }, outputs: [], source });
const notebook = (cells: unknown[]) => JSON.stringify({ cells, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5 }, null, 1);

type Nb = { cells: { cell_type: string; source: string | string[]; outputs?: unknown[] }[] };

test.beforeAll(() => {
  copyFileSync(join(here, 'notebooks', NB), join(ROOT, NB));
  // The same notebook whose table step divides by zero at the default RATE (line 2 of the step's cell, cell 7).
  const nb = JSON.parse(readFileSync(join(here, 'notebooks', NB), 'utf8')) as Nb;
  nb.cells[6].source = "total = sum(ys)\nscale = total / (RATE - 0.5)\ndisplay(Table([('scale', scale)]))";
  writeFileSync(join(ROOT, FAILING), JSON.stringify(nb, null, 1));
  // 12 steps: a chain that fans out into 8 trainings and joins again.
  writeFileSync(join(ROOT, WIDE), notebook([
    codeCell('raw = list(range(10))', ['step:load']),
    codeCell('X = raw[:-1]\ny = raw[1:]', ['step:features', 'prev:load']),
    ...FAN.map((f) => codeCell(`model_${f.slice(6)} = len(X) + len(y)`, [`step:${f}`, 'prev:features'])),
    codeCell(`best = max([${FAN.map((f) => `model_${f.slice(6)}`).join(', ')}])`, ['step:compare', ...FAN.map((f) => `prev:${f}`)]),
    codeCell('print(best)', ['step:report', 'prev:compare']),
  ]));
  // The wine notebook of issue 25: two models trained in parallel from the same features.
  writeFileSync(join(ROOT, FANOUT), notebook([
    codeCell('raw = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]', ['step:load']),
    codeCell('X_train_s = [r[0] for r in raw]\ny_train = [r[1] for r in raw]', ['step:features', 'prev:load']),
    codeCell('forest = sum(X_train_s) + sum(y_train)', ['step:train_forest', 'prev:features']),
    codeCell('logreg = max(X_train_s) - min(y_train)', ['step:train_logreg', 'prev:features']),
    codeCell('print(forest, logreg)', ['step:evaluate', 'prev:train_forest', 'prev:train_logreg']),
  ]));
  writeFileSync(join(ROOT, LIVE), notebook([
    codeCell('import time', ['imports']),
    codeCell('TICKS = 16', ['pipeline-parameters']),
    codeCell('for i in range(TICKS):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.4)', ['step:slow']),
    codeCell('print("done")', ['step:after', 'prev:slow']),
  ]));
});


test('a run shows each cell\'s plot, table and value under that cell, marked with the run; one click shows the kernel\'s outputs instead', async ({ page }) => {
  await openNotebook(page, NB);
  await openSidebar(page);
  const runId = await runFromSidebar(page, 'succeeded');

  // cell 6 (index 5) draws the plot; cell 7 (index 6) displays the HTML table; cell 8 (index 7) ends in a value.
  const plot = cell(page, 5).locator('.cp-run-outputs');
  await expect(plot).toHaveAttribute('data-run-id', runId);
  await expect(plot).toHaveAttribute('data-step', 'plot');
  // (succeeded, or cached when this test is retried: then it names the run whose outputs it shows)
  await expect(plot.locator('.cp-run-outputs-from')).toContainText(new RegExp(`^from run ${runId} · step plot (succeeded|cached · outputs of run \\S+) · `));
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
  // The picture: the plot's cell at the top, the table's below it.
  await cell(page, 5).evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await keep(page, 'outputs-under-cells');

  // One click: every cell shows the kernel's outputs (none: the kernel never ran), the run's fold away.
  await plot.locator('.cp-outputs-switch').click();
  await expect(cell(page, 5)).not.toHaveClass(/cp-showing-run/);
  await expect(plot.locator('.cp-run-output img')).toBeHidden();
  await expect(table.locator('table')).toBeHidden();
  await expect(plot.locator('.cp-outputs-switch')).toHaveText('run outputs');
  await plot.locator('.cp-outputs-switch').click();
  await expect(plot.locator('.cp-run-output img')).toBeVisible();

  // A cell run in the kernel since shows the kernel's new output (here a NameError: the kernel never ran the
  // parameters cell); the other cells keep the run's.
  await cell(page, 4).locator('.jp-InputArea-editor').click();
  await page.keyboard.press('Shift+Enter');
  await expect(cell(page, 4).locator('.jp-Cell-outputWrapper')).toContainText('NameError', { timeout: 60_000 });
  await expect(cell(page, 4)).not.toHaveClass(/cp-showing-run/);
  await expect(cell(page, 4).locator('.cp-outputs-switch')).toHaveText('run outputs');
  await expect(cell(page, 5)).toHaveClass(/cp-showing-run/);
  // The same switch from the command palette.
  const command = async (label: string) => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+C');
    await page.locator('.lm-CommandPalette-input').fill(label);
    await page.locator('.lm-CommandPalette-item', { hasText: label }).first().click();
  };
  await command("Show the Kernel's Outputs under Cells");
  await expect(cell(page, 5)).not.toHaveClass(/cp-showing-run/);
  await command("Show the Pipeline Run's Outputs under Cells");
  await expect(cell(page, 5)).toHaveClass(/cp-showing-run/);

  // The run's outputs were never written into the notebook (it was saved before the run, as it was).
  const saved = JSON.parse(readFileSync(join(ROOT, NB), 'utf8')) as Nb;
  expect(saved.cells.every((c) => c.cell_type !== 'code' || (c.outputs ?? []).length === 0)).toBe(true);

  // Editing a cell's code after the run says its outputs are of the code it had then.
  const value = cell(page, 7);
  await expect(value.locator('.cp-run-outputs-edited')).toHaveCount(0);
  await value.locator('.cm-content').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(" + ''");
  await expect(value.locator('.cp-run-outputs-edited')).toHaveText('code edited since');
  await expect(cell(page, 6).locator('.cp-run-outputs-edited')).toHaveCount(0);
  await page.keyboard.press('Escape');
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
  await expect(sidebar.locator('input[name="param-RATE"]')).toHaveValue('1.5');
  await sidebar.locator('.cp-run-details .cp-use-params').click();
  await expect(sidebar.locator('input[name="param-RATE"]')).toHaveValue('0.5');

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
  // One cell across runs: its outputs from each run side by side — the value, the plot, the table.
  const one = page.locator('.cp-compare-cell');
  const picker = one.locator('select[name="compare-cell"]');
  const column = (id: string) => one.locator(`.cp-compare-column[data-run-id="${id}"]`);
  await picker.selectOption({ index: [...(await picker.locator('option').allTextContents())].findIndex((t) => t.startsWith('cell 8 ')) });
  await expect(column(first!).locator('.cp-compare-output')).toHaveText("'total is 3.0'");
  await expect(column(second).locator('.cp-compare-output')).toHaveText("'total is 9.0'");
  await picker.selectOption({ index: [...(await picker.locator('option').allTextContents())].findIndex((t) => t.startsWith('cell 6 ')) });
  for (const id of [first!, second]) await expect(column(id).locator('.cp-compare-output[data-mime-type="image/png"] img')).toBeVisible();
  await picker.selectOption({ index: [...(await picker.locator('option').allTextContents())].findIndex((t) => t.startsWith('cell 7 ')) });
  for (const id of [first!, second]) await expect(column(id).locator('.cp-compare-output[data-mime-type="text/html"] table')).toBeVisible();
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

type Box = { x: number; y: number; width: number; height: number };
const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test('two steps trained in parallel sit side by side at the sidebar\'s width, each with its own edges; data labels never between them', async ({ page }) => {
  await openNotebook(page, FANOUT);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await expect(sidebar.locator('.cp-dag-node')).toHaveCount(5);
  await expect(sidebar.locator('svg.cp-dag')).toHaveAttribute('data-wrapped', 'false');
  const box = async (step: string) => (await sidebar.locator(`.cp-dag-node[data-step="${step}"] rect`).boundingBox())!;
  const [forest, logreg, features, evaluate] = [await box('train_forest'), await box('train_logreg'), await box('features'), await box('evaluate')];
  expect(Math.abs(forest.y - logreg.y)).toBeLessThan(1);
  expect(forest.x + forest.width).toBeLessThan(logreg.x);
  expect(features.y + features.height).toBeLessThan(forest.y);
  expect(forest.y + forest.height).toBeLessThan(evaluate.y);
  // Shrunk to fit rather than wrapped, the labels stay readable (8 px or more) and nothing needs scrolling sideways.
  for (const h of await sidebar.locator('.cp-dag-node text').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height))) expect(h).toBeGreaterThanOrEqual(8);
  const fits = await sidebar.locator('.cp-dag-scroll').evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
  expect(fits.scroll).toBeLessThanOrEqual(fits.client);
  // There is no edge between the two, and the edges from features leave through separate points.
  await expect(sidebar.locator('.cp-dag-edge[data-edge="train_forest->train_logreg"]')).toHaveCount(0);
  const starts = await sidebar.locator('.cp-dag-edge[data-edge^="features->"]').evaluateAll((els) => els.map((e) => e.getAttribute('d')!.split(' ').slice(1, 3).join(',')));
  expect(new Set(starts).size).toBe(2);
  await sidebar.locator('input[name="dag-data-names"]').check();
  const label = sidebar.locator('.cp-dag-edge-label', { hasText: 'X_train_s, y_train' });
  await expect(label).toHaveCount(2);
  const nodes = await sidebar.locator('.cp-dag-node rect').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as Box));
  for (const l of await sidebar.locator('.cp-dag-edge-label').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as Box))) {
    for (const n of nodes) expect(overlap(l, n)).toBe(false);
  }
  await keep(page, 'sidebar-dag-parallel', { selector: '#cellpipe-sidebar .cp-dag-view' });
});

test('a 12-step graph too wide to read shrunk wraps onto rows, labels readable, data names in the tooltips, neighbours in distinct colours', async ({ page }) => {
  await openNotebook(page, WIDE);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await expect(sidebar.locator('.cp-dag-node')).toHaveCount(12);
  const svg = sidebar.locator('svg.cp-dag');
  await expect(svg).toHaveAttribute('data-wrapped', 'true');
  const fits = await sidebar.locator('.cp-dag-scroll').evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
  expect(fits.scroll).toBeLessThanOrEqual(fits.client);
  // Labels stay readable: shrunk no further than 8 px.
  const heights = await sidebar.locator('.cp-dag-node text').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
  for (const h of heights) expect(h).toBeGreaterThanOrEqual(8);
  await expect(sidebar.locator('.cp-dag-edge-label')).toHaveCount(0);
  await sidebar.locator('input[name="dag-data-names"]').check();
  // Wrapped rows have no free place for labels: each edge names its data in its tooltip, and the graph says so.
  await expect(sidebar.locator('.cp-dag-edge-label')).toHaveCount(0);
  await expect(sidebar.locator('.cp-dag-note')).toContainText('hover an arrow');
  await expect(sidebar.locator('.cp-dag-edge[data-edge="features->train_rf"] title')).toHaveText('features → train_rf: X, y');
  await expect(sidebar.locator('.cp-dag-edge[data-edge="train_rf->compare"] title')).toHaveText('train_rf → compare: model_rf');
  // Zoom in and back to fit.
  const fit = (await sidebar.locator('.cp-dag-zoom-fit').textContent())!;
  await sidebar.locator('.cp-dag-zoom-in').click();
  await expect(sidebar.locator('.cp-dag-zoom-fit')).not.toHaveText(fit);
  expect(parseInt((await sidebar.locator('.cp-dag-zoom-fit').textContent())!)).toBeGreaterThan(parseInt(fit));
  await sidebar.locator('.cp-dag-zoom-fit').click();
  await expect(sidebar.locator('.cp-dag-zoom-fit')).toHaveText(fit);
  // Steps next to each other in the notebook have hues at least 60° apart (on the cells and in the graph alike).
  const hues = await page.locator('.jp-NotebookPanel .jp-Cell.cp-step-cell').evaluateAll((els) =>
    els.map((e) => Number(/hsl\((\d+)/.exec(getComputedStyle(e).getPropertyValue('--cp-step-color'))?.[1])));
  expect(hues).toHaveLength(12);
  for (let i = 1; i < hues.length; i++) {
    const d = Math.abs(hues[i] - hues[i - 1]) % 360;
    expect(Math.min(d, 360 - d)).toBeGreaterThanOrEqual(60);
  }
  const nodeHue = await sidebar.locator('.cp-dag-node[data-step="train_rf"]').evaluate((e) => getComputedStyle(e).getPropertyValue('--cp-step-color').trim());
  const cellHue = await page.locator('.jp-NotebookPanel .jp-Cell.cp-step-cell').nth(3).evaluate((e) => getComputedStyle(e).getPropertyValue('--cp-step-color').trim());
  expect(nodeHue).toBe(cellHue);
  await keep(page, 'sidebar-dag-wide', { selector: '#cellpipe-sidebar' });
});

test('while a step runs its header duration ticks and the full log tab follows it; a folded log stays folded in the next run', async ({ page }) => {
  await openNotebook(page, LIVE);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('.cp-run-button').click();
  const log = page.locator('.cp-inline-log[data-step="slow"]');
  await expect(log.locator('.cp-log-line', { hasText: 'tick 1' })).toBeVisible({ timeout: 60_000 });
  // The step's cell says it runs; its outputs come when it ends.
  await expect(cell(page, 2).locator('.cp-run-outputs-none')).toHaveText('the step is running: its outputs show here when it ends');
  const meta = log.locator('.cp-log-header .cp-log-meta');
  const first = await meta.textContent();
  await expect.poll(() => meta.textContent(), { timeout: 5_000 }).not.toBe(first);

  await log.locator('.cp-log-full').click();
  const tab = page.locator('.jp-MainAreaWidget .cp-full-log');
  await expect(tab.locator('pre')).toContainText('tick 1');
  await expect(tab.locator('.cp-full-log-status')).toContainText('following');
  // Lines the step prints after the tab opened arrive in it.
  await expect(tab.locator('pre')).toContainText('tick 15', { timeout: 30_000 });
  await expect(tab).toHaveAttribute('data-ended', 'true', { timeout: 30_000 });
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await page.locator('.lm-TabBar-tab', { hasText: LIVE }).click();
  await expect(cell(page, 2).locator('.cp-run-outputs .cp-run-output')).toContainText('tick 15');

  // Its prints are under its cell now: the log folds by itself and, opened, does not repeat them.
  await expect(log).toHaveClass(/cp-collapsed/);
  await log.locator('.cp-log-toggle').click();
  await expect(log).not.toHaveClass(/cp-collapsed/);
  await expect(log.locator('.cp-log-line', { hasText: 'tick 15' })).toBeHidden();
  await log.locator('.cp-log-prints').click();
  await expect(log.locator('.cp-log-line', { hasText: 'tick 15' })).toBeVisible();
  // Folded by the user: folded in the next run too; opened by the user: open in the next run too.
  await log.locator('.cp-log-toggle').click();
  await expect(log).toHaveClass(/cp-collapsed/);
  const after = page.locator('.cp-inline-log[data-step="after"]');
  await expect(after).toHaveClass(/cp-collapsed/);
  await after.locator('.cp-log-toggle').click();
  const before = await sidebar.locator('.cp-current-run').getAttribute('data-run-id');
  await sidebar.locator('input[name="param-TICKS"]').fill('3');
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).not.toHaveAttribute('data-run-id', before!, { timeout: 60_000 });
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  const next = page.locator('.cp-inline-log[data-step="slow"]');
  await expect(next).not.toHaveAttribute('data-run-id', before!);
  await expect(next).toHaveClass(/cp-collapsed/);
  await expect(page.locator('.cp-inline-log[data-step="after"]')).not.toHaveAttribute('data-run-id', before!);
  await expect(page.locator('.cp-inline-log[data-step="after"]')).not.toHaveClass(/cp-collapsed/);
});

test('with the setting "Outputs under cells: kernel" cells show the kernel\'s outputs, the run\'s one click away', async ({ page }) => {
  const put = (raw: string) => page.request.put(`${URL}lab/api/settings/cellpipe:plugin`, { headers: { Authorization: `token ${TOKEN}` }, data: { raw } });
  expect((await put(JSON.stringify({ cellOutputs: 'kernel' }))).status()).toBe(204);
  try {
    await openNotebook(page, NB);
    const plot = cell(page, 5).locator('.cp-run-outputs');
    await expect(plot.locator('.cp-outputs-switch')).toHaveText('run outputs');
    await expect(cell(page, 5)).not.toHaveClass(/cp-showing-run/);
    await expect(plot.locator('.cp-run-output img')).toBeHidden();
    // Above the kernel's outputs no line says they come from the run; the switch names the run it brings back.
    await expect(plot.locator('.cp-run-outputs-from')).toHaveCount(0);
    await expect(plot.locator('.cp-outputs-switch')).toHaveAttribute('title', /^show what run \S+ printed here instead/);
    // The run's prints are not under the cells: the data step's log keeps them, open.
    const data = page.locator('.cp-inline-log[data-step="data"]');
    await expect(data).not.toHaveClass(/cp-collapsed/);
    await expect(data.locator('.cp-log-line', { hasText: 'made 4 points' })).toBeVisible();
    await plot.locator('.cp-outputs-switch').click();
    await expect(plot.locator('.cp-run-output img')).toBeVisible();
    await expect(plot.locator('.cp-run-outputs-from')).toBeVisible();
    await expect(data).toHaveClass(/cp-collapsed/);
  } finally {
    expect((await put('{}')).status()).toBe(204);
  }
});
