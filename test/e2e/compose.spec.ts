/**
 * A pipeline made of notebooks (Kale 2.3's notebook: cells, examples/composing) in a real JupyterLab + Chromium: the
 * page reads the referenced notebooks through the contents API, draws their steps in the step graph and runs them.
 */
import { test, expect } from '@playwright/test';
import { openNotebook, openSidebar } from './lab-helpers.js';

test('a composing notebook shows the referenced notebooks\' steps in the step graph and runs them from the sidebar', async ({ page }) => {
  await openNotebook(page, 'composing/pipeline.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  for (const step of ['features-load', 'features-smooth', 'labels-label', 'train', 'report']) {
    await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveCount(1, { timeout: 30_000 });
  }
  await expect(sidebar.locator('input[name="param-WINDOW"]')).toHaveValue('3');
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  for (const step of ['features-load', 'features-smooth', 'labels-label', 'train', 'report']) {
    await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveAttribute('data-state', 'succeeded');
  }
  // What report printed, from values of both referenced notebooks, shows under its cell (its log folds once it does).
  await expect(page.locator('.jp-NotebookPanel >> text="a bag is full from 13.67 g (window 3)" >> visible=true').first()).toBeVisible();
});
