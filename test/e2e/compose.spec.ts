/**
 * A pipeline made of notebooks (Kale 2.3's notebook: cells, examples/composing) in a real JupyterLab + Chromium: the
 * page reads the referenced notebooks through the contents API, draws their steps in the step graph and runs them.
 */
import { test, expect, type Page } from '@playwright/test';
import { keep, openNotebook, openSidebar } from './lab-helpers.js';

/** Cell `i` (0-based) of the notebook shown now. */
const cell = (page: Page, i: number) => page.locator('.jp-NotebookPanel:visible .jp-Cell').nth(i);

test('a composing notebook shows the referenced notebooks\' steps in the step graph and runs them from the sidebar', async ({ page }) => {
  await openNotebook(page, 'composing/pipeline.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  for (const step of ['features-load', 'features-smooth', 'labels-label', 'train', 'report']) {
    await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveCount(1, { timeout: 30_000 });
  }
  // Each referenced notebook's steps in a box named after it; the root's own steps in none.
  for (const [unit, steps] of [['features', ['features-load', 'features-smooth']], ['labels', ['labels-label']]] as const) {
    const box = sidebar.locator(`.cp-dag-unit[data-unit="${unit}"]`);
    await expect(box).toHaveAttribute('data-notebook', `${unit}.ipynb`);
    await expect(box.locator('.cp-dag-unit-name')).toHaveText(unit);
    const outer = (await box.locator('rect').boundingBox())!;
    for (const step of ['features-load', 'features-smooth', 'labels-label', 'train', 'report']) {
      const node = (await sidebar.locator(`.cp-dag-node[data-step="${step}"] rect`).boundingBox())!;
      const inside = node.x >= outer.x && node.y >= outer.y && node.x + node.width <= outer.x + outer.width && node.y + node.height <= outer.y + outer.height;
      expect(inside, `${step} ${inside ? 'inside' : 'outside'} the box of ${unit}`).toBe((steps as readonly string[]).includes(step));
    }
  }
  await expect(sidebar.locator('input[name="param-WINDOW"]')).toHaveValue('3');
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  for (const step of ['features-load', 'features-smooth', 'labels-label', 'train', 'report']) {
    await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveAttribute('data-state', 'succeeded');
  }
  // What report printed, from values of both referenced notebooks, shows under its cell (its log folds once it does).
  await expect(page.locator('.jp-NotebookPanel >> text="a bag is full from 13.67 g (window 3)" >> visible=true').first()).toBeVisible();
  const runId = (await sidebar.locator('.cp-current-run').getAttribute('data-run-id'))!;
  // train's cell (id c4) shows what train printed, not what features.ipynb's cell of the same id printed.
  await expect(cell(page, 4).locator('.cp-run-outputs .cp-run-output')).toContainText('threshold 13.667');
  await keep(page, 'sidebar-compose', { selector: '#cellpipe-sidebar' });

  // A click on a box opens the notebook it stands for.
  await sidebar.locator('.cp-dag-unit[data-unit="labels"] rect').click({ position: { x: 4, y: 12 } });
  await expect(page.getByRole('tab', { name: 'labels.ipynb', selected: true })).toBeVisible();
  // A click on a referenced step opens its notebook at the step's cell.
  await page.getByRole('tab', { name: 'pipeline.ipynb' }).click();
  await sidebar.locator('.cp-dag-node[data-step="features-smooth"]').click();
  await expect(page.getByRole('tab', { name: 'features.ipynb', selected: true })).toBeVisible();
  await expect(page.locator('.jp-NotebookPanel:visible .jp-Cell.jp-mod-active')).toContainText('smoothed = [statistics.mean');

  // features.ipynb, opened on its own, shows the composed run: in its history and sidebar as part of that run, its
  // own steps' states in its graph, and what its smooth step printed under its own cell.
  await expect(sidebar.locator('.cp-current-run .cp-run-part-of')).toHaveText(`part of run ${runId} of pipeline.ipynb`, { timeout: 30_000 });
  await expect(sidebar.locator(`.cp-history-item[data-run-id="${runId}"] .cp-run-part-of`)).toBeVisible();
  for (const step of ['load', 'smooth']) await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveAttribute('data-state', 'succeeded');
  await expect(cell(page, 4).locator('.cp-run-outputs .cp-run-output')).toContainText('smoothed [12.0, 13.75, 12.8333');
  await expect(cell(page, 4).locator('.cp-run-outputs-from')).toContainText(`from run ${runId} · step smooth`);
  // The run is exported from the notebook that ran it, which holds every notebook's cells.
  await expect(sidebar.locator('.cp-export-button')).toBeDisabled();
});

test('the tag editor inserts a notebook: cell below, the notebook picked in JupyterLab\'s file dialog; its steps join the graph in a box', async ({ page }) => {
  await openNotebook(page, 'composing/pipeline.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await expect(sidebar.locator('.cp-dag-node[data-step="report"]')).toHaveCount(1, { timeout: 30_000 });
  const cells = page.locator('.jp-NotebookPanel:visible .jp-Cell');
  const before = await cells.count();
  // The tag editor of the last cell (report's): its button leaves it for the file dialog.
  await cells.last().locator('.cp-chip').click({ force: true });
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('.jp-Dialog-header')).toHaveText(`Pipeline tags of cell ${before}`);
  await dialog.locator('button', { hasText: 'Reference a notebook below…' }).click();
  await expect(dialog.locator('.jp-Dialog-header')).toHaveText('Reference a notebook');
  // It opens in this notebook's folder and lists notebooks (and folders) only.
  await dialog.locator('.jp-DirListing-item', { hasText: 'labels.ipynb' }).click();
  await dialog.locator('.jp-mod-accept').click();
  await expect(cells).toHaveCount(before + 1);
  await expect.poll(() => page.evaluate(() => {
    const model = (window as unknown as { cellpipeDebug: { model(p: string): { panel: { content: { model: { toJSON(): { cells: { metadata: object; source: string }[] } } } } } } })
      .cellpipeDebug.model('composing/pipeline.ipynb');
    const last = model.panel.content.model.toJSON().cells.at(-1)!;
    return { metadata: last.metadata, source: last.source };
  })).toEqual({ metadata: { tags: ['notebook:labels-2'], notebook_path: 'labels.ipynb' }, source: '# the steps of labels.ipynb' });
  // labels.ipynb is referenced a second time, under a name of its own: its step is in a box of that name.
  await expect(sidebar.locator('.cp-dag-unit[data-unit="labels-2"]')).toHaveAttribute('data-notebook', 'labels.ipynb');
  await expect(sidebar.locator('.cp-dag-node[data-step="labels-2-label"]')).toHaveCount(1);
});
