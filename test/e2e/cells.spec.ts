/**
 * What shows under and in the cells after a run (issue 25), in a real JupyterLab + Chromium with real local runs:
 * an error raised inside a function of a `functions` cell marks the function's line there and the calling line in
 * the step's own cell, each with its step's state and a link to the other; the `pipeline-metrics` cell shows the
 * metrics the run recorded; an exported executed notebook opens as that run's copy of its notebook, not as a
 * pipeline to run; Shift+Alt+S makes a step that depends on what its data comes from, and says so.
 */
import { test, expect, type Page } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cell, expectToast, keep, openNotebook, openSidebar, runFromSidebar } from './lab-helpers.js';

const codeCell = (source: string, tags: string[]) => ({ cell_type: 'code', execution_count: null, metadata: { tags }, outputs: [], source });
const notebook = (cells: unknown[]) => JSON.stringify({ cells, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5 }, null, 1);

const IN_FUNCTION = 'cells_function_error.ipynb';
const METRICS = 'cells_metrics.ipynb';
const WINE = 'cells_new_step.ipynb';

test.beforeAll(() => {
  // The wine notebook's shape: a helper in a functions cell (cell 2) raises on its line 3 when train_logreg's cell
  // (cell 4) calls it on its line 2; load_data ran the same functions cell and succeeded.
  writeFileSync(join(ROOT, IN_FUNCTION), notebook([
    codeCell('import math', ['imports']),
    codeCell('def fit(C):\n    penalty = 1 / C\n    return math.log(-penalty)', ['functions']),
    codeCell('rows = [1.0, 2.0, 3.0]\nprint("loaded", len(rows))', ['step:load_data']),
    codeCell('C = 0.5\nmodel = fit(C)\nprint(model)', ['step:train_logreg', 'prev:load_data']),
  ]));
  writeFileSync(join(ROOT, METRICS), notebook([
    codeCell('rows = list(range(90))', ['step:load']),
    codeCell('accuracy = 7 / 8\nsamples = len(rows)', ['step:evaluate', 'prev:load']),
    codeCell('print(accuracy)\nprint(samples)', ['pipeline-metrics']),
  ]));
  // Issue 25's wine notebook, tagged top to bottom: the second training is still untagged; a report step below.
  writeFileSync(join(ROOT, WINE), notebook([
    codeCell('raw = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]', ['step:load']),
    codeCell('X_train_s = [r[0] for r in raw]\ny_train = [r[1] for r in raw]', ['step:features', 'prev:load']),
    codeCell('forest = sum(X_train_s) + sum(y_train)', ['step:train_forest', 'prev:features']),
    codeCell('logreg = max(X_train_s) - min(y_train)', []),
    codeCell('print("report")', ['step:report']),
  ]));
});


test("an error inside a functions cell's function marks the function's line and the step's calling line, each linking to the other", async ({ page }) => {
  await openNotebook(page, IN_FUNCTION);
  await openSidebar(page);
  await runFromSidebar(page, 'failed');

  const functions = cell(page, 1);
  const raised = functions.locator('.cp-failed-marker');
  await expect(raised).toHaveText('✖ step train_logreg failed here (line 3)');
  await expect(raised).toHaveAttribute('data-state', 'failed');
  await expect(raised).toHaveAttribute('data-step', 'train_logreg');
  await expect(functions.locator('.cp-failed-link')).toHaveText('called from cell 4, line 2');

  const calling = cell(page, 3);
  await expect(calling).toHaveClass(/cp-failed-cell/);
  const called = calling.locator('.cp-failed-marker');
  await expect(called).toHaveText('✖ step train_logreg failed in a function called here (line 2)');
  await expect(called).toHaveAttribute('data-state', 'failed');
  await expect(calling.locator('.cp-failed-link')).toHaveText('raised in cell 2, line 3');
  // The error under the calling cell links to the calling line, not to a line number of another cell.
  await expect(calling.locator('.cp-run-error .cp-run-error-where')).toHaveText('line 2');
  // The step that ran the same functions cell and succeeded is not marked.
  await expect(cell(page, 2)).not.toHaveClass(/cp-failed-cell/);
  await keep(page, 'failed-in-function');

  // Each link goes to the other end.
  await calling.locator('.cp-failed-link').click();
  await expect(functions).toHaveClass(/jp-mod-active/);
  await functions.locator('.cp-failed-link').click();
  await expect(calling).toHaveClass(/jp-mod-active/);
});

test('after a run the pipeline-metrics cell shows each metric the steps recorded, with its step', async ({ page }) => {
  await openNotebook(page, METRICS);
  await openSidebar(page);
  const runId = await runFromSidebar(page, 'succeeded');
  const metrics = cell(page, 2).locator('.cp-run-metrics');
  await expect(metrics).toHaveAttribute('data-run-id', runId);
  await expect(metrics.locator('tr[data-metric="accuracy"] td')).toHaveText(['0.875', 'step evaluate']);
  await expect(metrics.locator('tr[data-metric="samples"] td')).toHaveText(['90', 'step evaluate']);
  await expect(metrics.locator('tr')).toHaveCount(2);
  // Only the metrics cell shows them.
  await expect(page.locator('.cp-run-metrics')).toHaveCount(1);
  await keep(page, 'metrics-cell');
});

test('an exported executed notebook opens as the copy of its notebook from its run, and does not run as a pipeline', async ({ page }) => {
  await openNotebook(page, METRICS);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  const runId = await runFromSidebar(page, 'succeeded');
  await sidebar.locator('.cp-export-button').click();
  const copyName = `cells_metrics.${runId}.ipynb`;
  await expect(page.locator('.lm-TabBar-tabLabel', { hasText: copyName })).toBeVisible({ timeout: 30_000 });
  const note = sidebar.locator('.cp-executed-copy');
  await expect(note).toHaveText(`Executed copy of cells_metrics.ipynb from run ${runId} (succeeded): its outputs are that run's. Run the pipeline from cells_metrics.ipynb.`);
  for (const button of ['.cp-run-button', '.cp-run-nocache-button', '.cp-run-only-button', '.cp-run-from-button']) await expect(sidebar.locator(button)).toBeDisabled();
  await expect(sidebar.locator('.cp-run-button')).toHaveAttribute('title', /executed copy of cells_metrics\.ipynb/);
  await keep(page, 'executed-copy');
  // The link opens the notebook itself, whose sidebar runs it again.
  await note.locator('.cp-executed-copy-open').click();
  await expect(page.locator('.lm-TabBar-tab.jp-mod-current .lm-TabBar-tabLabel', { hasText: /^cells_metrics\.ipynb$/ })).toBeVisible();
  await expect(sidebar.locator('.cp-executed-copy')).toHaveCount(0);
  await expect(sidebar.locator('.cp-run-button')).toBeEnabled();
});

test('Shift+Alt+S makes a step that depends on the steps its data comes from, says so, and Depends on offers only earlier steps', async ({ page }) => {
  await openNotebook(page, WINE);
  const logreg = cell(page, 3);
  await logreg.locator('.jp-InputPrompt').click();
  await page.keyboard.press('Shift+Alt+S');
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('input').fill('train_logreg');
  await dialog.locator('.jp-mod-accept').click();
  await expect(logreg.locator('.cp-chip')).toHaveText('train_logreg');
  // Parallel to train_forest, after features: what it reads, not the step above.
  await expect(logreg.locator('.cp-deps')).toHaveText('after features');
  await expectToast(page, 'cell 4 is step train_logreg, after features (it reads X_train_s, y_train)', 10_000);
  await logreg.locator('.cp-chip').click();
  const prev = dialog.locator('.cp-prev-choice input');
  await expect(prev).toHaveCount(3);
  await expect(dialog.locator('input[name="prev:features"]')).toBeChecked();
  await expect(dialog.locator('input[name="prev:train_forest"]')).not.toBeChecked();
  await expect(dialog.locator('input[name="prev:load"]')).not.toBeChecked();
  // The report step starts below the cell: it is no dependency to offer.
  await expect(dialog.locator('input[name="prev:report"]')).toHaveCount(0);
  await dialog.locator('button', { hasText: 'Cancel' }).click();
});
