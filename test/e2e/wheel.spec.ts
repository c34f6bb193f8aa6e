/**
 * cellpipe installed from its wheel into a fresh venv with a stock JupyterLab (scripts/test-wheel.sh starts it, once
 * per JupyterLab version): the page loads, agrees with the backend on the version, and the whole loop works — tag
 * two cells as steps in the tag editor, Run from the sidebar, see each step's log under its cells.
 */
import { test, expect } from '@playwright/test';
import { keep, openNotebook, openSidebar, savedTagsOnceWritten, TOKEN, URL } from './lab-helpers.js';

const VERSION = process.env.WHEEL_VERSION!;

test('from the wheel: tag two cells as steps, Run, and each step\'s log is under its cell', { tag: '@wheel' }, async ({ page }) => {
  expect(VERSION, 'scripts/test-wheel.sh passes the wheel\'s version').toMatch(/^\d+\.\d+\.\d+/);
  // The backend behind Jupyter's auth is the wheel's, of the wheel's version.
  const health = await page.request.get(`${URL}cellpipe/api/health?token=${TOKEN}`);
  expect(health.status()).toBe(200);
  expect(await health.json()).toEqual({ version: VERSION });
  await openNotebook(page, 'untagged.ipynb');
  const cells = page.locator('.jp-NotebookPanel .jp-CodeCell');
  await expect(cells).toHaveCount(2);
  const dialog = page.locator('.jp-Dialog');
  for (const [i, step] of [[0, 'compute'], [1, 'report']] as const) {
    await cells.nth(i).locator('.cp-chip').click({ force: true });
    await expect(dialog).toBeVisible();
    await dialog.locator('select[name="role"]').selectOption('step');
    await dialog.locator('input[name="step"]').fill(step);
    await dialog.locator('button', { hasText: 'Save tags' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(cells.nth(i).locator('.cp-chip')).toHaveText(step);
  }
  await page.keyboard.press('Control+s');
  await expect.poll(() => savedTagsOnceWritten('untagged.ipynb')?.slice(1), { timeout: 15_000 }).toEqual([['step:compute'], ['step:report']]);

  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await expect(sidebar.locator('.cp-dag-node')).toHaveCount(2);
  // The page and the backend are the same cellpipe: no version warning (nor any other) in the sidebar's status.
  await expect(sidebar).not.toContainText('backend is version');
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  for (const [step, line] of [['compute', 'computed 42'], ['report', 'the answer is 42']]) {
    const log = page.locator(`.cp-inline-log[data-step="${step}"]`);
    await expect(log).toHaveAttribute('data-state', 'succeeded');
    await expect(log.locator('.cp-log-line', { hasText: new RegExp(`^${line}$`) })).toHaveCount(1);
  }
  await keep(page, `wheel-jupyterlab-${process.env.WHEEL_JUPYTERLAB ?? 'unknown'}`);
});
