/**
 * cellpipe in a Kubeflow notebook pod (scripts/test-notebook-pod.sh builds the image from the README's Containerfile
 * and runs it on the test cluster's real node as Kubeflow's notebook controller would): JupyterLab under NB_PREFIX,
 * no profile written anywhere — the target picker offers this notebook's namespace, found from the pod — and the
 * quickstart submitted to the cluster's Kubeflow Pipelines shows each step's log under its cells. That Kubeflow
 * Pipelines is the swagger-checked fake KFP server the e2e tests use, its runs executed by real pods in the
 * notebook's namespace (KFP's own stack is a separate, opt-in test: scripts/test-kfp.sh).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, expect } from '@playwright/test';
import { keep, openNotebook, openSidebar, URL } from './lab-helpers.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '../../examples');

test('in a Kubeflow notebook pod, with no profile written: submit the quickstart and see each step\'s log under its cells', { tag: '@notebookpod' }, async ({ page }) => {
  // The waits below (a first step log within 10 minutes: the pod builds the step images from its own) need more than
  // the suite's 4-minute test timeout on a slow machine.
  test.setTimeout(15 * 60_000);
  const namespace = process.env.NOTEBOOK_NAMESPACE!;
  expect(namespace, 'scripts/test-notebook-pod.sh names the notebook\'s namespace').toBeTruthy();
  // The user's files, uploaded as JupyterLab's file browser does (the contents API, with its XSRF cookie).
  await page.goto(`${URL}lab`);
  await page.locator('.jp-LabShell').waitFor({ timeout: 180_000 });
  const xsrf = (await page.context().cookies()).find((c) => c.name === '_xsrf')?.value ?? '';
  const put = async (path: string, model: object) => {
    const r = await page.request.put(`${URL}api/contents/${path}`, { headers: { 'X-XSRFToken': xsrf }, data: model });
    expect(r.status(), `${path}: ${await r.text()}`).toBeLessThan(300);
  };
  await put('quickstart.ipynb', { type: 'notebook', format: 'json', content: JSON.parse(readFileSync(join(EXAMPLES, 'quickstart.ipynb'), 'utf8')) });
  await put('data', { type: 'directory' });
  await put('data/weather.csv', { type: 'file', format: 'text', content: readFileSync(join(EXAMPLES, 'data/weather.csv'), 'utf8') });

  await openNotebook(page, 'quickstart.ipynb');
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  const option = sidebar.locator('select[name="target"] option[value="kubeflow"]');
  await expect(option).toBeEnabled({ timeout: 60_000 });
  await expect(option).toHaveText(`kubeflow (this notebook's namespace · ${namespace})`);
  await sidebar.locator('select[name="target"]').selectOption('kubeflow');
  await expect(sidebar.locator('.cp-run-button')).toHaveText('Build & Submit');
  await sidebar.locator('.cp-run-button').click();

  // The first step's log under its cell: the time the script reports, from the pod's creation to this line.
  await expect(page.locator('.cp-inline-log[data-step="load"] .cp-log-line', { hasText: /^loaded 90 days$/ })).toHaveCount(1, { timeout: 600_000 });
  if (process.env.NOTEBOOK_FIRST_LOG_FILE) writeFileSync(process.env.NOTEBOOK_FIRST_LOG_FILE, String(Date.now()));
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 300_000 });
  await expect(sidebar.locator('.cp-run-runtime').first()).toHaveText('kubeflow · kubeflow');
  // Every step ran in its own pod, from an image built on this notebook's own image, and its log came back here
  // through the Kubernetes API with the notebook's service account.
  await expect(page.locator('.cp-inline-log[data-step="clean"] .cp-log-line', { hasText: /^kept \d+ days, dropped \d+$/ })).toHaveCount(1);
  await expect(page.locator('.cp-inline-log[data-step="summarise"] .cp-log-line', { hasText: /^mean smoothed temperature: 17\.392$/ })).toHaveCount(1);
  await keep(page, 'notebook-pod-quickstart');
});
