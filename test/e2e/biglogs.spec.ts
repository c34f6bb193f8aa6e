/**
 * Big logs do not freeze the page (issue 20), in a real JupyterLab + Chromium: a notebook whose last run printed
 * 1e6 lines (75 MB of log) and one whose last run printed one 50 MB line are opened side by side, their inline logs
 * scrolled back, the full log paged from its end to its start, the cut line shown in full slices. Throughout, no task
 * of the page's main thread takes 200 ms of CPU (Chromium's trace), and the longtask observer's wall times (which
 * include waiting for a CPU on a loaded machine) stay under a second; both are printed.
 * The runs are recorded straight into the run store (tests' `recordRunWithLogs`): printing 1e6 lines for real takes
 * minutes and is not what is under test here.
 */
import { test, expect, type Page } from '@playwright/test';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, TOKEN, URL, openNotebook, openSidebar } from './lab-helpers.js';

test.describe.configure({ mode: 'serial' });

const here = dirname(fileURLToPath(import.meta.url));
const FLOOD = 'big_log.ipynb';
const WIDE = 'long_line.ipynb';
const LINES = 1_000_000;
const WIDE_CHARS = 50 * 1024 * 1024;
/** The longest the page may be unresponsive, in ms. */
const LONGEST_TASK_MS = 200;

const codeCell = (source: string, tags: string[]) => ({ cell_type: 'code', execution_count: null, metadata: { tags }, outputs: [], source });
const notebook = (cells: unknown[]) => JSON.stringify({ cells, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5 }, null, 1);

/** The big runs (made older than a small run of each notebook, which the page shows first). */
const big: Record<string, string> = {};
const made: string[] = [];

test.beforeAll(async () => {
  test.setTimeout(180_000);
  writeFileSync(join(ROOT, FLOOD), notebook([codeCell(`for i in range(${LINES}):\n    print(f"line {i + 1} " + "x" * 40)`, ['step:flood'])]));
  writeFileSync(join(ROOT, WIDE), notebook([codeCell(`print("start")\nprint("x" * ${WIDE_CHARS})\nprint("end")`, ['step:wide'])]));
  const { RunStore } = await import(join(here, '../../lib/runs/store.js'));
  const { recordRunWithLogs, numberedLines } = await import(join(here, '../../lib/server/testing.js'));
  const store = new RunStore(join(ROOT, '.cellpipe'));
  big[FLOOD] = await recordRunWithLogs(store, FLOOD, { flood: numberedLines(LINES, 40) });
  big[WIDE] = await recordRunWithLogs(store, WIDE, { wide: ['start', 'x'.repeat(WIDE_CHARS), 'end'] });
  made.push(big[FLOOD], big[WIDE]);
  made.push(await recordRunWithLogs(store, FLOOD, { flood: numberedLines(3, 40) }));
  made.push(await recordRunWithLogs(store, WIDE, { wide: ['start', 'x', 'end'] }));
  store.close();
});

// The next specs share this JupyterLab: the kernels the two notebooks started and the 130 MB of runs go.
test.afterAll(async ({ request }) => {
  const sessions = (await (await request.get(`${URL}api/sessions?token=${TOKEN}`)).json()) as { id: string; path: string }[];
  for (const s of sessions) if (s.path === FLOOD || s.path === WIDE) await request.delete(`${URL}api/sessions/${s.id}?token=${TOKEN}`);
  for (const id of made) rmSync(join(ROOT, '.cellpipe', 'runs', id), { recursive: true, force: true });
});

/** From now on, every task over 50 ms on the page's main thread is recorded (the browser's own measure). */
async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { cpLongTasks: number[]; cpTaskLog: string[]; cpPhase: string };
    w.cpLongTasks = [];
    w.cpTaskLog = [];
    w.cpPhase = 'start';
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        w.cpLongTasks.push(Math.round(e.duration));
        w.cpTaskLog.push(`${w.cpPhase}:${Math.round(e.duration)}`);
      }
    }).observe({ type: 'longtask' });
  });
}

const longTasks = (page: Page) => page.evaluate(() => (window as unknown as { cpLongTasks: number[] }).cpLongTasks);
/** Names what the page does next, for the long-task report. */
const phase = (page: Page, name: string) => page.evaluate((n) => ((window as unknown as { cpPhase: string }).cpPhase = n), name);

/** Waits until the page had an idle moment (so what JupyterLab itself does at start is over). */
const idle = (page: Page) => page.evaluate(() => new Promise<void>((r) => requestIdleCallback(() => r(), { timeout: 10_000 })));

async function openFromBrowser(page: Page, name: string): Promise<void> {
  await page.locator('.jp-DirListing-item', { hasText: name }).dblclick();
  await expect(page.locator('.lm-TabBar-tab.lm-mod-current', { hasText: name })).toBeVisible();
}

/** Shows the notebook's big run (picked in the sidebar's history), as reopening it after that run would. */
async function showBigRun(page: Page, name: string): Promise<void> {
  await page.locator('.lm-TabBar-tab', { hasText: name }).click();
  await page.locator(`#cellpipe-sidebar .cp-history-item[data-run-id="${big[name]}"] .cp-run-start`).click();
  await expect(page.locator('#cellpipe-sidebar .cp-current-run')).toHaveAttribute('data-run-id', big[name]);
}

/**
 * The longest main-thread task of the page's renderer in CPU time (ms), from a Chromium trace (RunTask's `tdur`).
 * The longtask observer measures wall time, which on a shared, overloaded machine also counts the time the
 * renderer waited for a CPU; the thread's own CPU time is what the page's code costs.
 */
function longestTaskCpuMs(trace: Buffer): number {
  const events = (JSON.parse(trace.toString('utf8')) as { traceEvents: { name: string; ph: string; pid: number; tid: number; tdur?: number; args?: { name?: string } }[] }).traceEvents;
  const mains = new Set(events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  let longest = 0;
  for (const e of events) if (e.name === 'RunTask' && e.ph === 'X' && mains.has(`${e.pid}:${e.tid}`)) longest = Math.max(longest, (e.tdur ?? 0) / 1000);
  return Math.round(longest);
}

test('a 1e6-line log and a 50 MB line, shown side by side, scrolled, paged and shown in full, never block the page for 200 ms', async ({ page, browser }) => {
  // Both notebooks open (JupyterLab's own work of opening them is not measured), then their big runs shown.
  await openNotebook(page, FLOOD);
  await openFromBrowser(page, WIDE);
  await openSidebar(page);
  await idle(page);
  await idle(page);
  await watchLongTasks(page);
  await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });

  // The run that printed 1e6 lines: the inline log shows its end.
  await phase(page, 'show-flood');
  await showBigRun(page, FLOOD);
  const flood = page.locator('.cp-inline-log[data-step="flood"]');
  await expect(flood.locator('.cp-log-line').last()).toContainText(`line ${LINES} x`, { timeout: 60_000 });
  await expect(flood.locator('.cp-log-line')).toHaveCount(200);
  await expect(flood.locator('.cp-log-earlier')).toContainText('999 800 earlier lines');
  // Scrolling to the top of the inline log fetches the lines before.
  await phase(page, 'inline-earlier');
  await flood.locator('.cp-log-lines').evaluate((el) => (el.scrollTop = 0));
  await expect(flood).toHaveAttribute('data-first', String(LINES - 400));
  await expect(flood.locator('.cp-log-line').first()).toHaveText(`line ${LINES - 399} ${'x'.repeat(40)}`);

  // The full log: its last page, an earlier page on scrolling up, the first page on a click.
  await phase(page, 'full-log');
  await flood.locator('.cp-log-full').click();
  const tab = page.locator('.jp-MainAreaWidget .cp-full-log');
  await expect(tab.locator('.cp-full-log-status')).toContainText('lines 999 501–1 000 000 of 1 000 000 · the step has ended');
  await phase(page, 'tab-earlier');
  await tab.evaluate((el) => (el.scrollTop = 0));
  await expect(tab).toHaveAttribute('data-first', String(LINES - 1000));
  await phase(page, 'tab-first');
  await tab.locator('.cp-full-log-first').click();
  await expect(tab.locator('.cp-log-line').first()).toHaveText(`line 1 ${'x'.repeat(40)}`);
  await expect(tab.locator('.cp-full-log-status')).toContainText('lines 1–500 of 1 000 000');
  await phase(page, 'tab-later');
  await tab.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(tab).toHaveAttribute('data-last', '1000');

  // The run that printed one 50 MB line: cut, with a button that fetches that line alone.
  await phase(page, 'show-wide');
  await showBigRun(page, WIDE);
  const wide = page.locator('.cp-inline-log[data-step="wide"]');
  await expect(wide.locator('.cp-log-line')).toHaveCount(3, { timeout: 60_000 });
  const cut = wide.locator('.cp-log-line').nth(1);
  await expect(cut.locator('.cp-log-cut')).toHaveText('line cut at 10 000 characters — show all (50.0 MB)');
  expect(await cut.locator('span').evaluate((el) => el.textContent!.length)).toBe(10_000);
  await phase(page, 'show-all');
  await cut.locator('.cp-log-cut').click();
  await expect(cut.locator('.cp-log-cut')).toHaveText(`show more (100 000 of ${WIDE_CHARS.toLocaleString('en-US').replace(/,/g, ' ')} characters shown)`, { timeout: 60_000 });
  await cut.locator('.cp-log-cut').click();
  await expect(cut.locator('.cp-log-cut')).toContainText('show more (200 000 of', { timeout: 60_000 });
  expect(await cut.locator('span').evaluate((el) => el.textContent!.length)).toBe(200_000);
  await idle(page);

  await phase(page, 'end');
  const cpu = longestTaskCpuMs(await browser.stopTracing());
  const tasks = await longTasks(page);
  console.log(`big logs: long tasks by phase: ${(await page.evaluate(() => (window as unknown as { cpTaskLog: string[] }).cpTaskLog)).join(' ')}`);
  const longest = Math.max(0, ...tasks);
  console.log(`big logs: longest task ${cpu} ms of CPU (trace); longtask observer: ${tasks.length} tasks over 50 ms, longest ${longest} ms of wall time: [${tasks.join(', ')}]`);
  test.info().annotations.push({ type: 'longest task', description: `${cpu} ms CPU, ${longest} ms wall` });
  expect(cpu, `a task of the page took ${cpu} ms of CPU`).toBeLessThan(LONGEST_TASK_MS);
  // Wall time also counts waiting for a CPU on a shared machine (load averages of 30 on 2 cores here): bounded
  // loosely, still far below what a whole 1e6-line log or a 50 MB line in the page cost (minutes, 20 s).
  expect(longest, `the page's main thread was blocked for ${longest} ms`).toBeLessThan(5 * LONGEST_TASK_MS);
});
