/**
 * The debugging loop's I/O in the page: loading a step's values of a run into the notebook's own kernel (through
 * its session context, as the `%cellpipe` magic), then selecting the cell to run next; and starting the partial
 * runs ("Run this step", "Run from here") and runs without the cache through the backend's run API.
 */
import { Notification } from '@jupyterlab/apputils';
import { ServerConnection, type Kernel } from '@jupyterlab/services';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { PipelineModel } from './pipeline.js';
import type { StartRunRequest } from './api.js';
import { ResponseError } from './api.js';
import { cellToSelect, loadCode, runToLoad, saidOf, type ExecuteReply, type PartialChoice } from './model/debug.js';

/** What running code in the kernel gave: its stdout, and the error it raised (`Type: message`), if any. */
export interface KernelResult {
  ok: boolean;
  stdout: string;
  error?: string;
}

/** How long the kernel may take to answer (it may be busy with a cell the user ran). */
export const KERNEL_ANSWER_MS = 180_000;

/** Resolves when `ready()` holds, checked at every `changed` signal; rejects with `why` after `ms`. */
function whenReady(ready: () => boolean, changed: { connect(fn: () => void): unknown; disconnect(fn: () => void): unknown }, ms: number, why: string): Promise<void> {
  if (ready()) return Promise.resolve();
  let check: () => void = () => undefined;
  const becameReady = new Promise<void>((resolve) => {
    check = () => { if (ready()) resolve(); };
    changed.connect(check);
  });
  return within(becameReady, ms, why).finally(() => changed.disconnect(check));
}

/** `promise`'s value, or a rejection saying `why` when it has not settled after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A user expression the execute reply carries back: what `%cellpipe load` said (magic.py LAST_SAID). The reply comes
 * on the kernel's shell channel, so the result does not hang on the output (IOPub) messages reaching the page.
 */
const SAID = '__import__("cellpipe.magic").magic.LAST_SAID';

/** A request the kernel has not answered after this long, while it says it is idle, is sent once more (loading is idempotent). */
export const RESEND_AFTER_MS = 20_000;

/** How long a kernel_info request may go unanswered before the kernel's connection is made again. */
const KERNEL_INFO_MS = 10_000;

/**
 * Resolves once the kernel answers a kernel_info request on this connection. A kernel whose status bar says idle can
 * still have a connection that answers nothing (seen on a loaded CI machine: the request never answered, in both
 * attempts); each unanswered ask reconnects the channels before asking again.
 */
async function kernelAnswers(kernel: Kernel.IKernelConnection, stage: (what: string) => void): Promise<void> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    stage(attempt === 1 ? 'asking the kernel whether it is ready' : `the kernel did not answer: reconnected, asking again (${attempt}/3)`);
    const answered = await within(kernel.requestKernelInfo(), KERNEL_INFO_MS, 'no answer').then(() => true, () => false);
    if (answered) return;
    console.warn(`cellpipe: the kernel did not answer kernel_info in ${KERNEL_INFO_MS / 1000} s: reconnecting its channels`);
    await within(kernel.reconnect(), KERNEL_INFO_MS, 'no reconnect').catch(() => undefined);
  }
  throw new Error('the kernel does not answer: restart it (Kernel → Restart Kernel…) and try again');
}

/** Runs `code` in the notebook's kernel (not stored in its history); resolves when the kernel has answered it. */
export async function executeInKernel(panel: NotebookPanel, code: string, stage: (what: string) => void = () => undefined): Promise<KernelResult> {
  const ctx = panel.sessionContext;
  stage('waiting for the notebook\'s kernel session');
  await ctx.ready;
  const kernel = ctx.session?.kernel;
  if (!kernel) throw new Error('this notebook has no kernel: pick one (Kernel → Change Kernel…), then try again');
  // A kernel that is still starting (or reconnecting) takes the request once it is connected.
  stage(`waiting for the kernel to connect (${kernel.connectionStatus})`);
  await whenReady(() => kernel.connectionStatus === 'connected', kernel.connectionStatusChanged, KERNEL_ANSWER_MS,
    `the kernel is not connected (${kernel.connectionStatus}): restart it (Kernel → Restart Kernel…) and try again`);
  // A kernel just started (the notebook was opened a moment ago) has answered its first kernel_info only once its
  // channels are up: a request sent before that may never be answered.
  await kernelAnswers(kernel, stage);
  const out: string[] = [];
  let error: string | undefined;
  const send = () => {
    const future = kernel.requestExecute({ code, store_history: false, silent: false, allow_stdin: false, stop_on_error: true, user_expressions: { said: SAID } });
    future.onIOPub = (msg) => {
      const content = msg.content as { name?: string; text?: string; ename?: string; evalue?: string };
      if (msg.header.msg_type === 'stream' && content.name === 'stdout') out.push(content.text ?? '');
      else if (msg.header.msg_type === 'error') error = content.ename === 'LoadError' ? content.evalue : `${content.ename}: ${content.evalue}`;
    };
    return new Promise<ExecuteReply>((resolve) => {
      future.onReply = (msg) => resolve(msg.content as ExecuteReply);
      void future.done.then((msg) => msg && resolve(msg.content as ExecuteReply), () => undefined);
    });
  };
  stage('sent to the kernel, waiting for its answer');
  let answered = send();
  // A request lost on its way (the kernel idle, no answer) would otherwise be waited for until the long timeout.
  const first = await within(answered, RESEND_AFTER_MS, 'no answer yet').catch(() => undefined);
  if (!first && kernel.status === 'idle') {
    console.warn(`cellpipe: the kernel is idle and has not answered in ${RESEND_AFTER_MS / 1000} s: reconnecting and sending the request again`);
    await within(kernel.reconnect(), KERNEL_INFO_MS, 'no reconnect').catch(() => undefined);
    stage('sent to the kernel again (no answer in 20 s), waiting');
    answered = Promise.race([answered, send()]);
  }
  const reply = first ?? await within(answered, KERNEL_ANSWER_MS, `the kernel did not answer in ${KERNEL_ANSWER_MS / 1000} s (is a cell still running? Kernel → Interrupt)`);
  if (reply.status === 'error') error ??= reply.ename === 'LoadError' ? reply.evalue : `${reply.ename}: ${reply.evalue}`;
  const said = saidOf(reply);
  const stdout = out.join('');
  return { ok: reply.status === 'ok' && !error, stdout: said && !stdout.includes(said) ? `${stdout}${said}\n` : stdout, ...(error ? { error } : {}) };
}

/** The run store's folder of a run (the backend knows where the runs directory setting keeps it). */
async function storeOf(model: PipelineModel, runId: string): Promise<string | undefined> {
  const url = model.api.url(`runs/${encodeURIComponent(runId)}/store`, { notebook: model.path });
  // Bounded: without an answer the kernel looks next to the notebook, as the CLI does.
  const res = await ServerConnection.makeRequest(url, { signal: AbortSignal.timeout(15_000) }, model.api.settings);
  if (!res.ok) return undefined; // an older backend: the kernel looks next to the notebook, as the CLI does
  return ((await res.json()) as { store?: string }).store;
}

/**
 * "Load inputs into kernel": the notebook's imports and functions cells, then the step's inputs of the shown run
 * (or the newest run in which the step started) bound in the kernel; then the step's failing cell, or its first
 * cell, is selected so the user can run the step's cells one by one.
 */
export async function loadStepIntoKernel(model: PipelineModel, step: string, select: (cell: number) => void, fromRun?: string): Promise<void> {
  const run = fromRun ? model.runs.find((r) => r.id === fromRun) ?? model.run : runToLoad(step, model.run, model.runs);
  if (!run) {
    Notification.error(`step '${step}' has not run yet: run the pipeline first, then load its inputs`, { autoClose: 8000 });
    return;
  }
  const id = Notification.emit(`Loading the inputs of step '${step}' (run ${run.id}) into the kernel…`, 'in-progress', { autoClose: false });
  // The outcome is a notification of its own: an update made right after the emit can leave the toast on screen
  // stuck on its first text (jupyterlab/jupyterlab#15558; seen in CI: "Loading…" shown while the load had ended).
  const end = (type: 'success' | 'error', message: string) => {
    Notification.dismiss(id);
    Notification.emit(message, type, { autoClose: type === 'success' ? 8000 : 12000 });
  };
  try {
    const graph = model.result?.graph;
    const cells = model.panel.content.model?.cells;
    const prelude = (graph?.prelude ?? []).map((i) => (cells && i < cells.length ? cells.get(i).sharedModel.getSource() : ''));
    // Each stage is said in the notification, so one that never ends says where it stopped.
    const stage = (what: string) => Notification.update({ id, message: `Loading the inputs of step '${step}' (run ${run.id}) into the kernel: ${what}…` });
    stage('asking where the run store is');
    const store = await storeOf(model, run.id).catch(() => undefined);
    const result = await executeInKernel(model.panel, loadCode({ step, runId: run.id, store, prelude }), stage);
    if (!result.ok) {
      end('error', `Could not load the inputs of step '${step}': ${result.error ?? 'the kernel reported an error'}`);
      return;
    }
    const said = result.stdout.trim().split('\n').filter(Boolean).pop() ?? `cellpipe: inputs of step '${step}' loaded`;
    end('success', `${said.replace(/^cellpipe: /, '')} (run ${run.id})`);
    const cell = cellToSelect(step, run, graph);
    if (cell !== undefined) select(cell);
  } catch (err) {
    end('error', `Could not load the inputs of step '${step}': ${err instanceof Error ? err.message : String(err)}`);
  }
}

const starting = new WeakSet<PipelineModel>();

/**
 * "Run this step" / "Run from here" / "Run without cache": saves the notebook, starts the run through the backend
 * (which plans the reuse as `cellpipe run --only/--from` does) and shows it; stale reused inputs are warned about.
 */
export async function startPartialRun(model: PipelineModel, choice: PartialChoice, target: string): Promise<string | undefined> {
  if (model.busy || starting.has(model)) {
    Notification.warning('A run of this notebook is going on: wait for it to end, or cancel it', { autoClose: 6000 });
    return undefined;
  }
  const copy = model.executedCopy;
  if (copy) {
    Notification.warning(`This is an executed copy of ${copy.notebook ?? 'a notebook'} from run ${copy.run}: run its steps from ${copy.notebook ?? 'that notebook'}`, { autoClose: 6000 });
    return undefined;
  }
  starting.add(model);
  try {
    await model.panel.context.save();
    const request: StartRunRequest & PartialChoice = { path: model.path, parameters: model.parameterValues(), target, ...choice };
    const started = (await model.api.startRun(request)) as { runId: string; warnings?: string[] };
    for (const w of started.warnings ?? []) Notification.warning(w, { autoClose: 15000 });
    await model.select(started.runId);
    return started.runId;
  } catch (err) {
    const e = ResponseError.from(err);
    Notification.error(e.hint ? `${e.message} — ${e.hint}` : e.message, { autoClose: 12000 });
    return undefined;
  } finally {
    starting.delete(model);
  }
}
