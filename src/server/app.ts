/**
 * cellpipe's backend: the HTTP/JSON API the JupyterLab extension talks to (through jupyter-server-proxy,
 * so behind Jupyter's own authentication). It compiles notebooks on disk, starts runs — locally or on Kubeflow
 * through a profile (see ./kubeflow.ts) —, lists them, streams their status and logs as Server-Sent Events, and
 * builds step images. Every route lives under `/api`.
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /api/health?page=VERSION` | `{version}`; a page of another version is reported in the log (stderr) |
 * | `POST /api/compile {path}` | `{ok, graph, diagnostics, specHash, yaml}` |
 * | `POST /api/prewarm {path}` | `{warm: true, pid}` once the fork server of the saved notebook's first step ran its imports (its next local Run then starts warm), or `{warm: false, reason}`; only for a notebook run through this backend before (opening a notebook never runs it) |
 * | `PUT /api/settings {profiles?, runsDir?, concurrency?, defaultBaseImage?}` | the profile summaries (as `GET /api/profiles`) under the new settings (see ./settings.ts) |
 * | `GET /api/settings` | the settings in force |
 * | `POST /api/profiles {name, namespace, kubeconfig?, context?, registry?, insecureRegistry?, baseImage?, build?, kfpHost?, kfpAuth?, kfpTokenFile?, kfpTokenEnv?, kfpObjectStore?}` | 201 `{saved, file}` and the profile summaries (as `GET /api/profiles`): the "Add a Kubeflow profile…" form's profile added to the profiles file (./profiles-file.ts); 400 naming each field at fault (`fields`), 409 when the name is taken |
 * | `GET /api/doctor` | what `cellpipe doctor --json` prints: `{ok, targets, containers}`, each target's checks with their fixes (cli/doctor-checks.ts) |
 * | `GET /api/profiles` | `{profiles: [{name, kind: "kubeflow", namespace, registry?, kfpUi?, error?, hint?}], file?, error?, containers: {error?}}`: each profile checked (settings; kubeconfig, API server and namespace when it needs the cluster) |
 * | `POST /api/runs {path, parameters, target: "local" \| "containers" \| PROFILE, cache?, only?: [STEP…], from?: STEP, reuse?: RUN}` | 201 `{runId, run, warnings}` (Kubeflow: submitted in the background, `run.stage` shows how far; `only`/`from`: a partial run as `cellpipe run --only/--from [--reuse]`, `warnings` say which reused inputs are stale; on Kubeflow as `cellpipe submit --only/--from/--no-cache`, no `reuse`) |
 * | `GET /api/runs?notebook=PATH` | `{runs, damaged, partOf}`: the notebook's runs, newest first; `damaged`: runs of its store whose record cannot be read, `{id, file, line?, problem, notebook?}`; `partOf`: `{run, units}`, runs of notebooks that composed this one (`notebook:` cells) and the units it ran as |
 * | `GET /api/runs/:id[?notebook=PATH]` | the RunRecord |
 * | `GET /api/runs/:id/store` | `{run, store}`: the run store's folder (absolute), for loading a step's values in a kernel |
 * | `GET /api/runs/:id/events` | SSE: `run` (RunRecord) per change, then `end` (Kubeflow runs: `stage`/`stageDetail` while submitted) |
 * | `GET /api/runs/:id/logs/:step?from=N&follow=1&cut=C` | SSE: `line` (LogLine, `id:` = its 0-based line index; with `cut`, texts over C characters cut, marked `cut`), then `end` `{lines, state}`; paced by the reader (sse.ts) |
 * | `GET /api/runs/:id/logs/:step?format=json&from=N&limit=M` (or `&tail=M`) `&cut=C` | a window: `{from, lines, total}`, lines [from, from + M) (or the last M), each a LogLine with `n` (its index) and, when its text was cut at C characters, `cut` (the whole line's size in bytes); M ≤ 10 000 (default 1000), C 100…1 000 000 (default 10 000) |
 * | `GET /api/runs/:id/logs/:step/lines/:n?start=S&length=L` | line n whole: `{n, time, stream, text, start, length}`, `text` = characters [S, S + L) (L ≤ 1 000 000, the default), `length` = the line's length |
 * | `GET /api/runs/:id/logs/:step?format=text` | the whole log as text (paced by the reader) |
 * | `GET /api/runs/:id/outputs` | `{run, steps: {STEP: {fromRun, cells}}, unreadable?: {STEP: why}}`: what each cell showed in the run's steps that recorded it (runs/outputs.ts; `cells` maps the 0-based cell index to `{id, executionCount, outputs}`, nbformat outputs); a step whose outputs file is gone or damaged is in `unreadable` |
 * | `GET /api/runs/:id/outputs/:step` | `{run, step, recorded, fromRun?, cells, sources?}` for one step (`recorded: false` while it has none; `sources`: each cell's code as it ran, by index) |
 * | `POST /api/runs/:id/export?notebook=PATH` | `{path, filled, notes}`: the run's executed notebook written beside the notebook as `<name>.<run id>.ipynb` (as `cellpipe export`; the notebook itself is never written); `path` is relative to the root |
 * | `PUT /api/runs/:id/note?notebook=PATH {note}` | the RunRecord with its note (core/run-note.ts: one line of plain text, at most 200 characters; `""` removes it) |
 * | `POST /api/runs/:id/cancel` | 202 with the RunRecord (Kubeflow: terminated in KFP, or its submission stopped) |
 * | `POST /api/schedules {path, profile, cron, parameters?, maxConcurrency?, catchUp?}` | 201 `{schedule, next}`: images built, the version uploaded, the recurring run created pinned to it (runtimes/kubeflow/schedule.ts) |
 * | `GET /api/schedules?notebook=PATH&profile=P` | `{schedules, recorded}`: the notebook's schedules with their next three runs; the runs KFP made for them are recorded (`recorded`: new run ids) and watched |
 * | `POST /api/schedules/:id/pause\|resume?profile=P` | the schedule after the change |
 * | `DELETE /api/schedules/:id?profile=P` | `{deleted: id}` |
 * | `POST /api/build {path, profile}` | SSE: `progress` (a BuildProgress: `bytes` {uploaded}, `step` {step, reference, unchanged}, `requirements`, `base`, `log`), then `result` `{images, steps, bytesUp}` or `error` `{error, hint?}` |
 *
 * Runs are kept by the run store next to each notebook (`<notebook dir>/.cellpipe`), the same place the CLI
 * writes, so runs started from a terminal show up in the page and the other way round.
 *
 * JSON fields that point at a cell (`cell` of diagnostics, parameters and step errors, a graph step's `cells`) hold the
 * 0-based index into the notebook's `cells`; error `message`s, being for people, say `cellLabel` ("cell 7" for 6).
 */
import { readFile, realpath, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { CompileOptions, CompileResult } from '../core/compile.js';
import { compileNotebook } from '../core/compile.js';
import { inImagesUnavailable } from '../runtimes/containers/setup.js';
import { openTarget, type RunInput, type TargetHost } from '../runtimes/targets/index.js';
import { cellLabel } from '../core/notebook.js';
import { readRunCellOutputs, readStepCellOutputs } from '../runs/outputs.js';
import { executedFileName, executedRun, executedText } from '../runs/executed.js';
import { RunStore, storeDirFor as defaultStoreDirFor, isTerminalRun } from '../runs/store.js';
import type { LogLine, RunRecord } from '../runs/types.js';
import type { Runtime } from '../runtimes/types.js';
import { HttpError, readJsonObject, refuseCrossSite, requireString, sendError, sendJson } from './http.js';
import { ERROR_LOG_NAME } from './error-log.js';
import { bindParameters } from './parameters.js';
import { readPartialSelection, startOn } from './partial.js';
import { resolveNotebook, type ResolvedNotebook } from './paths.js';
import { EventStream } from './sse.js';
import { readLogLine, readLogWindow } from './logWindow.js';
import { tailLog, watchRun } from './tail.js';
import { KubeflowTargets, type KubeflowOptions } from './kubeflow.js';
import type { BuildProgress } from '../images/build.js';
import type { NotebookBuildOptions } from '../images/notebook.js';
import { scheduleHttpError, scheduleOptions, scheduleView } from './schedules.js';
import { keepSettings, NO_LAB_SETTINGS, parseLabSettings, readKeptSettings, runsDirFor, type LabSettings } from './settings.js';
import { notebookReader } from '../runs/notebook-reader.js';
import { addProfile, checkedProfile } from './profiles-file.js';
import { checkNote, NOTE_MAX_CHARS } from '../core/run-note.js';

/** The runs of one store directory: the store to read them from and the runtime that executes new ones. */
export interface RunBackend {
  store: RunStore;
  runtime: Runtime;
}

export interface BackendOptions {
  /** Jupyter's root directory: every notebook path is relative to it and must stay inside it. */
  root: string;
  /** Reported by `/api/health`. */
  version: string;
  /** The compiler (defaults to core `compileNotebook`). */
  compile?: (text: string, options: CompileOptions) => CompileResult;
  /** Where runs of a notebook (absolute path) are stored; defaults to the run store's `storeDirFor`. */
  storeDirFor?: (notebookAbsPath: string) => string;
  /** Store + local runtime for a store directory; called once per directory. */
  localBackend: (storeDir: string) => RunBackend | Promise<RunBackend>;
  /** Profiles, Kubeflow runtimes and the remembered Kubeflow runs (defaults: the real ones). */
  kubeflow?: KubeflowOptions;
  /** Where JupyterLab's last settings are kept (default: `lab-settings.json` beside the Kubeflow state file). */
  settingsFile?: string;
  /** Extra image build settings for `POST /api/build` (credentials, CA, registry client tuning). */
  build?: Partial<NotebookBuildOptions>;
  /** Where the backend says what it refused at start (e.g. a kept setting); default: stderr. */
  warn?: (message: string) => void;
  /** Where errors the backend did not expect are written with their stack (default: `backend-errors.log` in the
   *  folder of the Kubeflow state file, by default the XDG state folder; see ./error-log.ts); the 500 names it. */
  errorLog?: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** The container target as `GET /api/profiles` reports it: offered, with why it cannot run here if so. */
function containersTarget(): { error?: string } {
  const error = inImagesUnavailable();
  return error ? { error } : {};
}

/** Lines of a log window when the page does not say (`limit`), and the most it may ask for (`limit`, `tail`). */
export const DEFAULT_WINDOW_LINES = 1000;
export const MAX_WINDOW_LINES = 10_000;
/** Characters of a line a window shows when the page does not say (`cut`), and the most it may ask for. */
export const DEFAULT_CUT = 10_000;
export const MAX_CUT = 1_000_000;
/** Most characters of one line sent at once (`/lines/:n`): a 50 MB line comes in slices. */
export const MAX_LINE_SLICE = 1_000_000;

/** An optional whole-number query parameter within [min, max] (400 otherwise). */
function numberParam(url: URL, name: string, bounds: { min: number; max: number; fallback?: number }): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null || text === '') return bounds.fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= bounds.min && value <= bounds.max)) {
    throw new HttpError(400, `'${name}' must be a whole number from ${bounds.min} to ${bounds.max}, got '${text}'`);
  }
  return value;
}

/** Resolves true once the response's buffer drained, false if the client went away first. */
function drainedOrGone(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve(!res.destroyed);
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function flag(value: string | null): boolean {
  return value !== null && ['1', 'true', 'yes', ''].includes(value.toLowerCase());
}

export class Backend {
  private readonly routes: Route[];
  private readonly backends = new Map<string, Promise<RunBackend>>();
  /** Which store holds each run this backend has seen (started or listed). */
  private readonly runIndex = new Map<string, string>();
  /** Runs started by this process and not seen finished: cancelled on shutdown so no step outlives us. */
  private readonly started = new Set<string>();
  /** Notebooks (absolute paths) the user ran as a pipeline through this backend: the only ones it pre-warms. */
  private readonly ranHere = new Set<string>();
  private readonly compile: (text: string, options: CompileOptions) => CompileResult;
  private readonly defaultStoreDir: (notebookAbsPath: string) => string;
  readonly kubeflow: KubeflowTargets;
  /** JupyterLab's settings in force (`PUT /api/settings`). */
  private settings: LabSettings = NO_LAB_SETTINGS;
  private readonly settingsFile: string;
  /** Page versions already reported as not this backend's (each once: every open tab asks at start). */
  private readonly otherPageVersions = new Set<string>();

  private constructor(
    private readonly options: BackendOptions,
    private readonly realRoot: string,
  ) {
    this.compile = options.compile ?? compileNotebook;
    this.defaultStoreDir = options.storeDirFor ?? defaultStoreDirFor;
    this.kubeflow = new KubeflowTargets(options.kubeflow);
    this.settingsFile = options.settingsFile ?? path.join(path.dirname(this.kubeflow.stateFile), 'lab-settings.json');
    const r = (method: string, pattern: RegExp, handler: Handler): Route => ({ method, pattern, handler });
    const seg = '([^/]+)';
    this.routes = [
      r('GET', /^\/api\/health$/, async (_q, res, _p, url) => sendJson(res, 200, this.health(url.searchParams.get('page')))),
      r('POST', /^\/api\/compile$/, (q, s) => this.compileRoute(q, s)),
      r('POST', /^\/api\/prewarm$/, (q, s) => this.prewarmRoute(q, s)),
      r('PUT', /^\/api\/settings$/, (q, s) => this.putSettings(q, s)),
      r('GET', /^\/api\/settings$/, async (_q, res) => sendJson(res, 200, this.settings)),
      r('POST', /^\/api\/profiles$/, (q, s) => this.addProfileRoute(q, s)),
      r('GET', /^\/api\/doctor$/, async (_q, res) => sendJson(res, 200, await (await import('../cli/doctor-checks.js')).doctorReport(this.kubeflow.environment))),
      r('GET', /^\/api\/profiles$/, async (_q, res) => sendJson(res, 200, { ...(await this.kubeflow.summaries()), containers: containersTarget() })),
      r('POST', /^\/api\/build$/, (q, s) => this.buildRoute(q, s)),
      r('POST', /^\/api\/schedules$/, (q, s) => this.createSchedule(q, s)),
      r('GET', /^\/api\/schedules$/, (q, s, p, u) => this.listSchedules(q, s, p, u)),
      r('POST', new RegExp(`^/api/schedules/${seg}/(pause|resume)$`), (q, s, p, u) => this.changeSchedule(q, s, p, u)),
      r('DELETE', new RegExp(`^/api/schedules/${seg}$`), (q, s, p, u) => this.changeSchedule(q, s, [p[0], 'delete'], u)),
      r('POST', /^\/api\/runs$/, (q, s) => this.startRun(q, s)),
      r('GET', /^\/api\/runs$/, (q, s, p, u) => this.listRuns(q, s, p, u)),
      r('GET', new RegExp(`^/api/runs/${seg}$`), (q, s, p, u) => this.getRun(q, s, p, u)),
      r('GET', new RegExp(`^/api/runs/${seg}/events$`), (q, s, p, u) => this.runEvents(q, s, p, u)),
      r('GET', new RegExp(`^/api/runs/${seg}/store$`), async (_q, res, [runId], url) => {
        // Where the run's artifacts are, for `%cellpipe load STEP --run RUN --store DIR` in the notebook's kernel.
        const { backend, record } = await this.locateRun(runId, url);
        sendJson(res, 200, { run: record.id, store: backend.store.dir });
      }),
      r('GET', new RegExp(`^/api/runs/${seg}/logs/${seg}$`), (q, s, p, u) => this.stepLogs(q, s, p, u)),
      r('GET', new RegExp(`^/api/runs/${seg}/logs/${seg}/lines/${seg}$`), (q, s, p, u) => this.stepLogLine(q, s, p, u)),
      r('GET', new RegExp(`^/api/runs/${seg}/outputs$`), (q, s, p, u) => this.runOutputs(q, s, p, u)),
      r('GET', new RegExp(`^/api/runs/${seg}/outputs/${seg}$`), (q, s, p, u) => this.runOutputs(q, s, p, u)),
      r('POST', new RegExp(`^/api/runs/${seg}/export$`), (q, s, p, u) => this.exportRun(q, s, p, u)),
      r('PUT', new RegExp(`^/api/runs/${seg}/note$`), (q, s, p, u) => this.noteRoute(q, s, p, u)),
      r('POST', new RegExp(`^/api/runs/${seg}/cancel$`), (q, s, p, u) => this.cancelRun(q, s, p, u)),
    ];
  }

  /** A backend for `options.root` (which must be an existing directory). */
  static async create(options: BackendOptions): Promise<Backend> {
    const root = path.resolve(options.root);
    const realRoot = await realpath(root);
    const backend = new Backend({ ...options, root }, realRoot);
    // The last settings a page sent: runs on JupyterLab's profiles are watched again too.
    const kept = await readKeptSettings(backend.settingsFile);
    if (kept.refused) (options.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(`cellpipe backend: ${kept.refused}`);
    backend.applySettings(kept.settings);
    // Kubeflow runs this backend submitted before it stopped are watched again.
    backend.resumed = await backend.kubeflow.resume(async (dir) => (await backend.backendFor(dir)).store);
    return backend;
  }

  /** Runs watched again at start, by store directory. */
  resumed: Record<string, string[]> = {};

  get root(): string {
    return this.options.root;
  }

  /** Where unexpected errors are written with their stack. */
  get errorLog(): string {
    return this.options.errorLog ?? path.join(path.dirname(this.kubeflow.stateFile), ERROR_LOG_NAME);
  }

  /** The node:http request listener. Never throws: every failure becomes a JSON error response. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.dispatch(req, res).catch((err) => sendError(res, err, { file: this.errorLog, req: { method: req.method, url: req.url } }));
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await refuseCrossSite(req);
    const url = new URL(req.url ?? '/', 'http://cellpipe.invalid');
    const pathname = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    let allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      if (route.method !== req.method) {
        allowed.push(route.method);
        continue;
      }
      let params: string[];
      try {
        params = m.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        throw new HttpError(400, `malformed URL '${pathname}'`);
      }
      await route.handler(req, res, params, url);
      return;
    }
    if (allowed.length) {
      res.setHeader('allow', allowed.join(', '));
      throw new HttpError(405, `${req.method} is not supported on ${pathname}; use ${allowed.join(' or ')}`);
    }
    throw new HttpError(404, `no such API route: ${req.method} ${pathname}`, 'The cellpipe frontend and backend versions may not match; reinstall cellpipe.');
  }

  /** Cancels the runs this process started that are still going (their steps are our children). */
  async shutdown(): Promise<void> {
    const pending: Promise<unknown>[] = [];
    for (const runId of this.started) {
      pending.push(
        (async () => {
          const { runtime, store } = await this.backendForRun(runId);
          const rec = await store.get(runId);
          if (rec && !isTerminalRun(rec.state)) await runtime.cancel(runId);
        })().catch(() => undefined),
      );
    }
    await Promise.all(pending);
    // Kubeflow runs go on in Kubeflow; only the watching stops.
    await this.kubeflow.close();
  }

  // --- helpers --------------------------------------------------------------------------------------------

  /**
   * What the targets get from the backend for runs into the store of `storeDir()` (known once the notebook is): its
   * runtimes (one per store, one per profile and store) and its bookkeeping.
   */
  private targetHost(storeDir: () => string): TargetHost {
    return {
      localRuntime: async () => (await this.backendFor(storeDir())).runtime,
      profile: (name) => this.kubeflow.profile(name),
      kubeflowRuntime: (profile, store) => this.kubeflow.runtime(profile, store),
      kubeflowRecorded: async (runId, profile) => {
        // Known before it is submitted: `/events` follows the stages, and a restarted backend marks a cut submission.
        this.runIndex.set(runId, storeDir());
        await this.kubeflow.remember(runId, storeDir(), profile.name);
      },
      kubeflowAbandoned: (runId) => this.kubeflow.forget(runId),
    };
  }

  private applySettings(settings: LabSettings): void {
    this.settings = settings;
    this.kubeflow.setLabProfiles(settings.profiles);
  }

  /** Where the runs of a notebook are kept: the `runsDir` setting, else next to the notebook. */
  private storeDirFor(notebookAbsPath: string): string {
    return runsDirFor(this.settings, this.options.root, notebookAbsPath, this.defaultStoreDir);
  }

  /**
   * Which recorded notebook paths are this notebook. Records hold the path as it was given: the backend's relative
   * to the root, the CLI's as typed (`nb.ipynb`, `dir/nb.ipynb`, absolute). In the notebook's own folder store
   * (`<dir>/.cellpipe`) every run is of a notebook of that folder, so the file name tells; in a shared store (the runs
   * folder setting, CELLPIPE_STORE) only the whole path does — else `t/five.ipynb` would list `t3/five.ipynb`'s runs.
   */
  private sameNotebook(nb: ResolvedNotebook, storeDir: string): (recorded: string) => boolean {
    const store = path.resolve(storeDir);
    const own = store === path.join(path.dirname(nb.abs), '.cellpipe') || store === path.join(path.dirname(nb.real), '.cellpipe');
    const base = path.posix.basename(nb.rel);
    return (recorded) => recorded === nb.rel || recorded === nb.abs || recorded === nb.real || (own && path.basename(recorded) === base);
  }

  private resolve(given: string): Promise<ResolvedNotebook> {
    return resolveNotebook(this.options.root, this.realRoot, given);
  }

  private backendFor(storeDir: string): Promise<RunBackend> {
    let b = this.backends.get(storeDir);
    if (!b) {
      b = Promise.resolve().then(() => this.options.localBackend(storeDir));
      b.catch(() => this.backends.delete(storeDir));
      this.backends.set(storeDir, b);
    }
    return b;
  }

  private async backendForRun(runId: string): Promise<RunBackend> {
    const dir = this.runIndex.get(runId);
    if (!dir) throw new HttpError(404, `run '${runId}' not found`);
    return this.backendFor(dir);
  }

  /**
   * The store holding `runId`: the one of `?notebook=` when given, else the one it was seen in, else any store
   * this backend has opened. 404 (with a hint to pass the notebook) when none has it.
   */
  private async locateRun(runId: string, url: URL): Promise<{ backend: RunBackend; record: RunRecord }> {
    const notebook = url.searchParams.get('notebook');
    const candidates: string[] = [];
    if (notebook) candidates.push(this.storeDirFor((await this.resolve(notebook)).abs));
    const known = this.runIndex.get(runId);
    if (known) candidates.push(known);
    if (!notebook) candidates.push(...this.backends.keys());
    for (const dir of new Set(candidates)) {
      const backend = await this.backendFor(dir);
      const record = await backend.store.get(runId);
      if (record) {
        this.runIndex.set(runId, dir);
        return { backend: await this.runtimeForRecord(backend, record), record };
      }
    }
    throw new HttpError(
      404,
      `run '${runId}' not found${notebook ? ` for notebook '${notebook}'` : ''}`,
      notebook ? undefined : 'Add ?notebook=PATH (the notebook the run belongs to).',
    );
  }

  /** Kubeflow records are served by their profile's runtime (live events, cancel in KFP); others by the local one. */
  private async runtimeForRecord(backend: RunBackend, record: RunRecord): Promise<RunBackend> {
    if (record.runtime !== 'kubeflow') return backend;
    const runtime = await this.kubeflow.runtimeFor(record.profile, backend.store).catch(() => undefined);
    if (runtime) return { store: backend.store, runtime };
    return { store: backend.store, runtime: new ProfileGone(record.profile) };
  }

  private async compileFile(nb: ResolvedNotebook): Promise<{ result: CompileResult; bytes: Buffer }> {
    const bytes = await readFile(nb.real);
    let result: CompileResult;
    try {
      result = this.compile(bytes.toString('utf8'), { path: nb.rel, defaultBaseImage: this.settings.defaultBaseImage, readNotebook: notebookReader(nb.real) });
    } catch (err) {
      throw new HttpError(500, `compiling '${nb.rel}' failed unexpectedly: ${(err as Error).message}`, 'This is a bug in cellpipe; please report it with the notebook.');
    }
    return { result, bytes };
  }

  // --- routes ---------------------------------------------------------------------------------------------

  /** `GET /api/health`: this backend's version; a page of another version is said in the Jupyter log. */
  private health(page: string | null): { version: string } {
    const version = this.options.version;
    if (page && page !== version && !this.otherPageVersions.has(page)) {
      this.otherPageVersions.add(page);
      process.stderr.write(`cellpipe backend: a JupyterLab page of cellpipe ${page} talks to this backend of cellpipe ${version}; `
        + 'reload the page, or install one cellpipe for both (pip install --upgrade cellpipe) and restart JupyterLab\n');
    }
    return { version };
  }

  private async putSettings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const settings = parseLabSettings(await readJsonObject(req));
    this.applySettings(settings);
    try {
      await keepSettings(this.settingsFile, settings);
    } catch (err) {
      // In force anyway; only a restarted backend would not know them until the page sends them again.
      process.stderr.write(`cellpipe backend: cannot keep the settings in ${this.settingsFile}: ${(err as Error).message}\n`);
    }
    sendJson(res, 200, { ...(await this.kubeflow.summaries()), containers: containersTarget() });
  }

  /** `POST /api/profiles`: the form's profile into the profiles file, then the picker's list under it. */
  private async addProfileRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { name, settings } = await checkedProfile(await readJsonObject(req), this.kubeflow.environment);
    const file = await this.kubeflow.profilesFile();
    if (!file) throw new HttpError(409, 'this backend reads its profiles from elsewhere, not from a profiles file', 'Add the profile in JupyterLab\'s settings (cellpipe › Kubeflow profiles).');
    if ((await this.kubeflow.summaries()).profiles.some((p) => p.name === name)) {
      throw new HttpError(409, `a profile named '${name}' exists already (in JupyterLab's settings or the profiles file)`, 'Choose another name.');
    }
    await addProfile(file, name, settings);
    sendJson(res, 201, { saved: name, ...(await this.kubeflow.summaries()), file, containers: containersTarget() });
  }

  /** `PUT /api/runs/:id/note`: a person's note on a run, kept in its record. */
  private async noteRoute(req: IncomingMessage, res: ServerResponse, [runId]: string[], url: URL): Promise<void> {
    const checked = checkNote((await readJsonObject(req)).note);
    if ('error' in checked) throw new HttpError(400, checked.error, `Write one line of plain text, at most ${NOTE_MAX_CHARS} characters.`);
    const { backend } = await this.locateRun(runId, url);
    sendJson(res, 200, await backend.store.update(runId, { note: checked.note || undefined }));
  }

  private async compileRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const nb = await this.resolve(requireString(body, 'path'));
    const { result } = await this.compileFile(nb);
    sendJson(res, 200, {
      ok: result.ok,
      path: nb.rel,
      graph: result.graph ?? null,
      diagnostics: result.diagnostics,
      specHash: result.specHash ?? null,
      yaml: result.yaml ?? null,
    });
  }

  private async prewarmRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const nb = await this.resolve(requireString(body, 'path'));
    // Pre-warming runs the imports cells: opening a notebook (a downloaded one too) must not run its code, so only a
    // notebook the user has run as a pipeline in this session is pre-warmed, whatever the page asks.
    if (!this.ranHere.has(nb.abs)) {
      sendJson(res, 200, { warm: false, reason: `${nb.rel} has not been run in this session: opening or saving a notebook never runs its code, its first Run starts the fork server` });
      return;
    }
    const { result } = await this.compiled(nb);
    const storeDir = this.storeDirFor(nb.abs);
    const target = await openTarget('local', this.targetHost(() => storeDir));
    if (!target.capabilities.prewarm || !target.prewarm) {
      sendJson(res, 200, { warm: false, reason: 'this backend runs no local steps' });
      return;
    }
    const { store } = await this.backendFor(storeDir);
    sendJson(res, 200, await target.prewarm({ store, compiled: result, workdir: path.dirname(nb.abs) }));
  }

  /** Compiles the notebook; a 422 naming the first error (cell, line) when it does not compile. */
  private async compiled(nb: ResolvedNotebook): Promise<{ result: CompileResult & { graph: NonNullable<CompileResult['graph']> }; bytes: Buffer }> {
    const { result, bytes } = await this.compileFile(nb);
    if (!result.ok || !result.graph) {
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      const first = errors[0];
      const where = first?.cell !== undefined ? ` (${cellLabel(first.cell, first.line)})` : '';
      throw new HttpError(
        422,
        first ? `the notebook does not compile: ${first.message}${where}` : 'the notebook does not compile',
        first?.hint ?? (errors.length > 1 ? `${errors.length} errors; they are shown on the cells.` : undefined),
        { diagnostics: result.diagnostics },
      );
    }
    return { result: result as CompileResult & { graph: NonNullable<CompileResult['graph']> }, bytes };
  }

  private async startRun(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const given = requireString(body, 'path');
    const name = body.target ?? 'local';
    if (typeof name !== 'string' || !name) {
      throw new HttpError(400, `field 'target' must be "local" or a profile name, got ${JSON.stringify(name)}`);
    }
    if (body.cache !== undefined && typeof body.cache !== 'boolean') {
      throw new HttpError(400, "field 'cache' must be true or false");
    }
    const selection = readPartialSelection(body);
    let storeDir = '';
    const target = await openTarget(name, this.targetHost(() => storeDir));
    const nb = await this.resolve(given);
    const { result, bytes } = await this.compiled(nb);
    this.ranHere.add(nb.abs); // the user asked to run its code: pre-warming it later runs nothing they did not
    storeDir = this.storeDirFor(nb.abs);
    const input: RunInput = {
      path: nb.real,
      shown: nb.rel,
      bytes,
      compiled: result,
      parameters: bindParameters(result.graph.parameters, body.parameters),
      ...(typeof body.cache === 'boolean' ? { cache: body.cache } : {}),
      ...(selection ? { selection } : {}),
      store: (await this.backendFor(storeDir)).store,
      workdir: path.dirname(nb.abs),
      sameNotebook: this.sameNotebook(nb, storeDir),
      concurrency: this.settings.concurrency,
      defaultBaseImage: this.settings.defaultBaseImage,
    };
    const { runId, warnings } = await startOn(target, input);
    this.runIndex.set(runId, storeDir);
    // Steps of this machine are our children: stopped when the backend stops.
    if (!target.capabilities.detached) this.started.add(runId);
    sendJson(res, 201, { runId, run: (await input.store.get(runId)) ?? null, warnings });
  }

  private async buildRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const nb = await this.resolve(requireString(body, 'path'));
    const profile = await this.kubeflow.profile(requireString(body, 'profile'));
    if (!profile.registry) {
      throw new HttpError(400, `profile '${profile.name}' has no 'registry'`, 'Set where step images are pushed in the profiles file (e.g. registry: registry.example.com/team/pipelines).');
    }
    const { result } = await this.compiled(nb);
    const { buildNotebookImages } = await import('../images/notebook.js');
    const stream = new EventStream(res);
    let lastBytes = 0;
    try {
      const built = await buildNotebookImages(result, path.dirname(nb.real), {
        ...this.options.build,
        registry: profile.registry,
        base: profile.baseImage,
        insecure: profile.insecureRegistry,
        onProgress: (e: BuildProgress) => {
          if (e.kind === 'bytes') {
            const now = Date.now();
            if (now - lastBytes < 100) return;
            lastBytes = now;
          }
          stream.send('progress', e);
        },
      });
      // Which files the steps read went into the images, and which did not (with the warnings on their cells).
      const { outcomes, declared, bytes, limitBytes, diagnostics } = built.files;
      stream.send('result', { images: built.images, steps: built.steps, bytesUp: built.stats.bytesUp, files: { outcomes, declared, bytes, limitBytes, diagnostics } });
    } catch (err) {
      stream.send('error', { error: (err as Error).message, hint: `Check that ${profile.registry} is reachable and that your credentials for it are set up (docker login).` });
    } finally {
      stream.close();
    }
  }

  // --- schedules (recurring runs on a Kubeflow profile) ----------------------------------------------------

  private async createSchedule(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const nb = await this.resolve(requireString(body, 'path'));
    const profile = await this.kubeflow.profile(requireString(body, 'profile'));
    const options = scheduleOptions(body);
    const { result } = await this.compiled(nb);
    const parameters = bindParameters(result.graph.parameters, body.parameters);
    const { store } = await this.backendFor(this.storeDirFor(nb.abs));
    const runtime = await this.kubeflow.runtime(profile, store);
    const { scheduleNotebook } = await import('../runtimes/kubeflow/schedule.js');
    try {
      const made = await scheduleNotebook(runtime, { ...options, notebookPath: nb.real, shownPath: nb.rel, parameters, defaultBaseImage: this.settings.defaultBaseImage });
      sendJson(res, 201, { schedule: scheduleView(made.recurringRun, profile.name, made.url), next: made.next.map((t) => t.toISOString()) });
    } catch (err) {
      throw scheduleHttpError(err);
    }
  }

  /** The notebook's schedules on a profile; the runs KFP made for them join the run store as Kubeflow runs. */
  private async listSchedules(_req: IncomingMessage, res: ServerResponse, _p: string[], url: URL): Promise<void> {
    const notebook = url.searchParams.get('notebook');
    const name = url.searchParams.get('profile');
    if (!notebook || !name) throw new HttpError(400, "query parameters 'notebook' and 'profile' are required", 'GET /api/schedules?notebook=PATH&profile=NAME');
    const nb = await this.resolve(notebook);
    const profile = await this.kubeflow.profile(name);
    const storeDir = this.storeDirFor(nb.abs);
    const { store } = await this.backendFor(storeDir);
    const runtime = await this.kubeflow.runtime(profile, store);
    const { notebookSchedules, recordScheduledRuns } = await import('../runtimes/kubeflow/schedule.js');
    try {
      const client = await runtime.kfp();
      const namespace = (await client.healthz()).multi_user === false ? undefined : profile.namespace;
      const schedules = await notebookSchedules(client, namespace, [nb.rel, nb.abs, nb.real]);
      const recorded = await recordScheduledRuns(runtime, schedules, namespace);
      for (const id of recorded) {
        this.runIndex.set(id, storeDir);
        await this.kubeflow.remember(id, storeDir, profile.name);
      }
      sendJson(res, 200, { schedules: schedules.map((s) => scheduleView(s, profile.name, client.recurringRunUrl(s.recurring_run_id))), recorded });
    } catch (err) {
      throw scheduleHttpError(err);
    }
  }

  private async changeSchedule(_req: IncomingMessage, res: ServerResponse, [id, action]: string[], url: URL): Promise<void> {
    const name = url.searchParams.get('profile');
    if (!name) throw new HttpError(400, "query parameter 'profile' is required (the profile the schedule is on)");
    const profile = await this.kubeflow.profile(name);
    const client = await this.kubeflow.client(profile);
    try {
      if (action === 'delete') {
        const { deleteSchedule } = await import('../runtimes/kubeflow/schedule.js');
        await deleteSchedule(client, id, (await client.healthz()).multi_user === false ? undefined : profile.namespace);
        sendJson(res, 200, { deleted: id });
        return;
      }
      await client.setRecurringRunEnabled(id, action === 'resume');
      const now = await client.getRecurringRun(id);
      sendJson(res, 200, { schedule: scheduleView(now, profile.name, client.recurringRunUrl(id)) });
    } catch (err) {
      throw scheduleHttpError(err);
    }
  }

  private async listRuns(_req: IncomingMessage, res: ServerResponse, _p: string[], url: URL): Promise<void> {
    const notebook = url.searchParams.get('notebook');
    if (!notebook) throw new HttpError(400, "query parameter 'notebook' is required", 'GET /api/runs?notebook=PATH');
    const nb = await this.resolve(notebook);
    const storeDir = this.storeDirFor(nb.abs);
    const { store } = await this.backendFor(storeDir);
    // A run whose record is damaged is listed apart (file, line, what is wrong), never breaking the others.
    const same = this.sameNotebook(nb, storeDir);
    const { runs, damaged } = await store.scan({ notebook: same });
    const partOf = await composedRuns(store, same);
    for (const r of [...runs, ...partOf.map((p) => p.run)]) this.runIndex.set(r.id, storeDir);
    sendJson(res, 200, { runs, damaged, partOf });
  }

  private async getRun(_req: IncomingMessage, res: ServerResponse, [runId]: string[], url: URL): Promise<void> {
    const { record } = await this.locateRun(runId, url);
    sendJson(res, 200, record);
  }

  private async runEvents(_req: IncomingMessage, res: ServerResponse, [runId]: string[], url: URL): Promise<void> {
    const { backend, record } = await this.locateRun(runId, url);
    const stream = new EventStream(res);
    let last: RunRecord | undefined;
    // A Kubeflow run nobody in this process watches (e.g. `cellpipe submit` without --watch): its state is asked
    // from KFP every few seconds while someone listens (no-op for runs this backend watches). Logs come only
    // from a watcher.
    let refresh: NodeJS.Timeout | undefined;
    if (record.runtime === 'kubeflow' && !isTerminalRun(record.state)) {
      const ask = () => void backend.runtime.status(runId).catch(() => undefined);
      ask();
      refresh = setInterval(ask, this.kubeflow.refreshMs);
    }
    try {
      for await (const record of watchRun(backend.store, backend.runtime, runId, stream.signal)) {
        last = record;
        if (!stream.send('run', record) || !(await stream.drained())) break;
      }
      if (last && isTerminalRun(last.state)) stream.send('end', { state: last.state });
    } finally {
      clearInterval(refresh);
      stream.close();
    }
  }

  private async runOutputs(_req: IncomingMessage, res: ServerResponse, [runId, step]: string[], url: URL): Promise<void> {
    const { backend, record } = await this.locateRun(runId, url);
    if (step === undefined) {
      const steps: Record<string, { fromRun: string; cells: unknown; sources?: Record<string, string> }> = {};
      // One step's outputs gone (deleted by hand, a cleanup) leaves the others to show; `unreadable` says which and why.
      const unreadable: Record<string, string> = {};
      for (const s of readRunCellOutputs(backend.store, record, unreadable)) steps[s.step] = { fromRun: s.fromRun, cells: s.cells, sources: s.sources };
      sendJson(res, 200, { run: record.id, steps, ...(Object.keys(unreadable).length ? { unreadable } : {}) });
      return;
    }
    if (!record.steps.some((s) => s.name === step)) {
      throw new HttpError(404, `run '${runId}' has no step '${step}'`, `Its steps are: ${record.steps.map((s) => s.name).join(', ') || 'none'}.`);
    }
    let got;
    try {
      got = readStepCellOutputs(backend.store, record, step);
    } catch (err) {
      const message = (err as Error).message;
      throw new HttpError(/ are gone: /.test(message) ? 410 : 422, message, 'Run the step again to record its outputs anew.');
    }
    sendJson(res, 200, got ? { run: record.id, step, recorded: true, fromRun: got.fromRun, cells: got.cells, sources: got.sources } : { run: record.id, step, recorded: false, cells: {} });
  }

  private async exportRun(_req: IncomingMessage, res: ServerResponse, [runId]: string[], url: URL): Promise<void> {
    const notebook = url.searchParams.get('notebook');
    if (!notebook) throw new HttpError(400, "query parameter 'notebook' is required", 'POST /api/runs/:id/export?notebook=PATH');
    const nb = await this.resolve(notebook);
    const { backend, record } = await this.locateRun(runId, url);
    let result;
    try {
      result = executedRun(backend.store, record, await readFile(nb.real), nb.rel);
    } catch (err) {
      throw new HttpError(409, `cannot export run ${runId}: ${(err as Error).message}`);
    }
    const name = executedFileName(nb.rel, record.id);
    // File names stop at 255 bytes: say so, rather than failing on the write (with room for the temporary suffix).
    if (Buffer.byteLength(name) > 255 - 16) {
      throw new HttpError(
        400,
        `cannot export run ${runId}: the executed notebook's name would be ${Buffer.byteLength(name)} bytes ('<notebook name>.${record.id}.ipynb'), more than a file name can have (255)`,
        `Rename the notebook to a shorter name (at most ${255 - 16 - Buffer.byteLength(`.${record.id}.ipynb`)} bytes), or export from a terminal: cellpipe export ${record.id} -o SHORTER.ipynb.`,
      );
    }
    const out = path.join(path.dirname(nb.abs), name);
    const tmp = `${out}.tmp-${process.pid}`;
    await writeFile(tmp, executedText(result));
    await rename(tmp, out);
    sendJson(res, 200, { path: path.posix.join(path.posix.dirname(nb.rel), name), filled: result.filled, notes: result.notes });
  }

  /** The run and step a log route names (404 for a step the run does not have). */
  private async locateStep(runId: string, step: string, url: URL): Promise<{ backend: RunBackend; record: RunRecord }> {
    const found = await this.locateRun(runId, url);
    if (!found.record.steps.some((s) => s.name === step)) {
      const names = found.record.steps.map((s) => s.name).join(', ');
      throw new HttpError(404, `run '${runId}' has no step '${step}'`, `Its steps are: ${names || 'none'}.`);
    }
    return found;
  }

  private async stepLogs(req: IncomingMessage, res: ServerResponse, [runId, step]: string[], url: URL): Promise<void> {
    const { backend } = await this.locateStep(runId, step, url);
    const follow = flag(url.searchParams.get('follow'));
    const format = url.searchParams.get('format') ?? 'sse';
    // Line numbers are 0-based indexes into the step's log; an event's id is its line's index, so a client
    // reconnecting with Last-Event-ID: N resumes at line N + 1 (the same as asking for from=N+1).
    const lastId = req.headers['last-event-id'] as string | undefined;
    const fromText = lastId !== undefined && /^\d+$/.test(lastId) ? String(Number(lastId) + 1) : (url.searchParams.get('from') ?? '0');
    if (!/^\d+$/.test(fromText)) throw new HttpError(400, `'from' must be a line index (0 or more), got '${fromText}'`);
    const fromLine = Number(fromText);
    if (format !== 'sse' && format !== 'text' && format !== 'json') {
      throw new HttpError(400, `unknown format '${format}'`, 'Use format=text or format=json, or leave it out for an event stream.');
    }
    if (format !== 'sse' && follow) throw new HttpError(400, `follow=1 needs the event stream; leave out format=${format}`);
    const cut = numberParam(url, 'cut', { min: 100, max: MAX_CUT, fallback: format === 'json' ? DEFAULT_CUT : undefined });

    if (format === 'json') {
      // A window, never the whole log: a 1e6-line log is read a page at a time (logWindow.ts).
      const tail = numberParam(url, 'tail', { min: 0, max: MAX_WINDOW_LINES });
      if (tail !== undefined && url.searchParams.has('from')) throw new HttpError(400, "give 'from' or 'tail', not both");
      const limit = numberParam(url, 'limit', { min: 0, max: MAX_WINDOW_LINES, fallback: DEFAULT_WINDOW_LINES })!;
      const window = await readLogWindow(backend.store.logFile(runId, step), { from: fromLine, tail, limit, cut: cut! });
      sendJson(res, 200, window);
      return;
    }
    if (format === 'text') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      for await (const line of backend.store.readLogs(runId, step, { fromLine, signal: gone.signal })) {
        // Paced by the client: the next lines are read only once the socket took these.
        if (!res.write(line.text + '\n') && !(await drainedOrGone(res))) break;
      }
      res.end();
      return;
    }
    const stream = new EventStream(res);
    let next = fromLine;
    try {
      const lines = follow
        ? tailLog(backend.store, backend.runtime, runId, step, fromLine, stream.signal)
        : backend.store.readLogs(runId, step, { fromLine, signal: stream.signal });
      for await (const line of lines) {
        const sent = cut !== undefined && line.text.length > cut ? { ...line, text: line.text.slice(0, cut), cut: Buffer.byteLength(JSON.stringify(line)) } : line;
        if (!stream.send('line', sent, next++)) break;
        // A slow reader slows the reading of the log instead of filling the backend's memory.
        if (!(await stream.drained())) break;
      }
      if (!stream.closed) {
        const now = await backend.store.get(runId);
        stream.send('end', { lines: next, state: now?.steps.find((s) => s.name === step)?.state ?? null });
      }
    } finally {
      stream.close();
    }
  }

  /** One line of a step's log, whole (or `start`/`length` characters of it): what "show all" of a cut line asks for. */
  private async stepLogLine(_req: IncomingMessage, res: ServerResponse, [runId, step, n]: string[], url: URL): Promise<void> {
    const { backend } = await this.locateStep(runId, step, url);
    if (!/^\d+$/.test(n)) throw new HttpError(400, `a line index (0 or more) was expected, got '${n}'`);
    const start = numberParam(url, 'start', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 })!;
    const length = numberParam(url, 'length', { min: 1, max: MAX_LINE_SLICE, fallback: MAX_LINE_SLICE })!;
    const line = await readLogLine(backend.store.logFile(runId, step), Number(n), start, length);
    if (!line) throw new HttpError(404, `step '${step}' of run '${runId}' has no line ${n} (its lines are numbered from 0)`);
    sendJson(res, 200, line);
  }

  private async cancelRun(_req: IncomingMessage, res: ServerResponse, [runId]: string[], url: URL): Promise<void> {
    const { backend, record } = await this.locateRun(runId, url);
    if (isTerminalRun(record.state)) {
      throw new HttpError(409, `run '${runId}' already ${record.state}; there is nothing to cancel`);
    }
    await backend.runtime.cancel(runId);
    const after = await backend.store.get(runId);
    sendJson(res, 202, after ?? record);
  }
}

/** A Kubeflow run whose profile is no longer defined: readable from the store, not controllable. */
class ProfileGone implements Runtime {
  constructor(private readonly profile: string | undefined) {}
  private fail(): never {
    throw new HttpError(409, `the run's profile '${this.profile ?? '?'}' is no longer in the profiles file`, 'Add the profile back to control this run.');
  }
  submit(): Promise<string> {
    this.fail();
  }
  status(): Promise<RunRecord> {
    this.fail();
  }
  // eslint-disable-next-line require-yield
  async *logs(): AsyncIterable<LogLine> {
    this.fail();
  }
  cancel(): Promise<void> {
    this.fail();
  }
}

/**
 * Runs of other notebooks that composed this one (Kale 2.3's `notebook:` cells; `same` tells this notebook's recorded
 * paths): each with the units its steps ran as, so the page can show that run's steps of this notebook under its
 * cells. A referenced notebook's path is recorded relative to the composing notebook's folder. Only the store of this
 * notebook is looked in: a composing notebook in another folder keeps its runs in its own store.
 */
async function composedRuns(store: RunStore, same: (recorded: string) => boolean): Promise<{ run: RunRecord; units: string[] }[]> {
  const { runs } = await store.scan({ notebook: (n) => !same(n) });
  const out: { run: RunRecord; units: string[] }[] = [];
  for (const run of runs) {
    const folder = path.posix.dirname(run.notebook.replace(/\\/g, '/'));
    const units = [...new Set(run.steps.filter((st) => st.unit && same(path.posix.normalize(path.posix.join(folder, st.unit.notebook)))).map((st) => st.unit!.name))];
    if (units.length) out.push({ run, units });
  }
  return out;
}
