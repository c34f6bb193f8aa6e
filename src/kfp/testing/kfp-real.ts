/**
 * The Kubeflow Pipelines 2.17.0 backend for tests: `../shared/tools/kfp-real` (beside the repository, as CI has it),
 * run as a child process. `checkSpec` is what KFP's API server does with a spec when a run is created (upload parse,
 * runtime-parameter check, Argo compilation, Argo validation); `startKfpReal` is KFP's real v2beta1 REST API over
 * in-memory stores. A missing binary is an error naming where it was looked for: tests that need it fail, they
 * never skip.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { JsonValue } from '../../core/model.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Where the binary is: `$CELLPIPE_KFP_REAL`, else `<repo>/../shared/tools/kfp-real`. */
export function kfpRealPath(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.CELLPIPE_KFP_REAL ? resolve(env.CELLPIPE_KFP_REAL) : resolve(REPO, '../shared/tools/kfp-real');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `kfp-real (the KFP 2.17.0 backend the Kubeflow tests run) is not at ${path}: ` +
        'put the shared tools folder beside the repository (../shared/tools/kfp-real) or set $CELLPIPE_KFP_REAL',
    );
  }
  return path;
}

export interface CheckResult {
  ok: boolean;
  /** KFP's error (stderr) when not ok. */
  error: string;
  /** The compiled Argo Workflow (apiserver path) when ok. */
  workflow?: ArgoWorkflow;
}

/** `kfp-real check [-params JSON] SPEC`: exit 0 and the Workflow, or 1 and KFP's error. */
export function checkSpec(yaml: string, params?: Record<string, JsonValue>): Promise<CheckResult> {
  const bin = kfpRealPath();
  const dir = mkdtempSync(join(tmpdir(), 'cellpipe-kfp-check-'));
  const spec = join(dir, 'spec.yaml');
  const out = join(dir, 'workflow.yaml');
  writeFileSync(spec, yaml);
  const args = ['check', ...(params ? ['-params', JSON.stringify(params)] : []), '-o', out, spec];
  return new Promise((resolvePromise, reject) => {
    execFile(bin, args, { timeout: 30_000, maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      try {
        const code = err ? (err as NodeJS.ErrnoException & { code?: unknown }).code : 0;
        if (err && typeof code !== 'number') return reject(new Error(`kfp-real check did not run: ${err.message}`));
        const ok = code === 0;
        resolvePromise({ ok, error: ok ? '' : stderr.trim(), workflow: ok ? (parse(readFileSync(out, 'utf8')) as ArgoWorkflow) : undefined });
      } catch (e) {
        reject(e as Error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

export interface KfpRealServer {
  /** `http://127.0.0.1:PORT` (the API is under `/apis/v2beta1`). */
  url: string;
  /** What the server logged (stderr), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `kfp-real serve --http 127.0.0.1:0`; resolves once its ready line names the port. */
export function startKfpReal(options: { multiUser?: boolean } = {}): Promise<KfpRealServer> {
  const bin = kfpRealPath();
  const child = spawn(bin, ['serve', '--http', '127.0.0.1:0', ...(options.multiUser ? ['--multi-user'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  // A test process that ends without stop() (a failed before hook) takes its server with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((r) => child.once('exit', () => {
    process.removeListener('exit', killOnExit);
    r();
  }));
  let ready = false;
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kfp-real serve printed no ready line within 20 s:\n${log.slice(-2000)}`));
    }, 20_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`kfp-real serve did not start: ${err.message}`));
    });
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`kfp-real serve exited (${code}) before it was ready:\n${log.slice(-2000)}`));
    };
    child.once('exit', early);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      log += chunk;
      if (log.length > 1 << 20) log = log.slice(-(1 << 19)); // a long test's server log stays bounded
      const m = ready ? null : /kfp-real serve: ready http=(http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        ready = true;
        clearTimeout(timer);
        child.removeListener('exit', early);
        resolvePromise({
          url: m[1],
          log: () => log,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
  });
}

/** The parts of an Argo Workflow the tests read. */
export interface ArgoWorkflow {
  metadata: { generateName?: string };
  spec: {
    arguments?: { parameters?: { name: string; value?: string }[] };
    templates: ArgoTemplate[];
  };
}

export interface ArgoTemplate {
  name: string;
  dag?: { tasks: { name: string; template: string; arguments?: { parameters?: { name: string; value?: string }[] } }[] };
  container?: { image?: string };
  retryStrategy?: { limit?: string };
}

/** What a step's executor will run, read from the compiled Workflow as KFP's driver receives it. */
export interface ExecutorView {
  /** The executor's container spec (image, command, args, env, resources), as passed to the driver. */
  container: { image: string; command?: string[]; args?: string[]; env?: { name: string; value: string }[]; resources?: Record<string, unknown> };
  /** The Kubernetes executor config (secrets, volumes, pod metadata, deadline) passed to the driver, if any. */
  kubernetes?: Record<string, unknown>;
  /** The executor task's template and arguments (retry settings, pod labels). */
  template: string;
  arguments: Record<string, string>;
  /** The executor template's Argo retry strategy, if any. */
  retryStrategy?: { limit?: string };
}

/**
 * The executor of every task in the root DAG. The Argo compiler hands each task's container spec to its driver as a
 * workflow argument (`{{workflow.parameters.implementations-…}}`); the driver turns it into the pod the task runs.
 */
export function executorsOf(wf: ArgoWorkflow): Record<string, ExecutorView> {
  const wfArgs = new Map((wf.spec.arguments?.parameters ?? []).map((p) => [p.name, p.value ?? '']));
  const deref = (v: string | undefined): string => {
    const m = /^\{\{workflow\.parameters\.([^}]+)\}\}$/.exec(v ?? '');
    return m ? wfArgs.get(m[1]) ?? '' : v ?? '';
  };
  const templates = new Map(wf.spec.templates.map((t) => [t.name, t]));
  const root = templates.get('root');
  if (!root?.dag) throw new Error('the workflow has no root DAG template');
  const args = (t: { arguments?: { parameters?: { name: string; value?: string }[] } }) =>
    Object.fromEntries((t.arguments?.parameters ?? []).map((p) => [p.name, p.value ?? '']));
  // The executor template is a DAG around the container template (`…-impl`) that carries Argo's retry strategy.
  const retryOf = (name: string, depth = 0): { limit?: string } | undefined => {
    const t = templates.get(name);
    if (!t || depth > 3) return undefined;
    return t.retryStrategy ?? t.dag?.tasks.map((x) => retryOf(x.template, depth + 1)).find((r) => r !== undefined);
  };
  const out: Record<string, ExecutorView> = {};
  for (const driver of root.dag.tasks.filter((t) => t.name.endsWith('-driver'))) {
    const task = driver.name.slice(0, -'-driver'.length);
    const exec = root.dag.tasks.find((t) => t.name === task);
    if (!exec) continue;
    const d = args(driver);
    const k8s = deref(d['kubernetes-config']);
    out[task] = {
      container: JSON.parse(deref(d.container)) as ExecutorView['container'],
      ...(k8s ? { kubernetes: JSON.parse(k8s) as Record<string, unknown> } : {}),
      template: exec.template,
      arguments: args(exec),
      retryStrategy: retryOf(exec.template),
    };
  }
  return out;
}
