/**
 * The sidebar's set-up panels and a run's note (issue 25), in a real JupyterLab + Chromium: "Add a Kubeflow profile…"
 * checks each field as it is typed, saves into the profiles file the backend reads ($CELLPIPE_PROFILES, a file of
 * this test run) and the picker lists the profile at once — usable, or disabled with its fix; "Check set-up" shows
 * `cellpipe doctor`'s checks with their states and fixes; a run carries a note that survives a reload.
 */
import { test, expect, type Page } from '@playwright/test';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TOKEN, URL, keep, openNotebook, openSidebar } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

const NB = 'panels.ipynb';
const PROFILES = process.env.CELLPIPE_PROFILES;
const codeCell = (source: string, tags: string[]) => ({ cell_type: 'code', execution_count: null, metadata: { tags }, outputs: [], source });
let before: string | undefined;

test.beforeAll(() => {
  writeFileSync(join(ROOT, NB), JSON.stringify({
    cells: [codeCell('C = 1.0', ['pipeline-parameters']), codeCell('x = C * 2', ['step:load']), codeCell('print(f"x is {x}")', ['step:show', 'prev:load'])],
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5,
  }, null, 1));
  if (PROFILES && existsSync(PROFILES)) before = readFileSync(PROFILES, 'utf8');
});

// The profiles file as it was: the other specs see their own profiles only.
test.afterAll(() => {
  if (!PROFILES) return;
  if (before === undefined) rmSync(PROFILES, { force: true });
  else writeFileSync(PROFILES, before);
});

test('Add a Kubeflow profile…: each field checked with a message naming it; saved, the picker lists it usable or disabled with its fix', async ({ page }) => {
  test.skip(!PROFILES, 'test-e2e.sh names a profiles file of its own (CELLPIPE_PROFILES)');
  await openNotebook(page, NB);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('.cp-add-profile').click();
  const form = sidebar.locator('form.cp-profile-form');
  await expect(form).toBeVisible();
  // Saving an empty form names what is missing, field by field.
  await form.locator('.cp-profile-save').click();
  await expect(form.locator('[data-field="name"] .cp-field-error')).toHaveText(/^Name: missing/);
  await expect(form.locator('[data-field="namespace"] .cp-field-error')).toHaveText(/^Namespace: missing/);
  await form.locator('input[name="name"]').fill('team-b');
  await form.locator('input[name="namespace"]').fill('Team B');
  await form.locator('input[name="registry"]').fill('https://127.0.0.1:9/team-b/steps');
  await form.locator('input[name="kfpHost"]').fill('http://127.0.0.1:9');
  await expect(form.locator('[data-field="name"] .cp-field-error')).toHaveCount(0);
  await expect(form.locator('[data-field="namespace"] .cp-field-error')).toHaveText(/^Namespace: 'Team B' is not a Kubernetes namespace name/);
  await expect(form.locator('[data-field="registry"] .cp-field-error')).toHaveText(/^Registry: .*leave out the scheme/);
  // The token is never asked for: token auth shows the variable that holds it.
  await form.locator('select[name="kfpAuth"]').selectOption('token');
  await expect(form.locator('input[name="kfpTokenEnv"]')).toBeVisible();
  await form.locator('input[name="kfpTokenEnv"]').fill('my secret token');
  await form.locator('input[name="kfpTokenEnv"]').blur();
  await expect(form.locator('[data-field="kfpTokenEnv"] .cp-field-error')).toHaveText(/^KFP token variable: .*the token itself is never stored here/);
  await form.locator('input[name="kfpTokenEnv"]').fill('TEAM_B_TOKEN');
  await form.locator('input[name="namespace"]').fill('team-b');
  await form.locator('input[name="registry"]').fill('127.0.0.1:9/team-b/steps');
  await form.locator('.cp-profile-save').click();
  await expect(form).toHaveCount(0);
  // Saved into the backend's profiles file, which the CLI reads too.
  const file = readFileSync(PROFILES!, 'utf8');
  expect(file).toMatch(/team-b:\n\s+namespace: team-b\n\s+registry: 127.0.0.1:9\/team-b\/steps\n\s+kfp:\n\s+host: http:\/\/127.0.0.1:9\n\s+auth: token\n\s+tokenEnv: TEAM_B_TOKEN/);
  // Its cluster needs no kubeconfig (KFP by URL): usable, and picked.
  const picker = sidebar.locator('select[name="target"]');
  await expect(picker.locator('option[value="team-b"]')).toBeEnabled();
  await expect(picker).toHaveValue('team-b');
  await expect(sidebar.locator('.cp-run-button')).toHaveText('Build & Submit');

  // A profile whose kubeconfig is missing is saved and listed disabled, with the backend's fix; Local stays picked.
  await picker.selectOption('local');
  await sidebar.locator('.cp-add-profile').click();
  await form.locator('input[name="name"]').fill('far');
  await form.locator('input[name="namespace"]').fill('far');
  await form.locator('input[name="kubeconfig"]').fill('/nonexistent/kubeconfig');
  await form.locator('.cp-profile-save').click();
  await expect(form).toHaveCount(0);
  await expect(picker.locator('option[value="far"]')).toBeDisabled();
  await expect(picker.locator('option[value="far"]')).toHaveAttribute('title', /kubeconfig[\s\S]*fix: .*'kubeconfig' in profile 'far'/);
  await expect(picker).toHaveValue('local');
  // A taken name: the backend's refusal is shown in the form.
  await sidebar.locator('.cp-add-profile').click();
  await form.locator('input[name="name"]').fill('far');
  await form.locator('input[name="namespace"]').fill('other');
  await form.locator('.cp-profile-save').click();
  await expect(form.locator('.cp-status-error')).toContainText("a profile named 'far' exists already");
  await form.locator('.cp-profile-cancel').click();
  await expect(sidebar).not.toContainText(/bug in cellpipe/i);
});

/** Adds a profile through the backend (the form's own request) unless the test above saved it already. */
async function ensureProfile(page: Page, profile: Record<string, string>) {
  const headers = { Authorization: `token ${TOKEN}` };
  const listed = await page.request.get(`${URL}cellpipe/api/profiles`, { headers });
  const names = ((await listed.json()) as { profiles: { name: string }[] }).profiles.map((p) => p.name);
  if (names.includes(profile.name)) return;
  const saved = await page.request.post(`${URL}cellpipe/api/profiles`, { headers, data: profile });
  expect(saved.status(), await saved.text()).toBe(201);
}

test("Check set-up shows cellpipe doctor's checks: each profile's, then this machine's, each with its state and fix", async ({ page }) => {
  test.skip(!PROFILES, 'test-e2e.sh names a profiles file of its own (CELLPIPE_PROFILES)');
  // Its own profiles, so it holds alone as after the form's test: one by URL, one whose kubeconfig is missing.
  await ensureProfile(page, { name: 'team-b', namespace: 'team-b', registry: '127.0.0.1:9/team-b/steps', kfpHost: 'http://127.0.0.1:9', kfpAuth: 'token', kfpTokenEnv: 'TEAM_B_TOKEN' });
  await ensureProfile(page, { name: 'far', namespace: 'far', kubeconfig: '/nonexistent/kubeconfig' });
  await openNotebook(page, NB);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('.cp-check-setup').click();
  const doctor = sidebar.locator('.cp-doctor');
  await expect(doctor.locator('.cp-doctor-summary')).toBeVisible({ timeout: 120_000 });
  const far = doctor.locator('.cp-doctor-target[data-target="far"]');
  await expect(far.locator('.cp-doctor-title')).toContainText("profile 'far'");
  const failed = far.locator('.cp-doctor-check[data-state="failed"]').first();
  await expect(failed).toContainText('kubeconfig');
  await expect(failed.locator('.cp-doctor-fix')).toContainText('fix:');
  await expect(far.locator('.cp-doctor-next')).toContainText('cellpipe doctor --profile far');
  await expect(doctor.locator('.cp-doctor-target[data-target="team-b"]')).toBeVisible();
  const machine = doctor.locator('.cp-doctor-target[data-target="containers"]');
  await expect(machine.locator('.cp-doctor-title')).toHaveText(/This machine, in containers/);
  await expect(machine.locator('.cp-doctor-check').first()).toHaveAttribute('data-state', /ok|warning|failed/);
  await doctor.evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await keep(page, 'sidebar-check-setup', { selector: '#cellpipe-sidebar' });
  await doctor.locator('.cp-doctor-close').click();
  await expect(doctor).toHaveCount(0);
});

test('a run carries a short note: edited in the run header, shown in its history row, kept across a reload', async ({ page }) => {
  await openNotebook(page, NB);
  await openSidebar(page);
  const sidebar = page.locator('#cellpipe-sidebar');
  await sidebar.locator('select[name="target"]').selectOption('local');
  await sidebar.locator('.cp-run-button').click();
  const current = sidebar.locator('.cp-current-run');
  await expect(current).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  const runId = await current.getAttribute('data-run-id');
  await current.locator('.cp-run-note-edit').click();
  const input = current.locator('input[name="run-note"]');
  // Too long: said under the field, and Save stays off.
  await input.fill('x'.repeat(201));
  await expect(current.locator('.cp-field-error')).toHaveText('note: 201 characters, at most 200; shorten it');
  await expect(current.locator('.cp-run-note-save')).toBeDisabled();
  await input.fill('baseline <b>C=1.0</b>');
  await input.press('Enter');
  await expect(current.locator('.cp-run-note')).toHaveText('baseline <b>C=1.0</b>'); // plain text, not markup
  const row = sidebar.locator(`.cp-history-item[data-run-id="${runId}"]`);
  await expect(row.locator('.cp-history-note')).toHaveText('baseline <b>C=1.0</b>');
  await page.reload();
  await page.locator('.cp-cell-bar').first().waitFor({ timeout: 120_000 });
  await openSidebar(page);
  await expect(sidebar.locator(`.cp-history-item[data-run-id="${runId}"] .cp-history-note`)).toHaveText('baseline <b>C=1.0</b>');
  // Escape leaves the note as it was.
  await sidebar.locator('.cp-current-run .cp-run-note-edit').click();
  await sidebar.locator('.cp-current-run input[name="run-note"]').fill('changed my mind');
  await sidebar.locator('.cp-current-run input[name="run-note"]').press('Escape');
  await expect(sidebar.locator('.cp-current-run .cp-run-note')).toHaveText('baseline <b>C=1.0</b>');
});
