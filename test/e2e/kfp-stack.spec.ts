/**
 * The sidebar's Build & Submit on KFP 2.17.0's own stack (scripts/test-kfp.sh starts the stack, then JupyterLab with
 * the stack's profiles file): cellpipe builds the step images and submits through KFP's real API server; Argo's
 * controller runs the workflow, KFP's driver resolves the inputs through ML Metadata, KFP's launcher runs each step in
 * its image and moves the value between the steps through SeaweedFS, and the persistence agent writes the
 * `run_details` the page shows. No stand-in anywhere. Tagged @kfpstack: the other e2e groups leave it out.
 */
import { test, expect } from '@playwright/test';
import { openNotebook, openSidebar } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });
/** A run on the real stack: a driver, a launcher and an executor pod per step, image builds, on a shared 2-core machine. */
const RUN_MS = 480_000;
test.setTimeout(RUN_MS + 120_000);

test('Build & Submit on KFP\'s own stack: live states from the persistence agent, the value one pod computed printed by the next, outputs under the cells', { tag: '@kfpstack' }, async ({ page }) => {
  await openNotebook(page, 'kubeflow_values.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('select[name="target"]').selectOption('test');
  await sidebar.locator('.cp-run-button').click();
  const current = sidebar.locator('.cp-current-run');
  // While it runs, the steps' states come from what KFP's persistence agent wrote: `measure` is seen running first.
  await expect(sidebar.locator('.cp-dag-node[data-step="measure"]')).toHaveAttribute('data-state', /running|succeeded/, { timeout: RUN_MS });
  await expect(current).toHaveAttribute('data-state', 'succeeded', { timeout: RUN_MS });
  await expect(sidebar.locator('.cp-run-runtime').first()).toHaveText('kubeflow · test');
  for (const step of ['measure', 'summarise']) {
    await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveAttribute('data-state', 'succeeded');
  }
  // The link goes to the run in KFP's UI, by the id KFP's API server gave it.
  await expect(current.locator('a.cp-kfp-link')).toHaveAttribute('href', /\/#\/runs\/details\/[0-9a-f-]{36}$/);
  // Each step's log came from its executor pod; summarise printed what measure computed, so the value went from one
  // pod to the next as a KFP artifact in SeaweedFS.
  await expect(page.locator('.cp-inline-log[data-step="measure"] .cp-log-line', { hasText: 'measured 5 readings' })).toHaveCount(1);
  await expect(page.locator('.cp-inline-log[data-step="summarise"] .cp-log-line', { hasText: 'mean reading from measure: 16.8' })).toHaveCount(1);
  // What the cell showed came back into the run store and shows under the cell (cell 5 as JupyterLab numbers it).
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').nth(4).locator('.cp-run-outputs .cp-run-output')).toContainText('mean reading from measure: 16.8');
});

test('a step that raises on KFP\'s own stack fails the run, and the error links to the cell and line that raised', { tag: '@kfpstack' }, async ({ page }) => {
  await openNotebook(page, 'failing.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('select[name="target"]').selectOption('test');
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'failed', { timeout: RUN_MS });
  await expect(sidebar.locator('.cp-dag-node[data-step="load"]')).toHaveAttribute('data-state', 'succeeded');
  const log = page.locator('.cp-inline-log[data-step="divide"]');
  await expect(log).toHaveAttribute('data-state', 'failed');
  // KFP's failed task carries no error text: the cell and line come from the step runtime's last log line.
  const link = log.locator('.cp-log-error-link');
  await expect(link).toContainText('ZeroDivisionError');
  await expect(link).toContainText('cell 2, line 2');
});
