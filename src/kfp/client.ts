/**
 * A small Kubeflow Pipelines v2beta1 REST client: healthz, experiments, pipeline upload (or a new version, or reuse
 * of the version holding a byte-identical spec), runs (create, get, list, terminate, retry), recurring runs (create,
 * list, get, enable/disable, delete).
 *
 * JSON follows the API's proto names (snake_case). Requests carry only fields the v2beta1 swagger defines; current
 * backends reject unknown fields. Every failure is a `KfpError` (./errors.ts) naming the action and the endpoint.
 */
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import type { JsonValue } from '../core/model.js';
import { KfpError, errorMessageOf, httpError, unreachable, type KfpRequestContext } from './errors.js';
import type { KfpEndpoint } from './endpoint.js';
import { parseAllDocuments } from 'yaml';

export type KfpRuntimeState =
  | 'RUNTIME_STATE_UNSPECIFIED' | 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'SKIPPED' | 'FAILED' | 'CANCELING' | 'CANCELED' | 'PAUSED';

export interface KfpStatus {
  code?: number;
  message?: string;
}

export interface KfpExperiment {
  experiment_id: string;
  display_name: string;
  description?: string;
  namespace?: string;
  created_at?: string;
  /** `1970-01-01T00:00:00Z` until the first run (KFP writes unset timestamps so, never leaves them out). */
  last_run_created_at?: string;
  storage_state?: string;
}

export interface KfpPipeline {
  pipeline_id: string;
  name?: string;
  display_name?: string;
  description?: string;
  namespace?: string;
  created_at?: string;
}

export interface KfpPipelineVersion {
  pipeline_id: string;
  pipeline_version_id: string;
  name?: string;
  display_name?: string;
  description?: string;
  created_at?: string;
  /** The spec as JSON; `{pipeline_spec, platform_spec}` when it has a Kubernetes platform document. */
  pipeline_spec?: Record<string, unknown>;
}

export interface KfpTaskDetail {
  run_id?: string;
  task_id?: string;
  display_name?: string;
  create_time?: string;
  start_time?: string;
  end_time?: string;
  state?: KfpRuntimeState;
  error?: KfpStatus;
  parent_task_id?: string;
  pod_name?: string;
  child_tasks?: { task_id?: string; pod_name?: string }[];
}

export interface KfpRun {
  run_id: string;
  experiment_id?: string;
  display_name?: string;
  description?: string;
  pipeline_version_reference?: { pipeline_id?: string; pipeline_version_id?: string };
  runtime_config?: { parameters?: Record<string, JsonValue>; pipeline_root?: string };
  service_account?: string;
  created_at?: string;
  scheduled_at?: string;
  finished_at?: string;
  state?: KfpRuntimeState;
  error?: KfpStatus;
  run_details?: { task_details?: KfpTaskDetail[] };
  state_history?: { update_time?: string; state?: KfpRuntimeState; error?: KfpStatus }[];
  /** The recurring run (schedule) that made this run, if any. */
  recurring_run_id?: string;
}

/** A v2beta1 recurring run (a schedule). */
export interface KfpRecurringRun {
  recurring_run_id: string;
  display_name?: string;
  description?: string;
  pipeline_version_reference?: { pipeline_id?: string; pipeline_version_id?: string };
  runtime_config?: { parameters?: Record<string, JsonValue>; pipeline_root?: string };
  service_account?: string;
  /** int64, so a JSON string. */
  max_concurrency?: string;
  trigger?: { cron_schedule?: { cron?: string; start_time?: string; end_time?: string }; periodic_schedule?: { interval_second?: string; start_time?: string; end_time?: string } };
  mode?: 'MODE_UNSPECIFIED' | 'ENABLE' | 'DISABLE';
  created_at?: string;
  updated_at?: string;
  status?: 'STATUS_UNSPECIFIED' | 'ENABLED' | 'DISABLED';
  error?: KfpStatus;
  no_catchup?: boolean;
  namespace?: string;
  experiment_id?: string;
}

export interface CreateRecurringRunInput {
  displayName: string;
  description?: string;
  experimentId: string;
  pipelineId: string;
  pipelineVersionId: string;
  parameters: Record<string, JsonValue>;
  /** KFP's 6-field cron (seconds first): see core/cron.ts. */
  cron: string;
  startTime?: string;
  endTime?: string;
  /** 1–10 (KFP's limit). */
  maxConcurrency: number;
  /** Runs missed while paused or before a late start are not made up. */
  noCatchup: boolean;
  pipelineRoot?: string;
  serviceAccount?: string;
  namespace?: string;
}

export interface KfpHealth {
  multi_user?: boolean;
  pipeline_store?: string;
  commit_sha?: string;
  tag_name?: string;
}

export interface CreateRunInput {
  displayName: string;
  description?: string;
  experimentId: string;
  pipelineId: string;
  pipelineVersionId: string;
  parameters: Record<string, JsonValue>;
  pipelineRoot?: string;
  serviceAccount?: string;
}

/** What `ensurePipelineVersion` did. */
export interface PipelineVersionResult {
  pipelineId: string;
  pipelineVersionId: string;
  /** `pipeline`: a new pipeline (with its first version) was uploaded; `version`: a new version; `reused`: the spec was there. */
  action: 'pipeline' | 'version' | 'reused';
}

export interface KfpClientOptions {
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

/** The marker cellpipe writes into a version's description and name to find a byte-identical spec again. */
export function specMarker(specHash: string): string {
  return `cellpipe-spec-sha256:${specHash}`;
}

/** Version name for a spec: `<pipeline>-<first 12 hex of the spec hash>` (names are unique per pipeline). */
export function versionName(pipeline: string, specHash: string): string {
  return `${pipeline}-${specHash.slice(0, 12)}`;
}

const API = '/apis/v2beta1';

/**
 * KFP 2.17.0 never answers an upload whose YAML does not parse (its API server spins in `template.isV2Spec`), so a
 * spec is parsed here first and refused with the YAML error instead of hanging the upload.
 */
function checkUploadable(yaml: string, action: string): void {
  const docs = parseAllDocuments(yaml);
  const list = Array.isArray(docs) ? docs : [docs];
  const broken = list.find((d) => d.errors.length);
  if (!list.length || broken) {
    throw new KfpError(
      'invalid',
      `${action}: the pipeline spec is not valid YAML (${broken ? broken.errors[0].message.split('\n')[0] : 'empty'}); it was not sent, as Kubeflow Pipelines 2.17 hangs on such an upload`,
      'upload what `cellpipe compile` writes, unchanged; if cellpipe made this spec, please report it',
    );
  }
}

export class KfpClient {
  readonly endpoint: KfpEndpoint;
  private readonly timeoutMs: number;

  constructor(endpoint: KfpEndpoint, options: KfpClientOptions = {}) {
    this.endpoint = endpoint;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  private ctx(action: string, namespace?: string): KfpRequestContext {
    return {
      action,
      endpoint: this.endpoint.describe,
      auth: this.endpoint.authLabel,
      namespace: namespace ?? this.endpoint.namespace,
      profile: this.endpoint.profile,
      viaKube: this.endpoint.viaKube,
    };
  }

  /** One HTTP request; resolves the parsed JSON body of a 2xx answer. */
  private async request<T>(
    method: string,
    path: string,
    ctx: KfpRequestContext,
    options: { query?: Record<string, string | number | undefined>; json?: unknown; multipart?: { field: string; filename: string; data: Buffer } } = {},
  ): Promise<T> {
    const url = new URL(this.endpoint.baseUrl + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    let auth;
    try {
      auth = await this.endpoint.auth();
    } catch (err) {
      if (err instanceof KfpError) throw err;
      throw new KfpError('config', `cannot prepare credentials for ${this.endpoint.describe}: ${(err as Error).message}`, `fix the kubeconfig or the 'kfp' settings of ${this.endpoint.profile ? `profile '${this.endpoint.profile}'` : 'the profile'}`, { cause: err });
    }
    const headers: Record<string, string> = { Accept: 'application/json', ...auth.headers };
    let body: Buffer | undefined;
    if (options.json !== undefined) {
      body = Buffer.from(JSON.stringify(options.json));
      headers['Content-Type'] = 'application/json';
    } else if (options.multipart) {
      const boundary = `cellpipe-${randomBytes(12).toString('hex')}`;
      const m = options.multipart;
      body = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${m.field}"; filename="${m.filename}"\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n',
        ),
        m.data,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      headers['Content-Type'] = `multipart/form-data; boundary=${boundary}`;
    }
    if (body) headers['Content-Length'] = String(body.length);
    const lib = url.protocol === 'https:' ? https : http;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = lib.request(
        url,
        { method, headers, timeout: this.timeoutMs, ...(url.protocol === 'https:' ? auth.tls : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    }).catch((err: unknown) => {
      throw unreachable(err, ctx);
    });
    if (status < 200 || status >= 300) throw httpError(status, text, ctx);
    if (!text.trim()) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new KfpError(
        'api',
        `${ctx.action}: ${this.endpoint.describe} answered with something that is not JSON (${text.slice(0, 120).replace(/\s+/g, ' ')}…)`,
        "the URL probably points at a login page or another service, not the KFP API: check 'kfp.host' (the API is under <host>/apis/v2beta1)",
        { status },
      );
    }
  }

  /** `GET /healthz`: proves the endpoint is KFP and says whether it runs multi-user. */
  healthz(): Promise<KfpHealth> {
    return this.request('GET', `${API}/healthz`, this.ctx('check the Kubeflow Pipelines API health'));
  }

  /** Finds the experiment by display name in the namespace, or creates it. */
  async ensureExperiment(name: string, namespace?: string): Promise<KfpExperiment> {
    const filter = JSON.stringify({ predicates: [{ operation: 'EQUALS', key: 'display_name', string_value: name }] });
    const list = await this.request<{ experiments?: KfpExperiment[] }>('GET', `${API}/experiments`, this.ctx(`look up experiment '${name}'`, namespace), {
      query: { filter, namespace, page_size: 10 },
    });
    const found = (list.experiments ?? []).find((e) => e.display_name === name);
    if (found) return found;
    try {
      return await this.request<KfpExperiment>('POST', `${API}/experiments`, this.ctx(`create experiment '${name}'`, namespace), {
        json: { display_name: name, description: 'created by cellpipe', ...(namespace ? { namespace } : {}) },
      });
    } catch (err) {
      // Another submit created it meanwhile.
      if (err instanceof KfpError && err.kind === 'conflict') return this.ensureExperiment(name, namespace);
      throw err;
    }
  }

  /** The pipeline with this name in the namespace (or shared), or undefined. */
  async findPipeline(name: string, namespace?: string): Promise<KfpPipeline | undefined> {
    try {
      return await this.request<KfpPipeline>('GET', `${API}/pipelines/names/${encodeURIComponent(name)}`, this.ctx(`look up pipeline '${name}'`, namespace), {
        query: { namespace },
      });
    } catch (err) {
      if (err instanceof KfpError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  /** Every version of a pipeline, newest first. */
  async listPipelineVersions(pipelineId: string): Promise<KfpPipelineVersion[]> {
    const out: KfpPipelineVersion[] = [];
    let token: string | undefined;
    do {
      const page = await this.request<{ pipeline_versions?: KfpPipelineVersion[]; next_page_token?: string }>(
        'GET', `${API}/pipelines/${encodeURIComponent(pipelineId)}/versions`, this.ctx(`list the versions of pipeline ${pipelineId}`),
        { query: { page_size: 100, sort_by: 'created_at desc', page_token: token } },
      );
      out.push(...(page.pipeline_versions ?? []));
      token = page.next_page_token || undefined;
    } while (token && out.length < 10_000);
    return out;
  }

  getPipelineVersion(pipelineId: string, versionId: string): Promise<KfpPipelineVersion> {
    return this.request('GET', `${API}/pipelines/${encodeURIComponent(pipelineId)}/versions/${encodeURIComponent(versionId)}`, this.ctx(`get version ${versionId} of pipeline ${pipelineId}`));
  }

  /**
   * The version named `vname` or whose description holds `marker`, found by KFP's list filters: KFP lists versions
   * with their whole spec (programs inlined can make that ~100 KB each), so the versions are not all fetched.
   */
  private async findVersion(pipelineId: string, vname: string, marker: string): Promise<KfpPipelineVersion | undefined> {
    for (const predicate of [
      { operation: 'EQUALS', key: 'name', string_value: vname },
      { operation: 'IS_SUBSTRING', key: 'description', string_value: marker },
    ]) {
      const page = await this.request<{ pipeline_versions?: KfpPipelineVersion[] }>(
        'GET', `${API}/pipelines/${encodeURIComponent(pipelineId)}/versions`, this.ctx(`look up the version of pipeline ${pipelineId} with this spec`),
        { query: { filter: JSON.stringify({ predicates: [predicate] }), page_size: 1, sort_by: 'created_at desc' } },
      );
      const found = page.pipeline_versions?.[0];
      if (found) return found;
    }
    return undefined;
  }

  /** Multipart upload of a new pipeline (KFP creates its first version from the same file). */
  async uploadPipeline(yaml: string, opts: { name: string; description: string; namespace?: string }): Promise<KfpPipeline> {
    const action = `upload pipeline '${opts.name}'`;
    checkUploadable(yaml, action);
    return this.request<KfpPipeline>('POST', `${API}/pipelines/upload`, this.ctx(action, opts.namespace), {
      query: { name: opts.name, display_name: opts.name, description: opts.description, namespace: opts.namespace },
      multipart: { field: 'uploadfile', filename: 'pipeline.yaml', data: Buffer.from(yaml) },
    }).catch((err: unknown) => this.uploadRefused(err, 'Failed to create a pipeline', action, opts.namespace));
  }

  /** Multipart upload of a new version of an existing pipeline (`namespace`: the pipeline's, for messages). */
  async uploadPipelineVersion(pipelineId: string, yaml: string, opts: { name: string; description: string; namespace?: string }): Promise<KfpPipelineVersion> {
    const action = `upload version '${opts.name}' of pipeline ${pipelineId}`;
    checkUploadable(yaml, action);
    return this.request<KfpPipelineVersion>('POST', `${API}/pipelines/upload_version`, this.ctx(action, opts.namespace), {
      query: { pipelineid: pipelineId, name: opts.name, display_name: opts.name, description: opts.description },
      multipart: { field: 'uploadfile', filename: 'pipeline.yaml', data: Buffer.from(yaml) },
    }).catch((err: unknown) => this.uploadRefused(err, 'Failed to create a pipeline version', action, opts.namespace));
  }

  /**
   * KFP 2.17's upload handler answers an upload it does not authorise (no identity, or no right to create pipelines in
   * the namespace) with a bare `400 Failed to create a pipeline[ version]`, its reason dropped (pipeline_upload_server.go).
   * Then KFP's verdict on this caller in the namespace is read by listing pipelines there: its 401 or 403 says who is
   * refused and why; if the caller may list, it may read but not create pipelines there.
   */
  private async uploadRefused(err: unknown, bare: string, action: string, namespace?: string): Promise<never> {
    if (!(err instanceof KfpError && err.status === 400 && namespace && errorMessageOf(err.bodyText ?? '') === bare)) throw err;
    await this.request('GET', `${API}/pipelines`, this.ctx(action, namespace), { query: { namespace, page_size: 1 } });
    if (bare.endsWith('version')) {
      // A version's bare 400 also means its pipeline is gone (KFP reads the pipeline's namespace first).
      throw new KfpError(
        'invalid',
        `Kubeflow Pipelines refused to ${action} with a bare '${bare}' (400), its answer when the pipeline is gone or the account may not add versions to it; this account (${this.endpoint.authLabel}) may list pipelines in namespace '${namespace}'`,
        `submit again (a pipeline deleted meanwhile is uploaded anew); if it persists, ask the owner of '${namespace}' for edit access to pipelines there (KFP's kubeflow-pipelines-edit role)`,
        { status: 400, cause: err },
      );
    }
    throw new KfpError(
      'forbidden',
      `permission denied by Kubeflow Pipelines: this account (${this.endpoint.authLabel}) may read pipelines in namespace '${namespace}' but not create them ` +
        `(KFP answered '${bare}', 400, as it answers an upload it does not authorise, while trying to ${action})`,
      `ask the owner of '${namespace}' for edit access to pipelines there (a contributor, KFP's kubeflow-pipelines-edit role), or use a token of an account that has it`,
      { status: 400, cause: err },
    );
  }

  /**
   * The pipeline version holding exactly this spec: reused when a version's name or description carries the spec's
   * hash, else uploaded as a new version, or as a new pipeline when none has this name.
   */
  async ensurePipelineVersion(yaml: string, specHash: string, opts: { name: string; description?: string; namespace?: string }): Promise<PipelineVersionResult> {
    const marker = specMarker(specHash);
    const vname = versionName(opts.name, specHash);
    const description = `${opts.description ? `${opts.description}\n` : ''}${marker}`;
    const carries = (pipelineId: string) => this.findVersion(pipelineId, vname, marker);
    let pipeline = await this.findPipeline(opts.name, opts.namespace);
    if (!pipeline) {
      try {
        pipeline = await this.uploadPipeline(yaml, { name: opts.name, description, namespace: opts.namespace });
        const first = (await carries(pipeline.pipeline_id)) ?? (await this.listPipelineVersions(pipeline.pipeline_id))[0];
        if (!first) throw new KfpError('api', `uploaded pipeline '${opts.name}' but it has no version`, 'retry the submit');
        return { pipelineId: pipeline.pipeline_id, pipelineVersionId: first.pipeline_version_id, action: 'pipeline' };
      } catch (err) {
        if (!(err instanceof KfpError && err.kind === 'conflict')) throw err;
        pipeline = await this.findPipeline(opts.name, opts.namespace);
        if (!pipeline) throw err;
      }
    }
    const existing = await carries(pipeline.pipeline_id);
    if (existing) return { pipelineId: pipeline.pipeline_id, pipelineVersionId: existing.pipeline_version_id, action: 'reused' };
    try {
      const v = await this.uploadPipelineVersion(pipeline.pipeline_id, yaml, { name: vname, description, namespace: opts.namespace });
      return { pipelineId: pipeline.pipeline_id, pipelineVersionId: v.pipeline_version_id, action: 'version' };
    } catch (err) {
      if (err instanceof KfpError && err.kind === 'conflict') {
        const again = await carries(pipeline.pipeline_id);
        if (again) return { pipelineId: pipeline.pipeline_id, pipelineVersionId: again.pipeline_version_id, action: 'reused' };
      }
      throw err;
    }
  }

  createRun(input: CreateRunInput): Promise<KfpRun> {
    const runtime_config: Record<string, unknown> = { parameters: input.parameters };
    if (input.pipelineRoot) runtime_config.pipeline_root = input.pipelineRoot;
    return this.request('POST', `${API}/runs`, this.ctx(`create run '${input.displayName}'`), {
      json: {
        display_name: input.displayName,
        ...(input.description ? { description: input.description } : {}),
        experiment_id: input.experimentId,
        pipeline_version_reference: { pipeline_id: input.pipelineId, pipeline_version_id: input.pipelineVersionId },
        runtime_config,
        ...(input.serviceAccount ? { service_account: input.serviceAccount } : {}),
      },
    });
  }

  getRun(runId: string): Promise<KfpRun> {
    return this.request('GET', `${API}/runs/${encodeURIComponent(runId)}`, this.ctx(`get run ${runId}`));
  }

  async listRuns(opts: { namespace?: string; experimentId?: string; pageSize?: number; pageToken?: string } = {}): Promise<{ runs: KfpRun[]; nextPageToken?: string }> {
    const page = await this.request<{ runs?: KfpRun[]; next_page_token?: string }>('GET', `${API}/runs`, this.ctx('list runs', opts.namespace), {
      query: { namespace: opts.namespace, experiment_id: opts.experimentId, page_size: opts.pageSize ?? 50, page_token: opts.pageToken, sort_by: 'created_at desc' },
    });
    return { runs: page.runs ?? [], nextPageToken: page.next_page_token || undefined };
  }

  async terminateRun(runId: string): Promise<void> {
    await this.request('POST', `${API}/runs/${encodeURIComponent(runId)}:terminate`, this.ctx(`terminate run ${runId}`));
  }

  async retryRun(runId: string): Promise<void> {
    await this.request('POST', `${API}/runs/${encodeURIComponent(runId)}:retry`, this.ctx(`retry run ${runId}`));
  }

  createRecurringRun(input: CreateRecurringRunInput): Promise<KfpRecurringRun> {
    const runtime_config: Record<string, unknown> = { parameters: input.parameters };
    if (input.pipelineRoot) runtime_config.pipeline_root = input.pipelineRoot;
    const cron_schedule: Record<string, string> = { cron: input.cron };
    if (input.startTime) cron_schedule.start_time = input.startTime;
    if (input.endTime) cron_schedule.end_time = input.endTime;
    return this.request('POST', `${API}/recurringruns`, this.ctx(`create recurring run '${input.displayName}'`, input.namespace), {
      json: {
        display_name: input.displayName,
        ...(input.description ? { description: input.description } : {}),
        experiment_id: input.experimentId,
        pipeline_version_reference: { pipeline_id: input.pipelineId, pipeline_version_id: input.pipelineVersionId },
        runtime_config,
        trigger: { cron_schedule },
        max_concurrency: String(input.maxConcurrency),
        mode: 'ENABLE',
        no_catchup: input.noCatchup,
        ...(input.serviceAccount ? { service_account: input.serviceAccount } : {}),
        ...(input.namespace ? { namespace: input.namespace } : {}),
      },
    });
  }

  /** Every recurring run (of an experiment, or in a namespace), newest first. */
  async listRecurringRuns(opts: { namespace?: string; experimentId?: string } = {}): Promise<KfpRecurringRun[]> {
    const out: KfpRecurringRun[] = [];
    let token: string | undefined;
    do {
      // KFP 2.17 names the list `recurringRuns` (camelCase, as its swagger says), unlike every other list.
      const page = await this.request<{ recurringRuns?: KfpRecurringRun[]; recurring_runs?: KfpRecurringRun[]; next_page_token?: string }>(
        'GET', `${API}/recurringruns`, this.ctx('list recurring runs', opts.namespace),
        { query: { namespace: opts.namespace, experiment_id: opts.experimentId, page_size: 100, sort_by: 'created_at desc', page_token: token } },
      );
      out.push(...(page.recurringRuns ?? page.recurring_runs ?? []));
      token = page.next_page_token || undefined;
    } while (token && out.length < 10_000);
    return out;
  }

  getRecurringRun(id: string): Promise<KfpRecurringRun> {
    return this.request('GET', `${API}/recurringruns/${encodeURIComponent(id)}`, this.ctx(`get recurring run ${id}`));
  }

  /** Pauses (`false`) or resumes (`true`) a recurring run. */
  async setRecurringRunEnabled(id: string, enabled: boolean): Promise<void> {
    const verb = enabled ? 'enable' : 'disable';
    await this.request('POST', `${API}/recurringruns/${encodeURIComponent(id)}:${verb}`, this.ctx(`${enabled ? 'resume' : 'pause'} recurring run ${id}`));
  }

  async deleteRecurringRun(id: string): Promise<void> {
    await this.request('DELETE', `${API}/recurringruns/${encodeURIComponent(id)}`, this.ctx(`delete recurring run ${id}`));
  }

  /** Link to a run in the KFP UI (`<ui>/#/runs/details/<id>`), when the UI's URL is known. */
  runUrl(runId: string): string | undefined {
    return this.endpoint.uiUrl ? `${this.endpoint.uiUrl}/#/runs/details/${encodeURIComponent(runId)}` : undefined;
  }

  /** Link to a recurring run in the KFP UI, when the UI's URL is known. */
  recurringRunUrl(id: string): string | undefined {
    return this.endpoint.uiUrl ? `${this.endpoint.uiUrl}/#/recurringrun/details/${encodeURIComponent(id)}` : undefined;
  }
}
