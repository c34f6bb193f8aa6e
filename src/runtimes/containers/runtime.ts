/**
 * The container runtime: a pipeline on this machine with every step in its own image, as Kubeflow would run it
 * but without a cluster or a daemon. It is the local runtime (same scheduling, run records, logs in the run
 * store, cache, cancel, timeouts, retries) with one difference: an attempt of a step is a runc container.
 *
 * For each attempt: the step's image is pulled and its layers unpacked (both cached, see images.ts), the root
 * filesystem is an overlay with a writable folder of this attempt, the executor's command and args from the
 * compiled spec are resolved from an ExecutorInput (`kfp/placeholders.ts`) whose artifact URIs map to `/minio/cellpipe/…`
 * paths, and exactly those artifact folders are bind-mounted there: inputs read-only, this step's outputs
 * read-write. Whatever ends the attempt, the container is deleted and the overlay unmounted.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JsonValue } from '../../core/model.js';
import { quantityValue } from '../../core/quantity.js';
import { LocalRuntime, type ActiveRun, type LocalRuntimeOptions, type StepLaunch, type StepResult } from '../local/runtime.js';
import type { RunRequest } from '../types.js';
import { CELL_OUTPUTS_FILE } from '../../runs/outputs.js';
import { ImageStore, mountRootfs, unmountRootfs } from './images.js';
import { runtimeConfig, type BindMount } from './oci-spec.js';
import { executorInputFor, launcherArgv } from '../../kfp/placeholders.js';
import { containerId, deleteContainer, killContainer, runArgs, runcPath } from './runc.js';
import { registerContainerLeftovers } from './leftovers.js';
import { specTasks, type SpecDoc, type SpecTask } from '../../kfp/tasks.js';
import { resolveUser } from './users.js';
import { localSecrets } from '../secrets.js';
import { ORDERED_LOG_ENV } from '../local/ordered-log.js';

export interface ContainerRuntimeOptions extends LocalRuntimeOptions {
  images: ImageStore;
  /** Give containers the host's network (default true, as a local step has). */
  network?: boolean;
}

export interface ContainerRunRequest extends RunRequest {
  /** Step → image (`host/repo@sha256:…`, or `oci:DIR:TAG`). */
  images: Record<string, string>;
  /** The pipeline spec compiled for these images (its executors say what each container runs). */
  spec: SpecDoc;
}

const IN = '/minio/cellpipe/in';
const OUT = '/minio/cellpipe/out';
const CTL = '/cellpipe-run';

export class ContainerRuntime extends LocalRuntime {
  readonly images: ImageStore;
  readonly network: boolean;
  protected override readonly runtimeKind = 'containers' as const;
  private readonly tasks = new WeakMap<object, Map<string, SpecTask>>();

  constructor(options: ContainerRuntimeOptions) {
    super(options);
    this.images = options.images;
    this.network = options.network ?? true;
    registerContainerLeftovers();
  }

  override async submit(request: RunRequest): Promise<string> {
    const r = request as ContainerRunRequest;
    runcPath(); // a missing runc is an error now, naming its package
    const missing = r.graph.steps.filter((s) => !r.images?.[s.name]).map((s) => s.name);
    if (missing.length) throw new Error(`cannot run in containers: no image for step ${missing.map((m) => `'${m}'`).join(', ')}`);
    if (!r.spec) throw new Error('cannot run in containers: the request has no pipeline spec');
    specTasks(r.spec); // a broken spec fails here, not in a step
    return super.submit(request);
  }

  protected override cacheSalt(run: ActiveRun, step: string): string {
    // By digest only: the same image from another registry (or another port of the private one) is the same image.
    const ref = (run.request as ContainerRunRequest).images[step];
    return ` image=${ref.includes('@') ? ref.slice(ref.indexOf('@') + 1) : ref}`;
  }

  private taskOf(run: ActiveRun, step: string): SpecTask {
    const req = run.request as ContainerRunRequest;
    let t = this.tasks.get(req);
    if (!t) {
      t = specTasks(req.spec);
      this.tasks.set(req, t);
    }
    const task = t.get(step);
    if (!task) throw new Error(`step '${step}' has no task in the pipeline spec`);
    return task;
  }

  protected override async launchStep(l: StepLaunch): Promise<StepResult> {
    const req = l.run.request as ContainerRunRequest;
    const task = this.taskOf(l.run, l.step.name);
    const reference = req.images[l.step.name];
    const pulled = await this.images.pull(reference);
    const layers = await this.images.unpackLayers(pulled);

    // Cancelled while the image was being fetched: start nothing (the local runtime records the cancel).
    if (l.run.aborted) return { exitCode: 130, timedOut: false };
    const id = containerId(l.runId, l.step.name, l.attempt);
    const bundle = path.join(l.stepDir, `container-${l.attempt}`);
    const ctl = path.join(l.stepDir, `ctl-${l.attempt}`);
    fs.rmSync(bundle, { recursive: true, force: true });
    fs.rmSync(ctl, { recursive: true, force: true });
    fs.mkdirSync(bundle, { recursive: true });
    fs.mkdirSync(ctl, { recursive: true });
    const outputsDir = path.join(l.stepDir, 'outputs');
    fs.mkdirSync(outputsDir, { recursive: true });

    await deleteContainer(id); // a leftover of a runner killed mid-step
    let mounted = false;
    try {
      await mountRootfs(layers, bundle);
      mounted = true;
      const mounts: BindMount[] = [{ destination: OUT, source: outputsDir }, { destination: CTL, source: ctl }];
      const inputUris: Record<string, string> = {};
      for (const [name, source] of Object.entries(l.inputs)) {
        inputUris[name] = `minio://cellpipe/in/${name}`;
        mounts.push({ destination: `${IN}/${name}`, source, readonly: true });
      }
      const parameters: Record<string, JsonValue> = task.parameters(req.parameters);
      const input = executorInputFor(task.component, {
        parameters,
        inputUris,
        outputRoot: 'minio://cellpipe/out',
        outputFilesDir: `${OUT}/parameters`,
        outputFile: `${OUT}/executor_output.json`,
      });
      const context = { pipelineTaskName: task.task, pipelineJobName: req.graph.pipeline.name, pipelineJobUuid: l.runId };
      let launched: { command?: string[]; args: string[] };
      try {
        launched = launcherArgv(task.container, input, context);
      } catch (err) {
        throw new Error(`step '${l.step.name}': ${(err as Error).message}`);
      }
      const command = launched.command;
      const args = [
        ...launched.args,
        // cellpipe's own runtime flags (not KFP's): the failing cell and line go into the run record.
        '--error-record', `${CTL}/error.json`,
        // What each cell showed, for the run store as a local step records it (the spec's HTML page goes to OUT).
        '--cell-outputs', `${CTL}/${CELL_OUTPUTS_FILE}`,
        ...(this.dumpVariables ? ['--dump-variables', `${CTL}/variables`] : []),
      ];
      // The runner's environment holds the value under the variable's own name (as a local step sees it), or
      // CELLPIPE_SECRETS_FILE does (secrets.ts; the step's log says which, by name).
      const secretEnv: Record<string, string> = { ...localSecrets(l.step.secrets, this.env).values };
      for (const s of l.step.secrets) {
        const v = this.env[s.env];
        if (v !== undefined) secretEnv[s.env] = v;
      }
      // The image's user (a name needs the image's /etc/passwd); the folders it writes are made its own, as the
      // writable volumes of a pod are.
      const read = (f: string) => {
        try {
          return fs.readFileSync(path.join(bundle, 'rootfs', f), 'utf8');
        } catch {
          return '';
        }
      };
      const user = resolveUser(pulled.config.User, read('etc/passwd'), read('etc/group'));
      if (user.uid !== 0) for (const d of [outputsDir, ctl, ...Object.values(l.outputs)]) fs.chownSync(d, user.uid, user.gid);
      const config = runtimeConfig({
        image: pulled.config,
        command,
        args,
        env: [...(task.container.env ?? []), { name: 'CELLPIPE_RUN_ID', value: l.runId }, { name: ORDERED_LOG_ENV, value: '1' }],
        secretEnv,
        rootfs: 'rootfs',
        hostname: `cellpipe-${task.task}`.slice(0, 63),
        mounts,
        network: this.network,
        ...limits(l.step.limits),
      }, user);
      // 0600: secrets may be in it; it is removed with the container.
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config, null, 1), { mode: 0o600 });
      const result = await this.spawnStep(l.runId, l.run, l.step, l.attempt, [], l.scratch, l.workdir, {
        file: runcPath(), args: runArgs(bundle, id), cwd: bundle, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      }, { container: id });
      this.collect(l, ctl, outputsDir);
      return result;
    } finally {
      await deleteContainer(id);
      if (mounted) await unmountRootfs(bundle);
      fs.rmSync(bundle, { recursive: true, force: true });
    }
  }

  /** Moves what the container wrote for the runner to where the local runtime reads it. */
  private collect(l: StepLaunch, ctl: string, outputsDir: string): void {
    const move = (from: string, to: string) => {
      if (fs.existsSync(from)) fs.renameSync(from, to);
    };
    move(path.join(ctl, 'error.json'), l.errorFile);
    move(path.join(ctl, CELL_OUTPUTS_FILE), l.cellOutputsFile);
    move(path.join(outputsDir, 'mlpipeline_metrics.values.json'), `${l.metricsFile}.values.json`);
    move(path.join(outputsDir, 'mlpipeline_metrics'), l.metricsFile);
    if (this.dumpVariables) {
      const target = path.join(l.stepDir, 'variables');
      fs.rmSync(target, { recursive: true, force: true });
      move(path.join(ctl, 'variables'), target);
    }
    fs.rmSync(ctl, { recursive: true, force: true });
  }

  /** Stops the container: SIGTERM to its processes, SIGKILL after the grace period. */
  protected override stopChild(child: ChildProcess): void {
    const id = child.spawnargs[child.spawnargs.length - 1];
    if (!id?.startsWith('cellpipe-')) {
      super.stopChild(child);
      return;
    }
    void killContainer(id, 'TERM');
    const t = setTimeout(() => void killContainer(id, 'KILL'), this.killGraceMs);
    t.unref();
    child.once('close', () => clearTimeout(t));
  }
}

/** The step's `limit:cpu` / `limit:memory` as the container's cgroup limits (other resources have no local meaning). */
function limits(l: Record<string, string>): { memoryBytes?: number; cpus?: number } {
  const memory = l.memory !== undefined ? quantityValue(l.memory) : undefined;
  const cpu = l.cpu !== undefined ? quantityValue(l.cpu) : undefined;
  return { ...(memory ? { memoryBytes: memory } : {}), ...(cpu ? { cpus: cpu } : {}) };
}
