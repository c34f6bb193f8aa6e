/**
 * Every target says the truth (issue 25), in a real JupyterLab + Chromium, with no cluster and no registry: the
 * picker lists "This machine, in containers" from the backend's answer to the page's settings; a Kubeflow profile the
 * backend cannot use (only a namespace, no kubeconfig) is listed disabled with the backend's own fix, never as a bug;
 * Build & Submit to a profile whose Kubeflow and registry are out of reach builds nothing, names what is unreachable
 * and the profile fields that set it, and ends as a failed run with no step left pending; a banner goes when the
 * target changes.
 */
import { test, expect } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TOKEN, URL, openNotebook, openSidebar } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

const NB = 'targets.ipynb';
const codeCell = (source: string, tags: string[]) => ({ cell_type: 'code', execution_count: null, metadata: { tags }, outputs: [], source });

const PROFILES = {
  // What a new user writes first: the namespace, nothing else (and this machine has no kubeconfig).
  'only-ns': { namespace: 'team-x', kubeconfig: '/nonexistent/kubeconfig' },
  // Kubeflow and the registries on a port that refuses connections.
  offline: { namespace: 'team-a', registry: '127.0.0.1:9/team/steps', baseImage: '127.0.0.1:9/base/python:3.12', insecureRegistry: true, kfp: { host: 'http://127.0.0.1:9', auth: 'none' } },
};

async function setProfiles(request: import('@playwright/test').APIRequestContext, profiles: unknown) {
  // The settings editor saves through this same API.
  const saved = await request.put(`${URL}lab/api/settings/cellpipe:plugin`, { headers: { Authorization: `token ${TOKEN}` }, data: { raw: JSON.stringify(profiles ? { profiles } : {}) } });
  expect(saved.status()).toBe(204);
}

test.beforeAll(() => {
  writeFileSync(join(ROOT, NB), JSON.stringify({
    cells: [codeCell('C = 1.0', ['pipeline-parameters']), codeCell('x = C', ['step:load']), codeCell('y = x + 1', ['step:double', 'prev:load']), codeCell('print(y)', ['step:show', 'prev:double'])],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5,
  }, null, 1));
});

test.afterAll(async ({ request }) => setProfiles(request, undefined));

test('the picker offers this machine in containers, and lists a profile it cannot use disabled with the backend\'s fix', async ({ page, request }) => {
  await setProfiles(request, PROFILES);
  await openNotebook(page, NB);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  const picker = sidebar.locator('select[name="target"]');
  // The list comes from the answer to the page's settings (PUT /api/settings), which now carries the container target.
  await expect(picker.locator('option[value="containers"]')).toHaveCount(1);
  await expect(picker.locator('option[value="containers"]')).toContainText('This machine, in containers');
  const onlyNs = picker.locator('option[value="only-ns"]');
  await expect(onlyNs).toBeDisabled();
  await expect(onlyNs).toHaveAttribute('title', /no kubeconfig found[\s\S]*fix: fix 'kubeconfig' in profile 'only-ns'/);
  await expect(picker.locator('option[value="offline"]')).toBeEnabled();
  const why = sidebar.locator('.cp-unavailable');
  await why.locator('summary').click();
  await expect(why.locator('li[data-target="only-ns"]')).toContainText('no kubeconfig found');
  await expect(why.locator('li[data-target="only-ns"] .cp-hint')).toContainText("fix 'kubeconfig' in profile 'only-ns'");
  await expect(sidebar).not.toContainText(/bug in cellpipe/i);
  // A float parameter shows as the code writes it, and what the user types is left as typed.
  const c = sidebar.locator('input[name="param-C"]');
  await expect(c).toHaveValue('1.0');
  await expect(sidebar.locator('.cp-param-name', { hasText: 'C' })).toHaveAttribute('title', 'float, default 1.0');
  await c.fill('2.50');
  await expect(c).toHaveValue('2.50');
});

test('Build & Submit with nothing in reach builds nothing: a failed run naming what is unreachable and the fields that set it, no step pending; the banner goes with the target', async ({ page, request }) => {
  await setProfiles(request, PROFILES);
  await openNotebook(page, NB);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('select[name="target"]').selectOption('offline');
  await expect(sidebar.locator('.cp-run-button')).toHaveText('Build & Submit');
  await sidebar.locator('.cp-run-button').click();
  const current = sidebar.locator('.cp-current-run');
  await expect(current).toHaveAttribute('data-state', 'failed', { timeout: 60_000 });
  await expect(current).toContainText('cannot reach Kubeflow Pipelines at http://127.0.0.1:9: connection refused');
  await expect(current).toContainText('the registry 127.0.0.1:9 (where step images are pushed)');
  await expect(current).toContainText("fix 'kfp.host', 'registry' in profile 'offline'");
  const stages = sidebar.locator('.cp-submit-stages .cp-stage');
  await expect(stages.nth(0)).toHaveAttribute('data-state', 'failed');
  await expect(stages.nth(0)).toContainText('validate');
  // No step waits as if it still might run: in the sidebar and under the cells.
  await expect(sidebar.locator('.cp-run-steps li')).toHaveCount(3);
  for (const li of await sidebar.locator('.cp-run-steps li .cp-run-state').all()) await expect(li).toHaveText('skipped');
  await expect(page.locator('.jp-NotebookPanel')).not.toContainText(/\bpending\b/);
  // A banner belongs to its target (here: the schedules of 'offline' cannot be listed): choosing another clears it.
  await expect(sidebar.locator('.cp-status-error')).toBeVisible({ timeout: 30_000 });
  await expect(sidebar.locator('.cp-status-error')).not.toContainText(/bug in cellpipe/i);
  await sidebar.locator('select[name="target"]').selectOption('local');
  await expect(sidebar.locator('.cp-status-error')).toHaveCount(0);
});

test('the first Run after the imports changed says what it waits for while the imports cells run, with the time so far', async ({ page }) => {
  const nb = 'warming.ipynb';
  writeFileSync(join(ROOT, nb), JSON.stringify({
    cells: [codeCell('import time, json\ntime.sleep(6)', ['imports']), codeCell('x = json.dumps([1])', ['step:load']), codeCell('print(x)', ['step:show', 'prev:load'])],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5,
  }, null, 1));
  await openNotebook(page, nb);
  await openSidebar(page);
  // Change the imports cell: its fork server must run the new imports (6 s) before the first step can start.
  const editor = page.locator('.jp-NotebookPanel .jp-Cell').first().locator('.cm-content');
  await editor.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\n# changed');
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('.cp-run-button').click();
  const note = sidebar.locator('.cp-current-run .cp-run-preparing');
  await expect(note).toContainText('running the imports cells: time, json …', { timeout: 30_000 });
  await expect(sidebar.locator('.cp-run-steps .cp-run-preparing[data-step="load"]')).toBeVisible();
  // The time counts up while it waits.
  const ms = (text: string | null) => {
    const m = /([\d.]+) (ms|s)$/.exec((text ?? '').trim());
    return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : 0;
  };
  const first = ms(await note.textContent());
  await expect.poll(async () => ms(await note.textContent()), { timeout: 10_000 }).toBeGreaterThan(first + 500);
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await expect(sidebar.locator('.cp-run-preparing')).toHaveCount(0);
});
