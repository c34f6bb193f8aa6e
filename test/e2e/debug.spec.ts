/**
 * The debugging loop in a real JupyterLab + Chromium, on debug.ipynb (load → divide → report, and other beside;
 * DIVISOR = 0 makes divide fail): a failed step's inputs loaded into the notebook's own kernel from its inline-log
 * header (checked by running cells that use them), then — with the parameter fixed — "Run from here" on the
 * step's chip, "Run this step" in the sidebar (the other steps shown reused from the run they came from) and "Run
 * without cache".
 */
import { test, expect, type Page } from '@playwright/test';
import { expectToast, keep, openNotebook, openSidebar, savedTagsOnceWritten } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

const cells = (page: Page) => page.locator('.jp-NotebookPanel .jp-Cell');
const stepCell = (page: Page, step: string) => cells(page).filter({ has: page.locator('.cp-chip', { hasText: new RegExp(`^${step}$`) }) });

/** Waits for a run other than `previous` to be shown and end in `state`; its id. */
async function nextRun(page: Page, previous: string | null, state: 'succeeded' | 'failed'): Promise<string> {
  const current = page.locator('#cellpipe-sidebar .cp-current-run');
  await expect.poll(() => current.getAttribute('data-run-id'), { timeout: 60_000 }).not.toBe(previous);
  await expect(current).toHaveAttribute('data-state', state, { timeout: 180_000 });
  return (await current.getAttribute('data-run-id'))!;
}

async function dagStates(page: Page): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const step of ['load', 'divide', 'report', 'other']) out[step] = await page.locator(`#cellpipe-sidebar .cp-dag-node[data-step="${step}"]`).getAttribute('data-state');
  return out;
}

let failedRun = '';

test('a failed step: "Load inputs into kernel" binds what the pipeline gave it and selects the cell that raised', async ({ page }) => {
  // The page's own errors and warnings go to the test output: a kernel request that never ends says why there.
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && console.log(`[page ${m.type()}] ${m.text()}`));
  await openNotebook(page, 'debug.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('.cp-run-button').click();
  failedRun = await nextRun(page, null, 'failed');
  const divide = page.locator('.cp-inline-log[data-step="divide"]');
  await expect(divide).toHaveAttribute('data-state', 'failed');
  // The sidebar's "Debug a step" starts on the failed step.
  await expect(sidebar.locator('select[name="debug-step"]')).toHaveValue('divide');

  await divide.locator('.cp-log-load-inputs').click();
  await expectToast(page, `inputs of step 'divide' loaded: DIVISOR (int), total (int), unit (str) (run ${failedRun})`, 90_000);
  // The cell that raised is the active one: run it, in the kernel, with the pipeline's data — the same error.
  const active = page.locator('.jp-NotebookPanel .jp-Cell.jp-mod-active');
  await expect(active.locator('.cm-content')).toContainText('share = total / DIVISOR');
  await active.locator('.cm-content').click();
  await page.keyboard.press('Shift+Enter');
  await expect(stepCell(page, 'divide').locator('.jp-OutputArea-output')).toContainText('ZeroDivisionError', { timeout: 60_000 });

  // A new cell below prints the variables the step read: they are bound in the kernel.
  await stepCell(page, 'divide').locator('.cm-content').click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('b');
  const added = cells(page).nth(5);
  await expect(added).toHaveClass(/jp-mod-active/);
  await added.locator('.cm-content').click();
  await page.keyboard.type("print('bound', total, DIVISOR, unit, os.environ.get('CELLPIPE_STEP'))");
  await page.keyboard.press('Shift+Enter');
  // `os` comes from the imports cell (run before the load), the values from the run; CELLPIPE_STEP is the step's, not the kernel's.
  await expect(added.locator('.jp-OutputArea-output')).toHaveText('bound 10 0 kg None', { timeout: 60_000 });
  // The new cell joined the step: once the page recompiled, the step's log sits under it, its last cell.
  await expect(added.locator('.cp-inline-log[data-step="divide"]')).toBeVisible();
  await stepCell(page, 'divide').scrollIntoViewIfNeeded();
  await keep(page, 'debug-step');
  // Leave the notebook as it was for the next tests (the added cell would join the divide step).
  await added.locator('.cm-content').click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('d');
  await page.keyboard.press('d');
  await expect(cells(page)).toHaveCount(7);
});

test('"Run from here" on the chip and "Run this step" in the sidebar run only what they say; the other steps are shown reused', async ({ page }) => {
  await openNotebook(page, 'debug.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-run-id', failedRun);
  await sidebar.locator('input[name="param-DIVISOR"]').fill('2');

  // ▶ from here on divide's chip: divide and report run; load and other come from the failed run.
  await stepCell(page, 'divide').locator('.cp-chip-run-from').click();
  const fromRun = await nextRun(page, failedRun, 'succeeded');
  expect(await dagStates(page)).toEqual({ load: 'cached', divide: 'succeeded', report: 'succeeded', other: 'cached' });
  // A partial run does not pass for a full one: its header and its history row say what it ran.
  await expect(sidebar.locator('.cp-current-run .cp-run-partial')).toHaveText('from divide · 2 reused');
  await expect(sidebar.locator(`.cp-history-item[data-run-id="${fromRun}"] .cp-run-partial`)).toHaveText('from divide · 2 reused');
  await expect(page.locator('.cp-inline-log[data-step="load"] .cp-log-header .cp-log-meta')).toContainText(`reused from ${failedRun}`);
  await expect(page.locator('.cp-inline-log[data-step="divide"] .cp-log-lines')).toContainText('share 5.0 kg');
  // The reused step shows the log of the run that ran it.
  await expect(page.locator('.cp-inline-log[data-step="load"] .cp-log-lines')).toContainText('loaded 10 kg');

  // Run this step (sidebar) on other, picked by a click on its node: only other runs; the rest comes from the latest run.
  await sidebar.locator('.cp-dag-node[data-step="other"]').click();
  await expect(sidebar.locator('select[name="debug-step"]')).toHaveValue('other');
  await sidebar.locator('.cp-run-only-button').click();
  const onlyRun = await nextRun(page, fromRun, 'succeeded');
  expect(await dagStates(page)).toEqual({ load: 'cached', divide: 'cached', report: 'cached', other: 'succeeded' });
  await expect(sidebar.locator('.cp-current-run .cp-run-partial')).toHaveText('only other · 3 reused');
  await expect(sidebar.locator(`.cp-history-item[data-run-id="${onlyRun}"] .cp-run-partial`)).toHaveText('only other · 3 reused');
  for (const step of ['load', 'divide', 'report']) {
    await expect(page.locator(`.cp-inline-log[data-step="${step}"] .cp-log-header .cp-log-meta`)).toContainText('reused from');
  }
  await expect(page.locator('.cp-inline-log[data-step="divide"] .cp-log-header .cp-log-meta')).toContainText(`reused from ${fromRun}`);
  await expect(page.locator('.cp-inline-log[data-step="other"] .cp-log-lines')).toContainText('other 30');

  // Run without cache: every step runs again.
  await sidebar.locator('.cp-run-nocache-button').click();
  await nextRun(page, onlyRun, 'succeeded');
  expect(await dagStates(page)).toEqual({ load: 'succeeded', divide: 'succeeded', report: 'succeeded', other: 'succeeded' });
  await expect(sidebar.locator('.cp-current-run .cp-run-partial')).toHaveCount(0);
});

test('the tag editor edits a step\'s environment variables and refuses a credential with a pointer to secret:', async ({ page }) => {
  await openNotebook(page, 'debug.ipynb');
  await stepCell(page, 'other').locator('.cp-chip').click();
  const dialog = page.locator('.jp-Dialog');
  const env = dialog.locator('textarea[name="env"]');
  await env.fill('API_TOKEN=abc123');
  await expect(dialog.locator('.cp-field-error')).toContainText("'API_TOKEN' is named like a credential");
  await expect(dialog.locator('.cp-field-error')).toContainText('secret:<secret name>:<key>:API_TOKEN');
  await env.fill('REGION=eu-west\nDATASET_URL=https://example.com/d.csv?x=1');
  await expect(dialog.locator('.cp-field-error')).toHaveCount(0);
  await dialog.locator('button', { hasText: 'Save tags' }).click();
  await page.keyboard.press('Control+s');
  await expect.poll(() => savedTagsOnceWritten('debug.ipynb')?.[6], { timeout: 15_000 })
    .toEqual(['step:other', 'prev:load', 'env:REGION=eu-west', 'env:DATASET_URL=https://example.com/d.csv?x=1']);
});
