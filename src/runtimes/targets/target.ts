/**
 * A target: where a run goes (this machine, this machine in containers, a Kubeflow profile). Every way of starting a
 * run — the backend's `POST /api/runs`, `cellpipe run`, `cellpipe submit` — asks a target to plan the run (a partial
 * run's steps), then to start it (the run record made, the compiled request submitted). What a target can do is
 * declared in its `capabilities`, so callers never find it out by looking at the runtime's class.
 *
 * A new target is one file here that exports a `TargetKind`, plus its line in `./index.ts`.
 */
import { CellpipeError } from '../../core/errors.js';
import type { CompileResult } from '../../core/compile.js';
import type { JsonValue, StepGraph } from '../../core/model.js';
import type { PartialPlan, PartialSelection } from '../../runs/plan.js';
import type { RunStore } from '../../runs/store.js';
import type { Profile } from '../../kube/profile.js';
import type { LocalRuntime } from '../local/runtime.js';
import type { InImagesOptions } from '../containers/setup.js';
import type { Prepared } from '../containers/prepare.js';
import type { ContainerRuntime } from '../containers/runtime.js';
import type { KubeflowRuntime, SubmitProgress } from '../kubeflow/runtime.js';
import type { RunRecord } from '../../runs/types.js';
import type { Runtime } from '../types.js';

/** What a target can do, declared. */
export interface TargetCapabilities {
  /** A fork server can run the imports cells before the next run (`POST /api/prewarm`). */
  prewarm: boolean;
  /** The steps a partial run does not choose take an earlier run's outputs, named by `reuse` or found in the store;
   *  without it they take what the target itself has cached (KFP's cache). */
  reuse: boolean;
  /** Recurring runs (`POST /api/schedules`, `cellpipe schedule`). */
  schedules: boolean;
  /** The steps run elsewhere and go on when the process that started them stops (the backend stops the others). */
  detached: boolean;
  /** What each cell showed is recorded per step (`GET /api/runs/:id/outputs`). */
  cellOutputs: boolean;
}

/**
 * Why a target refuses a run, before anything is recorded. `kind` says whose the mistake is: `usage` — the request
 * (a wrong step name, a field this target does not take); `conflict` — the state of things (no earlier run to reuse,
 * the target not usable on this machine).
 */
export class TargetError extends CellpipeError {
  constructor(
    readonly kind: 'usage' | 'conflict',
    message: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

/** A compile that succeeded: it has its graph. */
export type Compiled = CompileResult & { graph: StepGraph };

/** One run to start: the notebook, compiled, and what the user chose. */
export interface RunInput {
  /** The notebook file (absolute; read for images and the files the steps read). */
  path: string;
  /** The path as recorded in the run and shown in messages. */
  shown: string;
  /** The notebook's bytes, as compiled. */
  bytes: Buffer;
  /** Its compile (with `defaultBaseImage`): what local runs execute and what Kubeflow and container runs check. */
  compiled: Compiled;
  parameters: Record<string, JsonValue>;
  /** Reuse unchanged steps' outputs (default true). */
  cache?: boolean;
  /** A partial run: the chosen steps (and, where the target takes it, the earlier run the others come from). */
  selection?: PartialSelection;
  store: RunStore;
  /** Directory the steps run in (local runs): the notebook's. */
  workdir: string;
  /** Which recorded notebook paths are this notebook (partial runs looking for an earlier run of it). */
  sameNotebook?: (recorded: string) => boolean;
  /** Steps at once (local and container runs). */
  concurrency?: number;
  /** Base image for a notebook that names none (a user setting). */
  defaultBaseImage?: string;
}

/** A run that started: its id and the runtime that executes (or watches) it. */
export interface Started {
  runId: string;
  runtime: Runtime;
  /** Resolves when what the target set up for this run alone (a private registry) is released. */
  released?: Promise<void>;
}

/** What runs this machine's steps: the local runtime (pre-warms), or one a test scripts. */
export type LocalRunner = Runtime & Partial<Pick<LocalRuntime, 'prewarm'>>;

/** What pre-warming answers: warm (the fork server's pid), or why not. */
export type PrewarmResult = Awaited<ReturnType<LocalRuntime['prewarm']>>;

/** A target, ready for runs into one store. */
export interface Target {
  readonly kind: RunRecord['runtime'];
  readonly capabilities: TargetCapabilities;
  /** Checks a partial selection and plans it (which earlier run supplies what); undefined for a whole run.
   *  Throws a TargetError before anything is built or recorded. */
  plan(input: RunInput): Promise<PartialPlan | undefined>;
  /** Creates the run record and submits the run; resolves once the record exists. */
  start(input: RunInput, plan: PartialPlan | undefined): Promise<Started>;
  /** With `capabilities.prewarm`: runs the imports cells of the notebook's first step ahead of its next run. */
  prewarm?(input: Pick<RunInput, 'store' | 'compiled' | 'workdir'>): Promise<PrewarmResult>;
}

/**
 * What the caller provides to targets: the runtimes it keeps (the backend keeps one per store and profile) and hooks
 * for what it shows or remembers. Each target takes the part it needs.
 */
export interface TargetHost {
  env?: NodeJS.ProcessEnv;
  /** The runtime running `store`'s runs on this machine. */
  localRuntime(store: RunStore): LocalRunner | Promise<LocalRunner>;
  /** A Kubeflow profile by name; throws saying what is wrong with it, or which ones are known. */
  profile(name: string): Promise<Profile>;
  /** The Kubeflow runtime of `profile` writing into `store`. */
  kubeflowRuntime(profile: Profile, store: RunStore): Promise<KubeflowRuntime>;
  /** Container runs: where the images go, progress and notes (default: a private registry, no output). */
  containers?: Omit<InImagesOptions, 'store' | 'notebookPath' | 'shown' | 'text' | 'concurrency'>;
  /** Container runs: the images are built (`prepared.built.files`: which files went into them) and the runtime made,
   *  before the run is submitted (listen to it here). */
  containersReady?(ready: { prepared: Prepared; runtime: ContainerRuntime }): void;
  /**
   * Kubeflow runs submitted while the caller waits (`cellpipe submit`), instead of recorded at once and submitted in
   * the background: the record is made once the KFP run exists, and a failed submission leaves none.
   */
  kubeflowNow?: {
    /** `build` (default): step images built and pushed; `inline`: every step on the base image, its program in the spec. */
    images?: 'build' | 'inline';
    /** Parameters as typed on the command line (`NAME=TEXT`), converted by each parameter's type in the spec. */
    parameterTexts?: Record<string, string>;
    onProgress?: (p: SubmitProgress) => void;
  };
  /** Kubeflow runs: called once the run is recorded, before it is submitted (the backend remembers it). */
  kubeflowRecorded?(runId: string, profile: Profile): Promise<void>;
  /** Kubeflow runs: the submission ended without a KFP run (failed or cancelled). */
  kubeflowAbandoned?(runId: string): Promise<void>;
}

/** One kind of target: which `target` names are its, and how to open one. */
export interface TargetKind {
  readonly kind: RunRecord['runtime'];
  readonly capabilities: TargetCapabilities;
  /** Whether `name` (the `target` of `POST /api/runs`) names a target of this kind; kinds are asked in order. */
  claims(name: string): boolean;
  open(name: string, host: TargetHost): Promise<Target>;
}
