/**
 * JupyterLab's habits (issue 25), in a real JupyterLab and Chromium with real local runs:
 * - the pipeline runs from the Run menu, the notebook toolbar and a keyboard shortcut, on the target picked in the
 *   sidebar, as from the sidebar's own button;
 * - cellpipe's tag edits (skip, a new step, the tag editor) are part of each cell's undo history: Ctrl+Z takes them back;
 * - a parameter value typed in the sidebar is read by the parser the run uses: what the run would refuse is refused
 *   there, saying why, and nothing starts.
 */
import { test, expect, type Page } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, openNotebook, openSidebar } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

const NB = 'habits.ipynb';
const codeCell = (source: string, tags: string[]) => ({ cell_type: 'code', execution_count: null, metadata: { tags }, outputs: [], source });

test.beforeAll(() => {
  writeFileSync(join(ROOT, NB), JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      codeCell('N = 3', ['pipeline-parameters']),
      codeCell('xs = list(range(N))', ['step:make']),
      codeCell('print(sum(xs))', ['step:total', 'prev:make']),
      codeCell('print(len(xs))', []),
    ],
  }, null, 1));
});

const cell = (page: Page, i: number) => page.locator('.jp-NotebookPanel .jp-Cell').nth(i);
/** The tags of each cell as the notebook model holds them now (not as saved). */
const liveTags = (page: Page) => page.evaluate((nb) => {
  const m = (window as unknown as { cellpipeDebug: { model(p: string): { cells(): { tags: string[] }[] } } }).cellpipeDebug.model(nb);
  return m.cells().map((c) => c.tags);
}, NB);

/** Waits for a run other than `before` to be shown and to succeed; its id. */
async function nextRun(page: Page, before: string | null): Promise<string> {
  const current = page.locator('#cellpipe-sidebar .cp-current-run');
  await expect(current).not.toHaveAttribute('data-run-id', before ?? '', { timeout: 60_000 });
  await expect(current).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
  return (await current.getAttribute('data-run-id'))!;
}
const shownRun = (page: Page) => page.locator('#cellpipe-sidebar .cp-current-run').getAttribute('data-run-id').catch(() => null);

test('Run Pipeline is in the Run menu, on the notebook toolbar and on Shift+Alt+R; each starts a run', async ({ page }) => {
  await openNotebook(page, NB);
  await openSidebar(page);
  // The Run menu, as JupyterLab's own "Run All Cells".
  let before = await shownRun(page);
  await page.locator('.lm-MenuBar-item', { hasText: /^Run$/ }).click();
  const item = page.locator('.lm-Menu-item', { hasText: 'Run Pipeline' });
  await expect(item.locator('.lm-Menu-itemShortcut')).toHaveText('Alt+Shift+R');
  await item.click();
  before = await nextRun(page, before);
  // The notebook's toolbar.
  const button = page.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="cellpipe-run"] button');
  await expect(button).toHaveAttribute('aria-label', /run its pipeline on this machine/);
  await button.click();
  before = await nextRun(page, before);
  // The shortcut, while editing a cell.
  await cell(page, 1).locator('.cm-content').click();
  await page.keyboard.press('Shift+Alt+R');
  await nextRun(page, before);
});

test('a skip, a new step and a tag edit made through cellpipe are undone by Ctrl+Z, as any cell edit', async ({ page }) => {
  await openNotebook(page, NB);
  const start = await liveTags(page);
  // Skip (Shift+Alt+K) on the step "total" in command mode, then Ctrl+Z.
  await cell(page, 2).locator('.cm-content').click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Shift+Alt+K');
  await expect.poll(() => liveTags(page).then((t) => t[2])).toEqual(['skip']);
  await expect(cell(page, 2).locator('.cp-chip')).toHaveText('skip');
  await page.keyboard.press('Control+z');
  await expect.poll(() => liveTags(page)).toEqual(start);
  await expect(cell(page, 2).locator('.cp-chip')).toHaveText('total');

  // A new step (Shift+Alt+S) on the untagged last cell, undone.
  await cell(page, 3).locator('.cm-content').click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Shift+Alt+S');
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('input').fill('count');
  await dialog.locator('.jp-mod-accept').click();
  // It reads xs, which make binds: it depends on make (the data's edge), not on the step above.
  await expect.poll(() => liveTags(page).then((t) => t[3])).toEqual(['step:count', 'prev:make']);
  await cell(page, 3).locator('.jp-InputPrompt').click();
  await page.keyboard.press('Control+z');
  await expect.poll(() => liveTags(page)).toEqual(start);

  // A rename in the tag editor changes two cells (the step's and the prev: naming it): each cell's Ctrl+Z takes
  // back its own part, as JupyterLab keeps one undo history per cell.
  await cell(page, 1).locator('.cp-chip').click();
  await dialog.locator('input[name="step"]').fill('build');
  await dialog.locator('button', { hasText: 'Save tags' }).click();
  await expect.poll(() => liveTags(page).then((t) => [t[1], t[2]])).toEqual([['step:build'], ['step:total', 'prev:build']]);
  await cell(page, 1).locator('.jp-InputPrompt').click();
  await page.keyboard.press('Control+z');
  await expect.poll(() => liveTags(page).then((t) => t[1])).toEqual(['step:make']);
  await cell(page, 2).locator('.jp-InputPrompt').click();
  await page.keyboard.press('Control+z');
  await expect.poll(() => liveTags(page)).toEqual(start);
  // And Ctrl+Shift+Z (redo) brings a part back.
  await page.keyboard.press('Control+Shift+z');
  await expect.poll(() => liveTags(page).then((t) => t[2])).toEqual(['step:total', 'prev:build']);
});

test('a parameter typed in the sidebar that the run would refuse is refused there, saying why; Run waits for a good one', async ({ page }) => {
  await openNotebook(page, NB);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  const n = sidebar.locator('input[name="param-N"]');
  await expect(n).toHaveValue('3');
  // An int parameter: 2.5 is no int (the looser reading sent it on as the text "2.5").
  await n.fill('2.5');
  await expect(sidebar.locator('.cp-param-error')).toHaveText("N: '2.5' is not an int; write an int, e.g. 20");
  await expect(n).toHaveAttribute('aria-invalid', 'true');
  await expect(n).toHaveValue('2.5');
  await expect(sidebar.locator('.cp-run-button')).toBeDisabled();
  await expect(sidebar.locator('.cp-run-button')).toHaveAttribute('title', "N: '2.5' is not an int; write an int, e.g. 20");
  await n.fill('4');
  await expect(sidebar.locator('.cp-param-error')).toHaveCount(0);
  await expect(sidebar.locator('.cp-run-button')).toBeEnabled();
  const before = await shownRun(page);
  await sidebar.locator('.cp-run-button').click();
  await nextRun(page, before);
  await expect(sidebar.locator('.cp-current-run')).toBeVisible();
  await expect(page.locator('.cp-inline-log[data-step="total"] .cp-log-line', { hasText: /^6$/ })).toHaveCount(1);
});
