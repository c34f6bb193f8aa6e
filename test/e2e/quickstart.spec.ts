/**
 * The README's main command, as a newcomer meets it: `bash scripts/start.sh` (run by scripts/test-quickstart.sh
 * exactly as the README writes it) serves JupyterLab and prints the URL with its token last. Opening that URL shows
 * the example notebook with cellpipe's chips; a run from the sidebar puts each step's own output under its cells.
 */
import { test, expect } from '@playwright/test';

const START_URL = process.env.QUICKSTART_URL!;

test('the URL start.sh prints opens the example; Run in the sidebar shows each step\'s log under its cells', { tag: '@quickstart' }, async ({ page }) => {
  expect(START_URL, 'scripts/test-quickstart.sh passes the URL start.sh printed').toMatch(/^http:\/\/127\.0\.0\.1:\d+\/lab\/tree\/quickstart\.ipynb\?token=/);
  await page.goto(START_URL);
  // A cold JupyterLab on a busy machine can take well over the 20 s action timeout to load its bundles.
  await page.locator('.jp-NotebookPanel .jp-Cell').first().waitFor({ timeout: 120_000 });
  await expect(page.locator('.lm-TabBar-tab.lm-mod-current', { hasText: 'quickstart.ipynb' })).toBeVisible();
  for (const step of ['load', 'clean', 'summarise']) {
    await expect(page.locator('.cp-chip', { hasText: new RegExp(`^${step}$`) })).toHaveCount(1, { timeout: 60_000 });
  }

  // The sidebar may already be open: JupyterLab restores the layout of the user's last visit.
  const sidebar = page.locator('#cellpipe-sidebar');
  if (!(await sidebar.isVisible())) await page.locator('.jp-SideBar [data-id="cellpipe-sidebar"]').click();
  await expect(sidebar).toBeVisible();
  await expect(sidebar.locator('.cp-dag-node')).toHaveCount(3);
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', 'succeeded', { timeout: 180_000 });
  // The run's values as the notebook writes them: the float parameter 14.0, not 14.
  await expect(sidebar.locator('.cp-run-details [data-param="MIN_TEMPERATURE"]')).toHaveText('MIN_TEMPERATURE=14.0');

  // What each step printed, under its own cells — also when the headless run before made the steps cached.
  const printed: Record<string, RegExp> = {
    load: /^loaded 90 days$/,
    clean: /^kept 63 days, dropped 27$/,
    summarise: /^mean smoothed temperature: 17\.392$/,
  };
  for (const [step, line] of Object.entries(printed)) {
    await expect(sidebar.locator(`.cp-dag-node[data-step="${step}"]`)).toHaveAttribute('data-state', /succeeded|cached/);
    const log = page.locator(`.cp-inline-log[data-step="${step}"]`);
    await expect(log.locator('.cp-log-line', { hasText: line })).toHaveCount(1);
  }
  // Nothing of JupyterLab's own over the first screen (the news prompt is switched off in cellpipe's environment).
  await expect(page.locator('.Toastify__toast', { hasText: 'Jupyter news' })).toHaveCount(0);
  await page.screenshot({ path: 'test-results/e2e/screenshots/quickstart.png' });
});
