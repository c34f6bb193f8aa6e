/**
 * A fake Kubeflow Pipelines API server (v2beta1) for tests and the benchmark, on 127.0.0.1.
 *
 * It is contract-checked, not trusted: every request is matched to an operation of KFP's published swagger
 * documents and its query, path and JSON body are checked against them strictly (./swagger.ts); every response it
 * sends is checked against the operation's response schema too. Violations are answered with HTTP 400 (requests)
 * or 500 (responses) and collected in `violations` so a test can assert there were none. Uploaded pipeline specs
 * are parsed by KFP's real protos in Python (`test/fakes/kfp/validate_spec.py`), and run creation applies the
 * backend's runtime-parameter rules (required inputs, JSON kinds, no extra names).
 *
 * Behaviour modelled on the KFP backend (2.x): upload = pipeline + first version named like the pipeline;
 * 409 on duplicate pipeline or version names; multi-user mode needs namespaces and checks them against the
 * caller's token; run state goes PENDING → RUNNING → SUCCEEDED/FAILED, tasks in DAG order, with Argo-like
 * `task_details` (root, drivers, DAG node per task, `executor` child); terminate → CANCELING → FAILED.
 * Recurring runs as KFP 2.17 checks them (max concurrency 1–10, a 5- or 6-field cron, a name, an experiment in
 * multi-user mode, the runtime parameters), answered as `kfp-real serve` answers (the list key `recurringRuns`,
 * `no_catchup` left out when false, namespace `kubeflow` in single-user mode); `fire()` makes the run KFP's
 * scheduled-workflow controller would make, carrying the schedule's `recurring_run_id`.
 * The one documented deviation from the swagger: the multipart upload handler's error bodies are
 * `{"error_message", "error_details"}` (`pipeline_upload_server.go: writeErrorToResponse`), not `googleRpcStatus`.
 */
import http from 'node:http';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { JsonValue } from '../../core/model.js';
import type { KfpRecurringRun, KfpRun, KfpRuntimeState, KfpTaskDetail } from '../client.js';
import { SwaggerContract } from './swagger.js';

export interface FakeKfpOptions {
  /** Multi-user mode: namespaces required, experiments and runs namespaced. */
  multiUser?: boolean;
  /** When set, requests need `Authorization: Bearer <token>`; the value lists the namespaces the token may use. */
  tokens?: Record<string, string[]>;
  /** Validate uploaded specs with the real protos (default true). */
  validateSpecs?: boolean;
  /** Python with kfp-pipeline-spec (default `<repo>/.venv/bin/python`). */
  python?: string;
  /** `auto` (default): each GET of a run advances it one tick; `manual`: only `advance()` does. */
  progress?: 'auto' | 'manual';
  /** Tasks that fail when they run. */
  failTasks?: string[];
  /** Tasks reported as cache hits (SKIPPED). */
  cachedTasks?: string[];
  /** Fixed port (default: any free one). */
  port?: number;
  /** Timestamps: `fixed` (default) counts seconds from 2026-01-01, so tests see the same times every run; `real`
   *  is the wall clock (for a page a person looks at). */
  clock?: 'fixed' | 'real';
}

interface StoredVersion {
  version: { pipeline_id: string; pipeline_version_id: string; name: string; display_name: string; description?: string; created_at: string };
  yaml: string;
  spec: Record<string, unknown>;
  /** The Kubernetes platform document, when the spec has one. */
  platform?: Record<string, unknown>;
}

/** A version as KFP answers it: with its spec, and `{pipeline_spec, platform_spec}` when there is a platform document. */
function versionJson(v: StoredVersion): Record<string, unknown> {
  return { ...v.version, pipeline_spec: v.platform ? { pipeline_spec: v.spec, platform_spec: v.platform } : v.spec };
}

export interface StoredRun {
  run: KfpRun;
  namespace: string;
  /** The pipeline spec the run was created from (and its Kubernetes platform document, if any): what executes it reads these. */
  spec: Record<string, unknown>;
  platform?: Record<string, unknown>;
  order: string[];
  deps: Record<string, string[]>;
  tasks: Record<string, KfpRuntimeState>;
  tick: number;
  terminating: boolean;
  /** When each task was first seen running and ended (real clock only). */
  times: Record<string, { start?: string; end?: string }>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** One request as the fake saw it (for tests that assert what the client sent). */
export interface SeenRequest {
  method: string;
  path: string;
  operation?: string;
  query: Record<string, string>;
  authorization?: string;
  status: number;
}

export class FakeKfpServer {
  readonly contract = new SwaggerContract();
  readonly violations: string[] = [];
  readonly requests: SeenRequest[] = [];
  readonly options: FakeKfpOptions;
  readonly experiments = new Map<string, { experiment_id: string; display_name: string; description?: string; namespace?: string; created_at: string; storage_state: string; last_run_created_at: string }>();
  readonly pipelines = new Map<string, { pipeline: { pipeline_id: string; name: string; display_name: string; description?: string; namespace?: string; created_at: string }; versions: StoredVersion[] }>();
  readonly runs = new Map<string, StoredRun>();
  /** Recurring runs (schedules): stored, enabled, disabled and listed; they fire only when a test calls `fire()`. */
  readonly recurringRuns = new Map<string, KfpRecurringRun>();
  /** Number of specs the proto validator accepted. */
  specsValidated = 0;
  private server?: http.Server;
  private port = 0;
  private python?: ChildProcessWithoutNullStreams;
  private pending = new Map<number, (r: { ok: boolean; error?: string }) => void>();
  private nextId = 1;
  private clock: number;

  constructor(options: FakeKfpOptions = {}) {
    this.options = { validateSpecs: true, progress: 'auto', ...options };
    this.clock = Date.UTC(2026, 0, 1);
    if (!this.options.multiUser) {
      // Single-user KFP makes this experiment at start-up (runs without one go there).
      const id = randomUUID();
      this.experiments.set(id, {
        experiment_id: id, display_name: 'Default', description: 'All runs created without specifying an experiment will be grouped here.',
        created_at: this.now(), storage_state: 'AVAILABLE', last_run_created_at: UNSET_TIME,
      });
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts listening (again, on the same port after `stop()`; state is kept). */
  async start(): Promise<string> {
    const server = http.createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        this.violations.push(`fake crashed on ${req.method} ${req.url}: ${(err as Error).stack}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port || this.options.port || 0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this.url;
  }

  /** Stops listening (KFP "goes away"); state is kept for a later `start()`. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Stops listening and the spec validator. */
  async close(): Promise<void> {
    await this.stop();
    this.python?.stdin.end();
    this.python?.kill();
    this.python = undefined;
  }

  private now(): string {
    if (this.options.clock === 'real') return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.clock += 1000;
    return new Date(this.clock).toISOString().replace('.000Z', 'Z');
  }

  private async validateSpec(yaml: string): Promise<{ ok: boolean; error?: string }> {
    if (!this.options.validateSpecs) return { ok: true };
    if (!this.python) {
      const py = spawn(this.options.python ?? `${REPO}.venv/bin/python`, [`${REPO}test/fakes/kfp/validate_spec.py`], { stdio: ['pipe', 'pipe', 'pipe'] });
      py.on('error', (err) => this.violations.push(`spec validator did not start: ${err.message}`));
      createInterface({ input: py.stdout }).on('line', (line) => {
        const r = JSON.parse(line) as { id: number; ok: boolean; error?: string };
        this.pending.get(r.id)?.(r);
        this.pending.delete(r.id);
      });
      let errText = '';
      py.stderr.on('data', (c: Buffer) => (errText += c.toString()));
      py.on('exit', (code) => {
        for (const f of this.pending.values()) f({ ok: false, error: `spec validator exited (${code}): ${errText.slice(-500)}` });
        this.pending.clear();
      });
      this.python = py;
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.python!.stdin.write(JSON.stringify({ id, yaml }) + '\n');
    });
  }

  // ---------------------------------------------------------------- HTTP plumbing

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const match = this.contract.match(method, url.pathname);
    const seen: SeenRequest = {
      method, path: url.pathname, operation: match?.op.operationId, query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization ? 'Bearer ***' : undefined, status: 0,
    };
    this.requests.push(seen);
    const isUpload = match?.op.operationId === 'UploadPipeline' || match?.op.operationId === 'UploadPipelineVersion';
    const send = (status: number, body: unknown) => {
      seen.status = status;
      if (match && !(isUpload && status >= 400)) {
        const problems = this.contract.checkResponse(match.op, status, withoutUndocumented(match.op.operationId, body));
        if (problems.length) {
          this.violations.push(`response of ${match.op.operationId} violates the swagger: ${problems.join('; ')}`);
          status = 500;
          body = { code: 13, message: `fake produced an invalid response: ${problems.join('; ')}`, details: [] };
        }
      }
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    // KFP's grpc-gateway errors carry the status once more in `details`; the upload handler's carry the error chain
    // (and, in KFP, a Go stack trace) in `error_details`.
    const fail = (status: number, code: number, message: string) =>
      isUpload
        ? send(status, { error_message: message, error_details: `${message}\n${FAKE_STACK}` })
        : send(status, { code, message, details: [{ '@type': 'type.googleapis.com/google.rpc.Status', code, message }] });

    if (!match) {
      this.violations.push(`no swagger operation for ${method} ${url.pathname}`);
      return fail(404, 5, `Not Found: ${method} ${url.pathname}`);
    }
    // KFP ignores query parameters it does not know; the fake answers the same but records them as violations,
    // so a client sending one is still caught.
    const queryProblems = this.contract.checkQuery(match.op, url.searchParams);
    const unknownQuery = queryProblems.filter((q) => q.startsWith('query parameter '));
    if (unknownQuery.length) this.violations.push(`request ${match.op.operationId} violates the swagger: ${unknownQuery.join('; ')}`);
    const problems = queryProblems.filter((q) => !unknownQuery.includes(q));
    let body: unknown;
    let upload: { filename: string; data: Buffer } | undefined;
    const type = req.headers['content-type'] ?? '';
    if (isUpload) {
      upload = parseMultipart(type, raw, 'uploadfile');
      if (!upload) problems.push("multipart form field 'uploadfile' with a filename is missing");
    } else if (raw.length) {
      if (!type.startsWith('application/json')) problems.push(`Content-Type must be application/json, got '${type}'`);
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        problems.push('the body is not JSON');
      }
    }
    const bodyProblems = isUpload ? [] : this.contract.checkBody(match.op, body);
    if (problems.length || bodyProblems.length) {
      this.violations.push(`request ${match.op.operationId} violates the swagger: ${[...problems, ...bodyProblems].join('; ')}`);
      // KFP's marshaler refuses an unknown field before any handler runs: a bare status without details.
      if (bodyProblems.length && !problems.length) {
        return send(400, { code: 3, message: `proto: ${bodyProblems.join('; ')}` });
      }
      return fail(400, 3, `Invalid input error: ${[...problems, ...bodyProblems].join('; ')}`);
    }
    // Authentication (TokenReview in real KFP).
    let allowed: string[] | undefined;
    if (this.options.tokens && match.op.operationId !== 'HealthzService_GetHealthz') {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      allowed = m ? this.options.tokens[m[1]] : undefined;
      // KFP 2.17's upload handler answers any refusal with a bare 400, its reason dropped (seen on its own server).
      if (!allowed && isUpload) return fail(400, 3, uploadRefusal(match.op.operationId));
      if (!allowed) return fail(401, 16, 'Unauthenticated: Request header error: there is no user identity header.: Failed to authenticate token review');
    }
    const authorize = (namespace: string | undefined, verb: string, resource: string): boolean => {
      if (!allowed || !namespace) return true;
      if (allowed.includes(namespace)) return true;
      if (isUpload) {
        fail(400, 3, uploadRefusal(match.op.operationId));
        return false;
      }
      // As KFP 2.17's own server words it (RBAC gives no reason).
      fail(403, 7,
        `Failed to authorize with API: Failed to authorize with API: PermissionDenied: User 'system:serviceaccount:x:y' is not authorized with reason:  ` +
          `(request: &ResourceAttributes{Namespace:${namespace},Verb:${verb},Group:pipelines.kubeflow.org,Version:v1beta1,Resource:${resource},Subresource:,Name:,FieldSelector:nil,LabelSelector:nil,}): Unauthorized access`);
      return false;
    };
    const q = url.searchParams;
    const p = match.params;
    const multi = this.options.multiUser === true;
    switch (match.op.operationId) {
      case 'HealthzService_GetHealthz':
        return send(200, { commit_sha: 'unknown', tag_name: 'unknown', multi_user: multi, pipeline_store: 'database' });
      case 'ExperimentService_ListExperiments': {
        const ns = q.get('namespace') ?? '';
        if (multi && !ns) return fail(400, 3, 'Invalid input error: An experiment cannot have an empty namespace in multi-user mode');
        if (!authorize(ns, 'list', 'experiments')) return;
        let list = [...this.experiments.values()].filter((e) => !multi || e.namespace === ns);
        list = applyFilter(list, q.get('filter'));
        return send(200, list.length ? { experiments: list, total_size: list.length } : {});
      }
      case 'ExperimentService_CreateExperiment': {
        const b = body as { display_name?: string; description?: string; namespace?: string };
        if (!b.display_name) return fail(400, 3, 'Invalid input error: Experiment name is empty. Please specify a valid experiment name');
        const ns = multi ? b.namespace ?? '' : '';
        if (multi && !ns) return fail(400, 3, 'Invalid input error: An experiment cannot have an empty namespace in multi-user mode');
        if (!authorize(ns, 'create', 'experiments')) return;
        if ([...this.experiments.values()].some((e) => e.display_name === b.display_name && (e.namespace ?? '') === ns)) {
          return fail(409, 6, `Already exist error: Failed to create a new experiment. The name ${b.display_name} already exists`);
        }
        const e = { experiment_id: randomUUID(), display_name: b.display_name, ...(b.description ? { description: b.description } : {}), ...(ns ? { namespace: ns } : {}), created_at: this.now(), storage_state: 'AVAILABLE', last_run_created_at: UNSET_TIME };
        this.experiments.set(e.experiment_id, e);
        return send(200, e);
      }
      case 'ExperimentService_GetExperiment': {
        const e = this.experiments.get(p.experiment_id);
        return e ? send(200, e) : fail(404, 5, `Experiment ${p.experiment_id} not found`);
      }
      case 'PipelineService_GetPipelineByName': {
        const ns = multi ? q.get('namespace') ?? '' : '';
        if (!authorize(ns, 'get', 'pipelines')) return;
        // KFP 2.17: without a namespace the first pipeline of that name in any namespace is found.
        const found = [...this.pipelines.values()].find((x) => x.pipeline.name === p.name && (!ns || (x.pipeline.namespace ?? '') === ns));
        return found ? send(200, found.pipeline) : fail(404, 5, `Not found: Pipeline with name ${p.name} and namespace '${ns}' not found`);
      }
      case 'PipelineService_ListPipelines': {
        // Only what the client asks (its access to a namespace after a refused upload): one page, no filter.
        const ns = multi ? q.get('namespace') ?? '' : '';
        if (!authorize(ns, 'list', 'pipelines')) return;
        const found = [...this.pipelines.values()].filter((x) => (x.pipeline.namespace ?? '') === ns).map((x) => x.pipeline);
        const size = Number(q.get('page_size') ?? '20') || 20;
        return send(200, { ...(found.length ? { pipelines: found.slice(0, size) } : {}), total_size: found.length });
      }
      case 'PipelineService_GetPipeline': {
        const x = this.pipelines.get(p.pipeline_id);
        return x ? send(200, x.pipeline) : fail(404, 5, `Pipeline ${p.pipeline_id} not found`);
      }
      case 'PipelineService_ListPipelineVersions': {
        const x = this.pipelines.get(p.pipeline_id);
        if (!x) return fail(404, 5, `Pipeline ${p.pipeline_id} not found`);
        let versions = x.versions;
        if (q.get('sort_by') === 'created_at desc') versions = versions.slice().reverse();
        versions = applyFilter(versions.map((v) => ({ ...v.version, stored: v })), q.get('filter')).map((v) => v.stored);
        const size = Number(q.get('page_size') ?? '20') || 20;
        const start = Number(q.get('page_token') ?? '0') || 0;
        const page = versions.slice(start, start + size).map(versionJson);
        return send(200, { ...(page.length ? { pipeline_versions: page } : {}), total_size: versions.length, ...(start + size < versions.length ? { next_page_token: String(start + size) } : {}) });
      }
      case 'PipelineService_GetPipelineVersion': {
        const v = this.pipelines.get(p.pipeline_id)?.versions.find((x) => x.version.pipeline_version_id === p.pipeline_version_id);
        return v ? send(200, versionJson(v)) : fail(404, 5, `Pipeline version ${p.pipeline_version_id} not found`);
      }
      case 'UploadPipeline':
      case 'UploadPipelineVersion': {
        if (!/\.ya?ml$|\.json$/.test(upload!.filename)) return fail(400, 3, 'Failed to read a pipeline spec file');
        const yaml = upload!.data.toString('utf8');
        const checked = await this.validateSpec(yaml);
        if (!checked.ok) {
          this.violations.push(`uploaded spec rejected by the KFP protos: ${checked.error}`);
          return fail(400, 3, `Failed to create a pipeline: invalid pipeline spec: ${checked.error}`);
        }
        this.specsValidated++;
        const [spec, platform] = (parseAllDocuments(yaml) as unknown as { toJS(): Record<string, unknown> }[]).map((d) => d.toJS());
        const name = q.get('name') || q.get('display_name') || upload!.filename;
        const description = q.get('description') || undefined;
        if (match.op.operationId === 'UploadPipeline') {
          const ns = multi ? q.get('namespace') ?? '' : '';
          if (!authorize(ns, 'create', 'pipelines')) return;
          if ([...this.pipelines.values()].some((x) => x.pipeline.name === name && (x.pipeline.namespace ?? '') === ns)) {
            return fail(409, 6, 'Failed to create a pipeline and a pipeline version');
          }
          const pipeline = { pipeline_id: randomUUID(), name, display_name: q.get('display_name') || name, ...(description ? { description } : {}), ...(ns ? { namespace: ns } : {}), created_at: this.now() };
          const version = { pipeline_id: pipeline.pipeline_id, pipeline_version_id: randomUUID(), name, display_name: pipeline.display_name, ...(description ? { description } : {}), created_at: pipeline.created_at };
          this.pipelines.set(pipeline.pipeline_id, { pipeline, versions: [{ version, yaml, spec, platform }] });
          return send(200, pipeline);
        }
        const x = this.pipelines.get(q.get('pipelineid') ?? '');
        if (!x) return fail(400, 3, 'Failed to create a pipeline version');
        if (!authorize(x.pipeline.namespace, 'create', 'pipelines')) return;
        if (x.versions.some((v) => v.version.name === name)) return fail(409, 6, 'Failed to create a pipeline version');
        const version = { pipeline_id: x.pipeline.pipeline_id, pipeline_version_id: randomUUID(), name, display_name: q.get('display_name') || name, ...(description ? { description } : {}), created_at: this.now() };
        const stored = { version, yaml, spec, platform };
        x.versions.push(stored);
        return send(200, versionJson(stored));
      }
      case 'RunService_CreateRun':
        return this.createRun(body as KfpRun, send, fail, authorize);
      case 'RunService_GetRun': {
        const r = this.runs.get(p.run_id);
        if (!r) return fail(404, 5, `Run ${p.run_id} not found`);
        if (!authorize(r.namespace, 'get', 'runs')) return;
        if (this.options.progress === 'auto') this.advance(p.run_id);
        return send(200, this.runs.get(p.run_id)!.run);
      }
      case 'RunService_ListRuns': {
        const ns = q.get('namespace') ?? '';
        if (multi && !ns && !q.get('experiment_id')) return fail(400, 3, 'Invalid input error: A run cannot have an empty namespace in multi-user mode');
        if (!authorize(ns, 'list', 'runs')) return;
        let list = [...this.runs.values()].filter((r) => (!ns || !multi || r.namespace === ns) && (!q.get('experiment_id') || r.run.experiment_id === q.get('experiment_id'))).map((r) => r.run);
        if (q.get('sort_by') === 'created_at desc') list = list.slice().reverse();
        return send(200, list.length ? { runs: list, total_size: list.length } : {});
      }
      case 'RunService_TerminateRun': {
        const r = this.runs.get(p.run_id);
        if (!r) return fail(404, 5, `Run ${p.run_id} not found`);
        if (!authorize(r.namespace, 'terminate', 'runs')) return;
        // KFP updates only runs not yet terminating or ended; for others the update finds no row.
        if (!['PENDING', 'RUNNING', 'PAUSED', 'RUNTIME_STATE_UNSPECIFIED'].includes(r.run.state ?? '')) {
          return fail(400, 3, `Failed to terminate a run: Failed to terminate run ${p.run_id}: Invalid input error: Failed to terminate a run ${p.run_id}. Row not found`);
        }
        r.terminating = true;
        this.setState(r, 'CANCELING');
        return send(200, {});
      }
      case 'RunService_RetryRun': {
        const r = this.runs.get(p.run_id);
        if (!r) return fail(404, 5, `Run ${p.run_id} not found`);
        if (!authorize(r.namespace, 'retry', 'runs')) return;
        if (r.run.state !== 'FAILED') return fail(400, 9, `Failed to retry run ${p.run_id}: run is not in a failed state`);
        for (const t of r.order) if (r.tasks[t] === 'FAILED' || r.tasks[t] === 'CANCELED') r.tasks[t] = 'PENDING';
        this.options.failTasks = [];
        r.terminating = false;
        r.run.finished_at = UNSET_TIME;
        delete r.run.error;
        this.setState(r, 'RUNNING');
        this.render(r);
        return send(200, {});
      }
      case 'RecurringRunService_CreateRecurringRun':
        return this.createRecurringRun(body as KfpRecurringRun, send, fail, authorize);
      case 'RecurringRunService_GetRecurringRun':
      case 'RecurringRunService_EnableRecurringRun':
      case 'RecurringRunService_DisableRecurringRun':
      case 'RecurringRunService_DeleteRecurringRun': {
        const op = match.op.operationId;
        const r = this.recurringRuns.get(p.recurring_run_id);
        const what = { RecurringRunService_GetRecurringRun: 'fetch', RecurringRunService_EnableRecurringRun: 'enable', RecurringRunService_DisableRecurringRun: 'enable', RecurringRunService_DeleteRecurringRun: 'delete' }[op];
        const notFound = `ResourceNotFoundError: Job ${p.recurring_run_id} not found`;
        if (!r) {
          const message = op === 'RecurringRunService_GetRecurringRun' ? `Failed to fetch a recurring run: ${notFound}`
            : op === 'RecurringRunService_DeleteRecurringRun' ? `Failed to delete a recurring run: Failed to delete recurring run ${p.recurring_run_id}. Check if exists: ${notFound}`
            : `Failed to ${what} a recurring run: Failed to change recurring run's mode to enable:${op === 'RecurringRunService_EnableRecurringRun'}. Check if recurring run ${p.recurring_run_id} exists: ${notFound}`;
          return send(404, { code: 5, message, details: [{ '@type': 'type.googleapis.com/google.rpc.Status', code: 5, message: `Job ${p.recurring_run_id} not found` }] });
        }
        if (!authorize(r.namespace, op === 'RecurringRunService_GetRecurringRun' ? 'get' : op === 'RecurringRunService_DeleteRecurringRun' ? 'delete' : 'update', 'jobs')) return;
        if (op === 'RecurringRunService_GetRecurringRun') return send(200, r);
        if (op === 'RecurringRunService_DeleteRecurringRun') this.recurringRuns.delete(r.recurring_run_id);
        else {
          const enable = op === 'RecurringRunService_EnableRecurringRun';
          r.mode = enable ? 'ENABLE' : 'DISABLE';
          r.status = enable ? 'ENABLED' : 'DISABLED';
        }
        return send(200, {});
      }
      case 'RecurringRunService_ListRecurringRuns': {
        const ns = q.get('namespace') ?? '';
        if (multi && !ns) {
          return fail(400, 3, 'Failed to list jobs: Failed to list recurring runs due to authorization error. Check if you have permission to access namespace : Invalid input error: a recurring run cannot have an empty namespace in multi-user mode');
        }
        if (!authorize(ns, 'list', 'jobs')) return;
        let list = [...this.recurringRuns.values()].filter((r) => (!ns || r.namespace === ns) && (!q.get('experiment_id') || r.experiment_id === q.get('experiment_id')));
        if (q.get('sort_by') === 'created_at desc') list = list.slice().reverse();
        return send(200, list.length ? { recurringRuns: list, total_size: list.length } : {});
      }
      default:
        return fail(501, 12, `the fake does not implement ${match.op.operationId}`);
    }
  }

  private createRun(
    b: KfpRun,
    send: (s: number, body: unknown) => void,
    fail: (s: number, code: number, m: string) => void,
    authorize: (ns: string | undefined, verb: string, resource: string) => boolean,
  ): void {
    if (!b.display_name) return fail(400, 3, 'Invalid input error: The run name is empty. Please specify a valid name');
    const ref = b.pipeline_version_reference;
    const x = ref?.pipeline_id ? this.pipelines.get(ref.pipeline_id) : undefined;
    if (!x) return fail(400, 3, `Invalid input error: pipeline ${ref?.pipeline_id ?? '(none)'} not found`);
    const v = ref?.pipeline_version_id ? x.versions.find((y) => y.version.pipeline_version_id === ref.pipeline_version_id) : x.versions.at(-1);
    if (!v) return fail(400, 3, `Invalid input error: pipeline version ${ref?.pipeline_version_id} not found`);
    const exp = b.experiment_id ? this.experiments.get(b.experiment_id) : undefined;
    if (this.options.multiUser && !exp) return fail(400, 3, 'Invalid input error: Experiment id is required in multi-user mode');
    if (b.experiment_id && !exp) return fail(404, 5, `Experiment ${b.experiment_id} not found`);
    const namespace = exp?.namespace ?? '';
    if (!authorize(namespace, 'create', 'runs')) return;
    const problem = checkRuntimeParameters(v.spec, b.runtime_config?.parameters ?? {});
    if (problem) return fail(400, 3, `Invalid input error: ${problem}`);
    if (b.recurring_run_id && !this.recurringRuns.has(b.recurring_run_id)) {
      return send(500, { code: 13, message: `Failed to create a new run: InternalServerError: Failed to create a run due to invalid recurring run id: Invalid input error: RecurringRunId doesn't exist: ${b.recurring_run_id}`, details: [{ '@type': 'type.googleapis.com/google.rpc.Status', code: 13, message: 'Internal Server Error' }] });
    }
    const tasks = ((v.spec.root as { dag: { tasks: Record<string, { dependentTasks?: string[] }> } }).dag.tasks);
    const deps = Object.fromEntries(Object.entries(tasks).map(([t, s]) => [t, s.dependentTasks ?? []]));
    const order = topo(deps);
    const run: KfpRun = {
      run_id: randomUUID(),
      experiment_id: exp?.experiment_id,
      display_name: b.display_name,
      ...(b.description ? { description: b.description } : {}),
      pipeline_version_reference: { pipeline_id: x.pipeline.pipeline_id, pipeline_version_id: v.version.pipeline_version_id },
      // KFP leaves out what is empty: no parameters, no runtime_config.
      ...(runtimeConfigOf(b.runtime_config) ? { runtime_config: runtimeConfigOf(b.runtime_config) } : {}),
      service_account: b.service_account ?? (this.options.multiUser ? 'default-editor' : 'pipeline-runner'),
      created_at: this.now(),
      scheduled_at: this.now(),
      finished_at: UNSET_TIME,
      state: 'PENDING',
      ...(b.recurring_run_id ? { recurring_run_id: b.recurring_run_id } : {}),
      state_history: [],
    };
    (run as { storage_state?: string }).storage_state = 'AVAILABLE';
    if (exp) exp.last_run_created_at = run.created_at!;
    const stored: StoredRun = { run, namespace, spec: v.spec, platform: v.platform, order, deps, tasks: Object.fromEntries(order.map((t) => [t, 'PENDING'])), tick: 0, terminating: false, times: {} };
    this.setState(stored, 'PENDING');
    this.runs.set(run.run_id, stored);
    send(200, run);
  }

  private createRecurringRun(
    b: KfpRecurringRun,
    send: (s: number, body: unknown) => void,
    fail: (s: number, code: number, m: string) => void,
    authorize: (ns: string | undefined, verb: string, resource: string) => boolean,
  ): void {
    // KFP converts the request first (concurrency, cron, name), then checks experiment, pipeline and parameters.
    const converting = 'Failed to create a recurring run due to conversion error: ';
    const mc = Number(b.max_concurrency ?? '0');
    if (!(mc >= 1 && mc <= 10)) return fail(400, 3, `${converting}Invalid input error: Max concurrency of a recurring run must be at least 1 and at most 10. Received ${mc}`);
    const cron = b.trigger?.cron_schedule?.cron;
    const fields = cron?.trim().split(/\s+/).filter(Boolean).length ?? 0;
    if (cron !== undefined && (fields < 5 || fields > 6)) {
      return fail(400, 3, `${converting}Invalid input error: Schedule cron is not a supported format(https://godoc.org/github.com/robfig/cron). Error: Expected 5 to 6 fields, found ${fields}: ${cron}`);
    }
    if (!b.display_name) {
      return send(500, { code: 13, message: `${converting}InternalServerError: Failed to convert a API recurring run to its internal representation: Invalid input error: Recurring run's name cannot be empty`, details: [{ '@type': 'type.googleapis.com/google.rpc.Status', code: 13, message: 'Internal Server Error' }] });
    }
    const multi = this.options.multiUser === true;
    let exp = b.experiment_id ? this.experiments.get(b.experiment_id) : undefined;
    if (multi && !b.experiment_id) {
      return fail(400, 3, 'Failed to create a recurring run: Failed to create a recurring run due to invalid experimentId and namespace combination: Invalid input error: Experiment id can not be empty in multi-user mode');
    }
    if (b.experiment_id && !exp) return fail(404, 5, `Experiment ${b.experiment_id} not found`);
    exp ??= [...this.experiments.values()].find((e) => e.display_name === 'Default');
    const namespace = multi ? exp?.namespace ?? '' : 'kubeflow';
    if (!authorize(multi ? namespace : undefined, 'create', 'jobs')) return;
    const ref = b.pipeline_version_reference;
    const x = ref?.pipeline_id ? this.pipelines.get(ref.pipeline_id) : undefined;
    const v = ref?.pipeline_version_id ? x?.versions.find((y) => y.version.pipeline_version_id === ref.pipeline_version_id) : x?.versions.at(-1);
    if (!x || !v) return fail(400, 3, `Failed to create a recurring run: Invalid input error: pipeline version ${ref?.pipeline_version_id ?? '(none)'} not found`);
    const problem = checkRuntimeParameters(v.spec, b.runtime_config?.parameters ?? {});
    if (problem) return fail(400, 3, `Failed to create a recurring run: Failed to create a recurring run during scheduled workflow creation: invalid pipeline job inputs: Invalid input error: ${problem}`);
    const now = this.now();
    const r: KfpRecurringRun = {
      recurring_run_id: randomUUID(),
      display_name: b.display_name,
      ...(b.description ? { description: b.description } : {}),
      pipeline_version_reference: { pipeline_id: x.pipeline.pipeline_id, pipeline_version_id: v.version.pipeline_version_id },
      ...(runtimeConfigOf(b.runtime_config) ? { runtime_config: runtimeConfigOf(b.runtime_config) } : {}),
      service_account: b.service_account ?? 'pipeline-runner',
      max_concurrency: String(mc),
      trigger: b.trigger ?? {},
      mode: b.mode === 'DISABLE' ? 'DISABLE' : 'ENABLE',
      created_at: now,
      updated_at: now,
      status: b.mode === 'DISABLE' ? 'DISABLED' : 'ENABLED',
      ...(b.no_catchup ? { no_catchup: true } : {}),
      namespace,
      ...(exp ? { experiment_id: exp.experiment_id } : {}),
    };
    this.recurringRuns.set(r.recurring_run_id, r);
    send(200, r);
  }

  /**
   * What KFP's scheduled-workflow controller does when a schedule's cron fires: a run of the pinned version with
   * the schedule's parameters, in its experiment, carrying its `recurring_run_id`. Returns the run.
   */
  fire(recurringRunId: string): KfpRun {
    const r = this.recurringRuns.get(recurringRunId);
    if (!r) throw new Error(`no recurring run ${recurringRunId}`);
    let made: KfpRun | undefined;
    let error: string | undefined;
    this.createRun(
      { run_id: '', display_name: `${r.display_name}-${Date.now()}`, experiment_id: r.experiment_id, pipeline_version_reference: r.pipeline_version_reference, runtime_config: r.runtime_config, recurring_run_id: r.recurring_run_id },
      (status, body) => (status === 200 ? (made = body as KfpRun) : (error = JSON.stringify(body))),
      (_s, _c, m) => (error = m),
      () => true,
    );
    if (!made) throw new Error(`fake: the schedule's run could not be made: ${error}`);
    return made;
  }

  private setState(r: StoredRun, state: KfpRuntimeState): void {
    r.run.state = state;
    r.run.state_history = [...(r.run.state_history ?? []), { update_time: this.now(), state }];
  }

  /** Advances a run one tick: PENDING → RUNNING → each ready task runs → ends → … → the run ends. */
  advance(runId: string): KfpRun {
    const r = this.runs.get(runId);
    if (!r) throw new Error(`no run ${runId}`);
    const s = r.run.state!;
    if (['SUCCEEDED', 'FAILED', 'CANCELED', 'SKIPPED'].includes(s)) return r.run;
    r.tick++;
    if (r.terminating) {
      for (const t of r.order) if (r.tasks[t] === 'RUNNING') r.tasks[t] = 'FAILED';
      this.finish(r, 'FAILED', 'Run terminated by the user');
    } else if (s === 'PENDING') {
      this.setState(r, 'RUNNING');
    } else {
      const running = r.order.filter((t) => r.tasks[t] === 'RUNNING');
      if (running.length) {
        for (const t of running) r.tasks[t] = this.options.failTasks?.includes(t) ? 'FAILED' : 'SUCCEEDED';
      } else {
        const ready = r.order.filter((t) => r.tasks[t] === 'PENDING' && r.deps[t].every((d) => ['SUCCEEDED', 'SKIPPED'].includes(r.tasks[d])));
        for (const t of ready) r.tasks[t] = this.options.cachedTasks?.includes(t) ? 'SKIPPED' : 'RUNNING';
        if (!ready.length) {
          const failed = r.order.some((t) => r.tasks[t] === 'FAILED');
          this.finish(r, failed ? 'FAILED' : 'SUCCEEDED', failed ? 'a task failed' : undefined);
        }
      }
    }
    this.render(r);
    return r.run;
  }

  /** Sets a run's state directly (manual mode). */
  setRunState(runId: string, state: KfpRuntimeState, tasks: Record<string, KfpRuntimeState> = {}): void {
    const r = this.runs.get(runId);
    if (!r) throw new Error(`no run ${runId}`);
    Object.assign(r.tasks, tasks);
    if (['SUCCEEDED', 'FAILED', 'CANCELED', 'SKIPPED'].includes(state)) this.finish(r, state, state === 'FAILED' ? 'failed' : undefined);
    else this.setState(r, state);
    this.render(r);
  }

  private finish(r: StoredRun, state: KfpRuntimeState, message?: string): void {
    this.setState(r, state);
    r.run.finished_at = this.now();
    if (state === 'FAILED' && message) r.run.error = { code: 2, message };
  }

  /** Argo-like task details: root driver and DAG, and per task a driver, a DAG node and an executor. */
  private render(r: StoredRun): void {
    const t0 = r.run.created_at!;
    const details: KfpTaskDetail[] = [];
    const rootId = `${r.run.run_id}-root`;
    if (r.run.state === 'PENDING') {
      r.run.run_details = {};
      return;
    }
    details.push({ run_id: r.run.run_id, task_id: `${rootId}-driver`, display_name: 'root-driver', create_time: t0, start_time: t0, end_time: t0, state: 'SUCCEEDED' });
    details.push({ run_id: r.run.run_id, task_id: rootId, display_name: 'root', create_time: t0, start_time: t0, state: r.run.state === 'CANCELING' ? 'RUNNING' : r.run.state });
    for (const t of r.order) {
      const st = r.tasks[t];
      if (st === 'PENDING') continue;
      const id = `${r.run.run_id}-${t}`;
      const terminal = ['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELED'].includes(st);
      // With the real clock each task keeps the times it was first seen running and ended (the fixed clock
      // stamps everything with the run's creation, so tests see the same times every run).
      const times = (r.times[t] ??= {});
      if (this.options.clock === 'real') {
        times.start ??= this.now();
        if (terminal) times.end ??= this.now();
      }
      const start = times.start ?? t0;
      const end = terminal ? (times.end ?? t0) : undefined;
      details.push({ run_id: r.run.run_id, task_id: `${id}-driver`, display_name: `${t}-driver`, parent_task_id: rootId, create_time: t0, start_time: t0, end_time: t0, state: 'SUCCEEDED' });
      const node: KfpTaskDetail = { run_id: r.run.run_id, task_id: id, display_name: t, parent_task_id: rootId, create_time: t0, start_time: start, state: st, child_tasks: [{ pod_name: `${id}-executor` }] };
      if (end) node.end_time = end;
      if (st === 'FAILED') node.error = { code: 2, message: `task ${t} failed: exit code 1` };
      details.push(node);
      if (st !== 'SKIPPED') {
        details.push({ run_id: r.run.run_id, task_id: `${id}-executor`, display_name: 'executor', parent_task_id: id, create_time: t0, start_time: start, ...(end ? { end_time: end } : {}), state: st });
      }
    }
    r.run.run_details = { task_details: details };
  }
}

/** The `uploadfile` part of a multipart body. */
function parseMultipart(contentType: string, body: Buffer, field: string): { filename: string; data: Buffer } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (!contentType.startsWith('multipart/form-data') || !boundary) return undefined;
  const delim = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const next = body.indexOf(delim, pos + delim.length);
    if (next < 0) break;
    const part = body.subarray(pos + delim.length + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, headerEnd).toString('utf8');
    const name = /name="([^"]*)"/.exec(headers)?.[1];
    const filename = /filename="([^"]*)"/.exec(headers)?.[1];
    if (name === field && filename) return { filename, data: part.subarray(headerEnd + 4) };
    pos = next;
  }
  return undefined;
}

/** KFP list filters: `{"predicates":[{"operation":"EQUALS","key":"display_name","string_value":"x"}]}`. */
function applyFilter<T extends object>(list: T[], filter: string | null): T[] {
  if (!filter) return list;
  const f = JSON.parse(filter) as { predicates?: { operation: string | number; key: string; string_value?: string; stringValue?: string }[] };
  return list.filter((item) =>
    (f.predicates ?? []).every((p) => {
      const v = String((item as Record<string, unknown>)[p.key] ?? '');
      const want = p.string_value ?? p.stringValue ?? '';
      if (p.operation === 'EQUALS' || p.operation === 1) return v === want;
      if (p.operation === 'IS_SUBSTRING' || p.operation === 9) return v.includes(want);
      throw new Error(`fake: filter operation ${p.operation} not modelled`);
    }),
  );
}

function topo(deps: Record<string, string[]>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (t: string) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const d of deps[t] ?? []) visit(d);
    out.push(t);
  };
  for (const t of Object.keys(deps).sort()) visit(t);
  return out;
}

/** The backend's `validatePipelineJobInputs`: required inputs present, JSON kinds right, no extras. */
export function checkRuntimeParameters(spec: Record<string, unknown>, given: Record<string, JsonValue>): string | undefined {
  const defs = ((spec.root as { inputDefinitions?: { parameters?: Record<string, { parameterType: string; defaultValue?: unknown; isOptional?: boolean }> } }).inputDefinitions?.parameters) ?? {};
  const extra = Object.keys(given).filter((k) => !(k in defs));
  if (extra.length) return `parameter(s) provided are not required by pipeline: ${extra.join(', ')}`;
  for (const [name, d] of Object.entries(defs)) {
    if (!(name in given)) {
      if (d.isOptional || d.defaultValue !== undefined) continue;
      return `input parameter ${name} is required`;
    }
    const v = given[name];
    const ok = {
      NUMBER_INTEGER: typeof v === 'number',
      NUMBER_DOUBLE: typeof v === 'number',
      STRING: typeof v === 'string',
      BOOLEAN: typeof v === 'boolean',
      LIST: Array.isArray(v),
      STRUCT: v !== null && typeof v === 'object' && !Array.isArray(v),
    }[d.parameterType];
    if (!ok) return `input parameter ${name} requires type ${d.parameterType}, got ${JSON.stringify(v)}`;
  }
  return undefined;
}

function runtimeConfigOf(c: KfpRun['runtime_config']): KfpRun['runtime_config'] | undefined {
  const out = { ...(c?.parameters && Object.keys(c.parameters).length ? { parameters: c.parameters } : {}), ...(c?.pipeline_root ? { pipeline_root: c.pipeline_root } : {}) };
  return Object.keys(out).length ? out : undefined;
}

/** Fields KFP 2.17 answers with that its published swagger does not declare (seen from kfp-real serve). */
const UNDOCUMENTED: Record<string, string[]> = { HealthzService_GetHealthz: ['commit_sha', 'tag_name'] };

function withoutUndocumented(operation: string, body: unknown): unknown {
  const extra = UNDOCUMENTED[operation];
  if (!extra || body === null || typeof body !== 'object') return body;
  return Object.fromEntries(Object.entries(body).filter(([k]) => !extra.includes(k)));
}

/** How KFP writes a timestamp that is not set. */
export const UNSET_TIME = '1970-01-01T00:00:00Z';

/** Stands for the Go stack trace KFP's upload handler appends to `error_details`. */
const FAKE_STACK = 'github.com/kubeflow/pipelines/backend/src/apiserver/server.(*PipelineUploadServer).uploadPipeline\n\tfake-server.ts:0';

export { here as fakeDir };

/** KFP 2.17's answer to an upload it does not authenticate or authorise (pipeline_upload_server.go). */
function uploadRefusal(operationId: string): string {
  return operationId === 'UploadPipelineVersion' ? 'Failed to create a pipeline version' : 'Failed to create a pipeline';
}
