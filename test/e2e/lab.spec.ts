/**
 * What a data scientist does with cellpipe in JupyterLab, in a real JupyterLab + Chromium:
 * tag a cell through the UI, run the pipeline from the sidebar, watch every step's log inline, cancel a long run,
 * reload and see the last run again; and the backend refuses requests without Jupyter's token.
 */
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { URL, TOKEN, ROOT, keep, openNotebook, openSidebar, savedTags, savedTagsOnceWritten } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

test('chips show each cell\'s role or step, in the step\'s colour', async ({ page }) => {
  await openNotebook(page, 'candies_sharing.ipynb');
  for (const step of ['sack', 'kid1', 'kid2', 'kid3']) await expect(page.locator('.cp-chip', { hasText: new RegExp(`^${step}$`) })).toHaveCount(1);
  await expect(page.locator('.cp-chip', { hasText: /^imports$/ })).toHaveCount(1);
  await expect(page.locator('.cp-chip', { hasText: /^pipeline-parameters$/ })).toHaveCount(1);
  const colors = () => page.locator('.cp-chip', { hasText: /^kid2$/ }).evaluate((el) => [
    getComputedStyle(el).getPropertyValue('--cp-step-color').trim(),
    getComputedStyle(el.closest('.jp-Cell')!).getPropertyValue('--cp-step-color').trim(),
  ]);
  await expect.poll(async () => (await colors())[0]).toMatch(/^hsl\(/);
  const [chipColor, cellColor] = await colors();
  expect(cellColor).toBe(chipColor);
  await keep(page, 'tagged-notebook');
});

test('a step that reads a file lists it on its chip row and in the tag editor, saying it travels into the images', async ({ page }) => {
  await openNotebook(page, 'quickstart.ipynb');
  const load = page.locator('.jp-NotebookPanel .jp-Cell').filter({ has: page.locator('.cp-chip', { hasText: /^load$/ }) });
  const files = load.locator('.cp-files');
  await expect(files).toHaveText('reads data/weather.csv');
  await expect(files).toHaveAttribute('title', /data\/weather\.csv — travels into the step images \(open, cell 5, line 1\)/);
  await expect(page.locator('.cp-files:not(:empty)'), 'only the step that reads a file says so').toHaveCount(1);
  await load.locator('.cp-chip').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('[aria-label="files this step reads"] li')).toHaveText(['data/weather.csv — travels into the step images (open, cell 5, line 1)']);
  await dialog.locator('button', { hasText: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
});

test('marking a new cell as a step through the editor writes Kale tags to the saved notebook', async ({ page }) => {
  await openNotebook(page, 'tagging.ipynb');
  const before = savedTags('tagging.ipynb');
  // Add a cell at the end with the notebook's own keyboard commands: go to the last cell, insert below, type.
  await page.locator('.jp-NotebookPanel .jp-CodeCell .cm-content').first().click();
  await page.keyboard.press('Escape');
  for (let i = 0; i < before.length; i++) await page.keyboard.press('j');
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').last()).toHaveClass(/jp-mod-active/);
  await page.keyboard.press('b');
  await expect(page.locator('.jp-NotebookPanel .jp-Cell')).toHaveCount(before.length + 1);
  await page.locator('.jp-NotebookPanel .jp-Cell').last().locator('.cm-content').click();
  await expect(page.locator('.jp-NotebookPanel .jp-Notebook')).toHaveClass(/jp-mod-editMode/);
  await page.keyboard.type('print("kid4 is happy")');
  await page.keyboard.press('Escape');
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').last().locator('.cm-content')).toHaveText('print("kid4 is happy")');
  // Open the tag editor from the new cell's chip.
  const cell = page.locator('.jp-NotebookPanel .jp-Cell').last();
  await cell.locator('.cp-chip').click({ force: true });
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toBeVisible();
  // Titled by the cell's number as JupyterLab's status bar shows it (1-based): the new last cell.
  await expect(dialog.locator('.jp-Dialog-header')).toHaveText(`Pipeline tags of cell ${before.length + 1}`);
  await dialog.locator('select[name="role"]').selectOption('step');
  const name = dialog.locator('input[name="step"]');
  await name.fill('4kid');
  await expect(dialog.locator('.cp-field-error')).toContainText('not a valid step name');
  await name.fill('kid4');
  await expect(dialog.locator('.cp-field-error')).toHaveCount(0);
  await dialog.locator('input[name="prev:kid3"]').check();
  await dialog.locator('input[name="cpu"]').fill('500m');
  await dialog.locator('button', { hasText: 'Save tags' }).click();
  await expect(cell.locator('.cp-chip')).toHaveText('kid4');
  await expect(cell.locator('.cp-deps')).toHaveText('after kid3');
  await page.keyboard.press('Control+s');
  await expect.poll(() => savedTagsOnceWritten('tagging.ipynb')?.at(-1), { timeout: 15_000 }).toEqual(['step:kid4', 'prev:kid3', 'limit:cpu:500m']);
  expect(savedTags('tagging.ipynb').slice(0, -1)).toEqual(before);

  // Renaming a step through the editor updates every prev: naming it.
  await page.locator('.cp-chip', { hasText: /^kid1$/ }).click();
  await dialog.locator('input[name="step"]').fill('first_kid');
  await dialog.locator('button', { hasText: 'Save tags' }).click();
  await page.keyboard.press('Control+s');
  await expect.poll(() => savedTagsOnceWritten('tagging.ipynb')?.flat().filter((t) => t.includes('kid1')), { timeout: 15_000 }).toEqual([]);
  expect(savedTags('tagging.ipynb').flat()).toEqual(expect.arrayContaining(['step:first_kid', 'prev:first_kid']));
});

test('a local run from the sidebar shows every step\'s log inline, folded once its prints show under its cells, and turns the DAG nodes green', async ({ page }) => {
  await openNotebook(page, 'candies_sharing.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await expect(sidebar.locator('.cp-dag-node')).toHaveCount(4);
  await expect(sidebar.locator('input[name="param-CANDIES"]')).toHaveValue('20');
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  for (const step of ['sack', 'kid1', 'kid2', 'kid3']) {
    await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveAttribute('data-state', 'succeeded');
    const log = page.locator(`.cp-inline-log[data-step="${step}"]`);
    await expect(log).toHaveAttribute('data-state', 'succeeded');
    // What the step printed is under its cell: the log folds, the notebook does not say everything twice.
    await expect(log).toHaveClass(/cp-collapsed/);
    await expect(log.locator('.cp-log-line').first()).toBeAttached();
  }
  // Opened, the log leaves out the prints the cell shows (one click shows them there too).
  const said = "Let's put in a bag 20 candies";
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').nth(4).locator('.cp-run-outputs .cp-run-output')).toContainText(said);
  const sack = page.locator('.cp-inline-log[data-step="sack"]');
  await sack.locator('.cp-log-toggle').click();
  await expect(sack).not.toHaveClass(/cp-collapsed/);
  await expect(sack.locator('.cp-log-line', { hasText: said })).toBeHidden();
  await expect(sack.locator('.cp-log-line', { hasText: '[cellpipe]' }).first()).toBeVisible();
  await sack.locator('.cp-log-prints').click();
  await expect(sack.locator('.cp-log-line', { hasText: said })).toBeVisible();
  // The logs are display-only: nothing was written into the notebook's outputs.
  const nb = JSON.parse(readFileSync(join(ROOT, 'candies_sharing.ipynb'), 'utf8')) as { cells: { outputs?: unknown[] }[] };
  expect(nb.cells.every((c) => !c.outputs || c.outputs.length === 0 || JSON.stringify(c.outputs).indexOf('cp-inline-log') < 0)).toBe(true);
  await keep(page, 'sidebar-dag', { selector: '#cellpipe-sidebar' });
  await page.locator('.cp-inline-log[data-step="kid3"]').scrollIntoViewIfNeeded();
  await keep(page, 'inline-logs');
});

test('the target picker offers the Kubeflow profiles; one with a mistake is disabled and says why', { tag: '@kubeflow' }, async ({ page }) => {
  await openNotebook(page, 'kubeflow.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  const picker = sidebar.locator('select[name="target"]');
  await expect(picker.locator('option[value="team"]')).toBeEnabled();
  await expect(picker.locator('option[value="team"]')).toContainText(/Kubeflow · e2e-/);
  const broken = picker.locator('option[value="broken"]');
  await expect(broken).toBeDisabled();
  await expect(broken).toHaveAttribute('title', /host/);
  await expect(sidebar.locator('.cp-run-button')).toHaveText('Run');
  await picker.selectOption('team');
  await expect(sidebar.locator('.cp-run-button')).toHaveText('Build & Submit');
});

test('a profile written in JupyterLab\'s settings reaches the backend and joins the picker', { tag: '@kubeflow' }, async ({ page }) => {
  // The settings editor saves through this same API.
  const saved = await page.request.put(`${URL}lab/api/settings/cellpipe:plugin`, {
    headers: { Authorization: `token ${TOKEN}` },
    data: { raw: JSON.stringify({ profiles: { 'lab-team': { namespace: 'team-lab', registry: '127.0.0.1:9/x', kfp: { host: 'http://127.0.0.1:9', auth: 'none' } } } }) },
  });
  expect(saved.status()).toBe(204);
  try {
    await openNotebook(page, 'kubeflow.ipynb');
    await openSidebar(page);
    const option = page.locator('#cellpipe-sidebar select[name="target"] option[value="lab-team"]');
    await expect(option).toBeEnabled();
    await expect(option).toContainText('team-lab');
    await expect(option).toHaveAttribute('title', /JupyterLab settings/);
  } finally {
    const reset = await page.request.put(`${URL}lab/api/settings/cellpipe:plugin`, { headers: { Authorization: `token ${TOKEN}` }, data: { raw: '{}' } });
    expect(reset.status()).toBe(204);
  }
});

test('Build & Submit on a Kubeflow profile builds the step images, runs them in real pods and shows each step\'s output', { tag: '@kubeflow' }, async ({ page }) => {
  await openNotebook(page, 'kubeflow_values.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('select[name="target"]').selectOption('team');
  await sidebar.locator('.cp-run-button').click();
  const current = sidebar.locator('.cp-current-run');
  await expect(current).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  // Once Kubeflow has the run, the stage strip gives way to the run's steps and a link to the KFP UI.
  await expect(sidebar.locator('.cp-submit-stages')).toHaveCount(0);
  await expect(current.locator('a.cp-kfp-link')).toHaveAttribute('href', /^http:\/\/kubeflow\.example\.test\/pipeline\/#\/runs\/details\/[0-9a-f-]+$/);
  for (const step of ['measure', 'summarise']) {
    await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveAttribute('data-state', 'succeeded');
  }
  await expect(sidebar.locator('.cp-run-runtime').first()).toHaveText('kubeflow · team');
  // Each step ran in its own pod on the test cluster's kubelet, from the image cellpipe built; its output came
  // through the Kubernetes API and shows under the step's cells. summarise printed what measure computed, so the
  // value went from one pod to the next as an artifact.
  await expect(page.locator('.cp-inline-log[data-step="measure"] .cp-log-line', { hasText: 'measured 5 readings' })).toHaveCount(1);
  await expect(page.locator('.cp-inline-log[data-step="summarise"] .cp-log-line', { hasText: 'mean reading from measure: 16.8' })).toHaveCount(1);
  // What the cell showed came back from its pod (through its log) into the run store, and shows under the cell.
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').nth(4).locator('.cp-run-outputs .cp-run-output')).toContainText('mean reading from measure: 16.8');
  await keep(page, 'sidebar-kubeflow', { selector: '#cellpipe-sidebar' });
});

test('Build & Submit of the quickstart: the data file it reads travels into its image with nothing declared, and the steps succeed in their pods', { tag: '@kubeflow' }, async ({ page }) => {
  expect(JSON.parse(readFileSync(join(ROOT, 'quickstart.ipynb'), 'utf8')).metadata.cellpipe?.files, 'no hand-written files').toBeUndefined();
  await openNotebook(page, 'quickstart.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('select[name="target"]').selectOption('team');
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  await expect(sidebar.locator('.cp-run-runtime').first()).toHaveText('kubeflow · team');
  // load opened data/weather.csv in its pod: the file came in the image.
  await expect(page.locator('.cp-inline-log[data-step="load"] .cp-log-line', { hasText: /^loaded 90 days$/ })).toHaveCount(1);
  await expect(page.locator('.cp-inline-log[data-step="summarise"] .cp-log-line', { hasText: /^mean smoothed temperature: 17\.392$/ })).toHaveCount(1);
});

test('a daily schedule made from the sidebar on the Kubeflow profile is listed with its next runs, paused and deleted', { tag: '@kubeflow' }, async ({ page }) => {
  await openNotebook(page, 'kubeflow.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('select[name="target"]').selectOption('team');
  await expect(sidebar.locator('.cp-schedules-section')).toContainText('No schedules of this notebook on team');
  await sidebar.locator('input[name="param-CANDIES"]').fill('9');
  await sidebar.locator('.cp-schedule-button').click();
  const form = sidebar.locator('.cp-schedule-form');
  await expect(form).toBeVisible();
  // A cron the page cannot use says which field is wrong, and nothing can be created.
  await form.locator('input[name="schedule-cron"]').fill('0 7 * *');
  await expect(form.locator('.cp-schedule-invalid')).toContainText('has 4 fields, not 5');
  await expect(form.locator('.cp-schedule-create')).toBeDisabled();
  // The daily preset at 07:30 writes the cron; the next three runs are computed in the page.
  await form.locator('select[name="schedule-preset"]').selectOption('daily');
  await form.locator('input[name="schedule-time"]').fill('07:30');
  await expect(form.locator('input[name="schedule-cron"]')).toHaveValue('30 7 * * *');
  await expect(form.locator('.cp-schedule-kfp')).toContainText('0 30 7 * * *');
  const next = form.locator('.cp-schedule-next li');
  await expect(next).toHaveCount(3);
  for (let i = 0; i < 3; i++) await expect(next.nth(i)).toHaveText(/^\d{4}-\d\d-\d\d 07:30 UTC \(\w{3}\)$/);
  await expect(form.locator('.cp-schedule-params')).toContainText('CANDIES=9');
  await keep(page, 'sidebar-schedule', { selector: '#cellpipe-sidebar' });
  await form.locator('.cp-schedule-create').click();
  await expect(form).toHaveCount(0, { timeout: 120_000 });

  const item = sidebar.locator('.cp-schedule-item');
  await expect(item).toHaveCount(1);
  await expect(item).toHaveAttribute('data-state', 'enabled');
  await expect(item.locator('.cp-schedule-cron')).toHaveText('30 7 * * *');
  await expect(item.locator('.cp-schedule-next li')).toHaveCount(3);
  await expect(item.locator('.cp-schedule-next li').first()).toHaveText(/07:30 UTC/);
  await expect(item.locator('.cp-schedule-params')).toContainText('CANDIES=9');
  // What Kubeflow Pipelines holds, through the backend the page uses: the seconds-first cron and the parameter.
  const listed = await page.request.get(`${URL}cellpipe/api/schedules?notebook=kubeflow.ipynb&profile=team`, { headers: { Authorization: `token ${TOKEN}` } });
  expect(listed.status()).toBe(200);
  const [kept] = (await listed.json()).schedules as { kfpCron: string; parameters: Record<string, unknown>; pipelineVersionId?: string }[];
  expect(kept.kfpCron).toBe('0 30 7 * * *');
  expect(kept.parameters).toEqual({ CANDIES: 9 });
  expect(kept.pipelineVersionId).toBeTruthy();

  await item.locator('.cp-schedule-toggle').click();
  await expect(item).toHaveAttribute('data-state', 'paused');
  await expect(item.locator('.cp-schedule-state')).toHaveText('paused');
  await expect(item.locator('.cp-schedule-next')).toHaveCount(0);
  await expect(item.locator('.cp-schedule-toggle')).toHaveText('Resume');
  // The list as the backend gives it after a reload of the page: still paused.
  await openNotebook(page, 'kubeflow.ipynb');
  await openSidebar(page);
  await sidebar.locator('select[name="target"]').selectOption('team');
  await expect(sidebar.locator('.cp-schedule-item')).toHaveAttribute('data-state', 'paused');
  await sidebar.locator('.cp-schedule-item .cp-schedule-delete').click();
  await expect(sidebar.locator('.cp-schedule-item')).toHaveCount(0);
  await expect(sidebar.locator('.cp-schedules-section')).toContainText('No schedules of this notebook on team');

  // A schedule that cannot be made (this profile's registry refuses connections) says why where errors show.
  await sidebar.locator('select[name="target"]').selectOption('offline');
  await sidebar.locator('.cp-schedule-button').click();
  await sidebar.locator('.cp-schedule-create').click();
  await expect(sidebar.locator('.cp-status-error')).toContainText('127.0.0.1:9', { timeout: 120_000 });
  await expect(sidebar.locator('.cp-schedule-item')).toHaveCount(0);
});

test('a Kubeflow submit whose registry is unreachable stops before building and says what failed and which field sets it', { tag: '@kubeflow' }, async ({ page }) => {
  await openNotebook(page, 'kubeflow.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('select[name="target"]').selectOption('offline');
  await sidebar.locator('.cp-run-button').click();
  const current = sidebar.locator('.cp-current-run');
  await expect(current).toHaveAttribute('data-state', 'failed', { timeout: 120_000 });
  await expect(current).toContainText('the registry 127.0.0.1:9 (where step images are pushed): connection refused');
  await expect(current).toContainText("fix 'registry' in profile 'offline'");
  const stages = sidebar.locator('.cp-submit-stages .cp-stage');
  await expect(stages).toHaveCount(4);
  await expect(stages.nth(0)).toHaveAttribute('data-state', 'failed');
  await expect(stages.nth(0)).toContainText('validate');
  await expect(stages.nth(1)).toHaveAttribute('data-state', 'pending');
  for (const state of await sidebar.locator('.cp-run-steps li .cp-run-state').all()) await expect(state).toHaveText('skipped');
});

test('"full log" opens the step\'s whole log in a tab; a DAG node scrolls to its step', async ({ page }) => {
  await openNotebook(page, 'candies_sharing.ipynb');
  await page.locator('.cp-inline-log[data-step="kid1"] .cp-log-full').click();
  const tab = page.locator('.jp-MainAreaWidget .cp-full-log pre');
  await expect(tab).toContainText('I got');
  await expect(page.locator('.lm-TabBar-tabLabel', { hasText: 'kid1 log' })).toBeVisible();
  await page.locator('.lm-TabBar-tab', { hasText: 'candies_sharing.ipynb' }).click();
  await openSidebar(page);
  await page.locator('#cellpipe-sidebar .cp-dag-node[data-step="sack"]').click();
  await expect(page.locator('.jp-NotebookPanel .jp-Cell.jp-mod-active .cp-chip')).toHaveText('sack');
});

test('a failing step highlights the error and links to the cell and line that raised', async ({ page }) => {
  await openNotebook(page, 'failing.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'failed', { timeout: 120_000 });
  const log = page.locator('.cp-inline-log[data-step="divide"]');
  await expect(log).toHaveAttribute('data-state', 'failed');
  await expect(log.locator('.cp-log-line.cp-log-error').first()).toContainText('ZeroDivisionError');
  const link = log.locator('.cp-log-error-link');
  await expect(link).toContainText('ZeroDivisionError');
  // `divide` is the notebook's 2nd cell (index 1): the link names it as JupyterLab numbers it.
  await expect(link).toContainText('cell 2, line 2');
  await link.click();
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').nth(1)).toHaveClass(/jp-mod-active/);
  await keep(page, 'failed-step');
});

test('reloading the page shows the latest run\'s logs again', async ({ page }) => {
  await openNotebook(page, 'candies_sharing.ipynb');
  for (const step of ['sack', 'kid1', 'kid2', 'kid3']) {
    const log = page.locator(`.cp-inline-log[data-step="${step}"]`);
    await expect(log).toHaveAttribute('data-state', 'succeeded');
    await expect(log.locator('.cp-log-line').first()).toBeAttached();
  }
});

test('a long run can be cancelled from the sidebar', async ({ page }) => {
  await openNotebook(page, 'long_running.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('.cp-run-button').click();
  const log = page.locator('.cp-inline-log[data-step="slow"]');
  await expect(log.locator('.cp-log-line', { hasText: 'tick 2' })).toBeVisible({ timeout: 60_000 });
  await sidebar.locator('.cp-cancel-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'cancelled', { timeout: 30_000 });
  await expect(sidebar.locator('.cp-dag-node[data-step="slow"]')).toHaveAttribute('data-state', /cancelled|failed/);
  await expect(log.locator('.cp-log-line', { hasText: 'tick 590' })).toHaveCount(0);
});

test('the backend refuses a request without Jupyter\'s token', async ({ playwright }) => {
  const anonymous = await playwright.request.newContext();
  const refused = await anonymous.get(`${URL}cellpipe/api/health`, { maxRedirects: 0 });
  expect([302, 403, 401]).toContain(refused.status());
  expect(refused.status()).not.toBe(200);
  const allowed = await anonymous.get(`${URL}cellpipe/api/health`, { headers: { Authorization: `token ${TOKEN}` } });
  expect(allowed.status()).toBe(200);
  expect(await allowed.json()).toHaveProperty('version');
  await anonymous.dispose();
});
