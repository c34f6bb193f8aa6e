/**
 * Diagnostics where the eye is (issue 25), in a real JupyterLab and Chromium: a cell's chip shows its most severe
 * finding (a warning never hides behind an info's "(+1)"), and each finding with a line is a squiggle on that line
 * in the cell's editor (CodeMirror's own lint marks), with the message and hint on hover; fixing the line removes it.
 */
import { test, expect } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, openNotebook } from './lab-helpers.js';

const NB = 'diagnostics.ipynb';
const TAGGING = 'tagging_params.ipynb';
const codeCell = (id: string, source: string, tags: string[]) => ({ cell_type: 'code', id, execution_count: null, metadata: { tags }, outputs: [], source });

test.beforeAll(() => {
  writeFileSync(join(ROOT, NB), JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      codeCell('one', 'a = 1', ['step:one']),
      // line 1: an info (the data adds the edge one → two), which the compiler reports first; line 2: a warning.
      codeCell('two', 'b = a + 1\nfrom os.path import *', ['step:two']),
    ],
  }, null, 1));
  // Halfway through tagging top to bottom: the cell under the parameters cell is not tagged yet.
  writeFileSync(join(ROOT, TAGGING), JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      codeCell('params', 'TEST_SIZE = 0.25', ['pipeline-parameters']),
      codeCell('load', 'wine = dict(rows=[1, 2, 3])\nX = wine["rows"]', []),
    ],
  }, null, 1));
});

test('a cell\'s chip shows its warning before its info, and each finding is a squiggle on its line with the message on hover', async ({ page }) => {
  await openNotebook(page, NB);
  const two = page.locator('.jp-NotebookPanel .jp-Cell').nth(1);
  await expect(two.locator('.cp-diag')).toHaveClass(/cp-diag-warning/);
  await expect(two.locator('.cp-diag-text')).toHaveText("cellpipe can't see through from os.path import * (+1)");

  const warning = two.locator('.cm-line').nth(1).locator('.cm-lintRange-warning');
  await expect(warning).toHaveText('from os.path import *');
  await expect(two.locator('.cm-line').nth(0).locator('.cm-lintRange-info')).toHaveText('b = a + 1');
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').nth(0).locator('.cm-lintRange')).toHaveCount(0);
  await warning.hover();
  await expect(page.locator('.cm-tooltip-lint')).toContainText("cellpipe can't see through from os.path import * — import the names you use explicitly");

  // The line fixed (the import made explicit): its squiggle goes with the next compile, the info stays.
  await two.locator('.cm-line').nth(1).click();
  await page.keyboard.press('End');
  await page.keyboard.press('Shift+Home');
  await page.keyboard.type('from os.path import join');
  await expect(two.locator('.cm-lintRange-warning')).toHaveCount(0);
  await expect(two.locator('.cp-diag')).toHaveClass(/cp-diag-info/);
  await expect(two.locator('.cm-lintRange-info')).toHaveCount(1);
  await page.keyboard.press('Escape');
});

test('an untagged cell that joined the parameters cell says so on its chip and offers the way out; Shift+Alt+S takes it', async ({ page }) => {
  await openNotebook(page, TAGGING);
  const load = page.locator('.jp-NotebookPanel .jp-Cell').nth(1);
  await expect(load.locator('.cp-diag')).toHaveClass(/cp-diag-error/);
  await expect(load.locator('.cp-diag-text')).toHaveText('cell 2 ("wine = dict(rows=[1, 2, 3])") has no tag, so it joined the pipeline-parameters cell above it, which holds only NAME = literal lines');
  await expect(load.locator('.cp-diag')).toHaveAttribute('title', /make it a step \(Shift\+Alt\+S/);
  await load.locator('.jp-InputPrompt').click();
  await page.keyboard.press('Shift+Alt+S');
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('input').fill('load');
  await dialog.locator('.jp-mod-accept').click();
  await expect(load.locator('.cp-chip')).toHaveText('load');
  await expect(load.locator('.cp-diag')).not.toHaveClass(/cp-diag-error/);
});
