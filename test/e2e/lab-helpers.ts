/**
 * What every JupyterLab e2e spec needs: the server test-e2e.sh started (E2E_URL, E2E_TOKEN, E2E_ROOT), opening a
 * notebook and the sidebar, screenshots kept as artifacts (and as the README's pictures), the saved notebook's tags.
 */
import { expect, type Page } from '@playwright/test';
import { readFileSync, mkdirSync, copyFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const URL = process.env.E2E_URL!;
export const TOKEN = process.env.E2E_TOKEN!;
export const ROOT = process.env.E2E_ROOT!;
const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, '../../test-results/e2e/screenshots');
const docs = join(here, '../../docs');
mkdirSync(shots, { recursive: true });

/** Saves a screenshot as a test artifact, and as the README's picture when CELLPIPE_UPDATE_DOCS=1. */
export async function keep(page: Page, name: string, clip?: { selector: string }) {
  const file = join(shots, `${name}.png`);
  if (clip) await page.locator(clip.selector).first().screenshot({ path: file });
  else await page.screenshot({ path: file });
  if (process.env.CELLPIPE_UPDATE_DOCS === '1' && existsSync(docs)) copyFileSync(file, join(docs, `${name}.png`));
}

export async function openNotebook(page: Page, name: string) {
  await page.goto(`${URL}lab/tree/${name}?token=${TOKEN}&reset`);
  // A cold JupyterLab on a busy machine can take well over the 20 s action timeout to load its bundles.
  await page.locator('.jp-NotebookPanel .jp-Cell').first().waitFor({ timeout: 120_000 });
  // The extension decorates code cells once the notebook is ready.
  await page.locator('.cp-cell-bar').first().waitFor({ timeout: 60_000 });
}

export async function openSidebar(page: Page) {
  const panel = page.locator('#cellpipe-sidebar');
  if (!(await panel.isVisible())) await page.locator('.jp-SideBar [data-id="cellpipe-sidebar"]').click();
  await expect(panel).toBeVisible();
}

/** The texts of the notifications JupyterLab shows now (its toasts), for polling: a failure then prints what was said. */
export async function toastTexts(page: Page): Promise<string> {
  return (await page.locator('.Toastify__toast').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim()).join(' | ');
}

/**
 * Waits until a notification saying `text` is shown. When it never comes, the failure lists the notifications that
 * were shown instead (e.g. the error the page reported), so a CI log says why without the trace.
 */
export async function expectToast(page: Page, text: string, timeout: number): Promise<void> {
  await expect.poll(() => toastTexts(page), { timeout, message: `a notification saying: ${text}` }).toContain(text);
}

export function savedTags(name: string): string[][] {
  const nb = JSON.parse(readFileSync(join(ROOT, name), 'utf8')) as { cells: { metadata: { tags?: string[] } }[] };
  return nb.cells.map((c) => c.metadata.tags ?? []);
}

/** For polling: undefined while Jupyter is still writing the file (its atomic_writing writes in place, after a backup). */
export function savedTagsOnceWritten(name: string): string[][] | undefined {
  try {
    return savedTags(name);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** The notebook's i-th cell (0-based, as the DOM orders them). */
export const cell = (page: Page, i: number) => page.locator('.jp-NotebookPanel .jp-Cell').nth(i);

/** Presses the sidebar's Run and waits for a new run to end in `state`; its id. */
export async function runFromSidebar(page: Page, state: 'succeeded' | 'failed'): Promise<string> {
  const sidebar = page.locator('#cellpipe-sidebar');
  const before = await sidebar.locator('.cp-current-run').getAttribute('data-run-id').catch(() => null);
  await sidebar.locator('.cp-run-button').click();
  await expect(sidebar.locator('.cp-current-run')).not.toHaveAttribute('data-run-id', before ?? '', { timeout: 60_000 });
  await expect(sidebar.locator('.cp-current-run')).toHaveAttribute('data-state', state, { timeout: 180_000 });
  return (await sidebar.locator('.cp-current-run').getAttribute('data-run-id'))!;
}
