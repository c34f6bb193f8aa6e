/**
 * The run vocabulary: the run record every runtime (this machine, containers, Kubeflow) produces, its steps, logs
 * and schedules. Types only, so every layer — the store, the Kubeflow client, the page — can see them; the UI and
 * the CLI read run records only and never need to know which runtime made one.
 */
import type { JsonValue, ParameterType } from '../core/model.js';

export type RunState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StepState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cached' | 'skipped' | 'cancelled';

/** Where a failing step raised, as written by the step runtime's error record. */
export interface StepError {
  message: string;
  /** Exception class, e.g. `ZeroDivisionError`. */
  type?: string;
  /** 0-based index (in the notebook's `cells`, markdown counted) of the cell that raised, its id and first line.
   * Messages name it `cellLabel(cell)`, 1-based as JupyterLab shows it. */
  cell?: number;
  cellId?: string;
  cellFirstLine?: string;
  /** 1-based line inside that cell. */
  line?: number;
  traceback?: string;
  /** The notebook cells (0-based index, id) and lines whose calls led to the raising one, outermost first: the
   *  step's own cell calling a function of a `functions` cell, say. Absent when it raised where it ran. */
  calledFrom?: { cell: number; cellId?: string; line: number }[];
}

export interface StepRecord {
  name: string;
  state: StepState;
  /** ISO timestamps. */
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  attempts: number;
  error?: StepError;
  outputs: StepOutput[];
  metrics: Record<string, number | string>;
  /** Kubernetes pod of the latest attempt (Kubeflow runs). */
  pod?: string;
  /** Local runs: pid (= process group id) of the latest attempt and its start time (`/proc` ticks), for cancel
   *  from another process and orphan clean-up. */
  pid?: number;
  pidStart?: string;
  /** Local runs: the cache key of this step's execution, and the run whose outputs a `cached` step reused. */
  cacheKey?: string;
  cachedFrom?: string;
  /** Set when the step was not chosen in a partial run (`--only`/`--from`) and took `cachedFrom`'s outputs. */
  reused?: boolean;
  /** Local runs: hash of the step's program, to tell whether a reused step's code changed since (`runs/partial.ts`). */
  programHash?: string;
  /** What each cell of the step showed (nbformat outputs, `runs/outputs.ts`): the file's path relative to the run
   *  store's folder — a `cached` step's points at the outputs of the run that executed it. */
  cellOutputs?: string;
  /** Container runs: the runc container id of the latest attempt. */
  container?: string;
  /** Local runs: how the latest attempt started — `warm` (forked from a fork server that had run the imports
   *  cells), or `cold` (a fresh Python), then with why in `coldStartReason` (also in the step's log). */
  start?: 'warm' | 'cold';
  coldStartReason?: string;
  /** What a pending step waits for, and since when: e.g. its fork server running the imports cells (local runs). */
  preparing?: { what: string; since: string };
  /**
   * A step of a referenced notebook (Kale 2.3's `notebook:` cells): the unit's name, that notebook's path (relative
   * to the run's notebook's folder) and the step's name there — so that notebook, opened on its own, finds the run.
   */
  unit?: { name: string; notebook: string; step: string };
}

/** One output artifact of a step (extra fields are local-runtime details). */
export interface StepOutput {
  name: string;
  bytes: number;
  /** sha256 of the artifact's content (files and their relative paths), used for downstream cache keys. */
  sha256?: string;
  /** Absolute path of the artifact directory (local runs). */
  path?: string;
}

/** The process that executes a run (local runs): used to tell a live run from one whose runner died. */
export interface RunnerInfo {
  pid: number;
  host: string;
  /** Process start time in clock ticks since boot (`/proc/<pid>/stat` field 22), guards against pid reuse. */
  startTime?: string;
}

export interface RunRecord {
  id: string;
  /** Notebook path (as given: relative to the workspace for the backend) and the sha256 of its bytes. */
  notebook: string;
  notebookHash: string;
  specHash: string;
  /** `containers`: on this machine, each step in its own image (runc). */
  runtime: 'local' | 'containers' | 'kubeflow';
  /** Profile name for Kubeflow runs. */
  profile?: string;
  parameters: Record<string, JsonValue>;
  /**
   * Each parameter's type as the notebook declares it, so a float the notebook writes 14.0 is shown 14.0, not 14
   * (JSON has one number type). Absent in records made before it was kept, and for runs a schedule made.
   */
  parameterTypes?: Record<string, ParameterType>;
  state: RunState;
  /** Why a run ended as it did, e.g. `interrupted` when its runner died. */
  reason?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  steps: StepRecord[];
  /** Link to the run in an external UI (Kubeflow). */
  url?: string;
  /** Runtime-specific identifiers (e.g. KFP run id). */
  external?: Record<string, string>;
  /** Local runs: the process executing the run. */
  runner?: RunnerInfo;
  /** Kubeflow runs: the process streaming the step pods' logs into the store (one at a time). */
  logWatcher?: RunnerInfo;
  /** Set when someone asked to cancel the run (possibly from another process); the runner reacts to it. */
  cancelRequestedAt?: string;
  /**
   * Kubeflow runs made before they are submitted (the backend does this so a UI can show the submission):
   * the stage reached, validate → build → upload → run, and what it is doing (e.g. `uploaded 1.2 MB`,
   * `4 images, 3 unchanged`). `run` means the run exists in Kubeflow; from then on `state` and `steps` tell the rest.
   */
  stage?: SubmitStage;
  stageDetail?: string;
  /** A person's short note on the run (core/run-note.ts: one line of plain text, at most 200 characters). */
  note?: string;
}

/** The stages of submitting a notebook to Kubeflow. */
export type SubmitStage = 'validate' | 'build' | 'upload' | 'run';

/** One log line of one step, as stored. */
export interface LogLine {
  /** ISO timestamp of arrival. */
  time: string;
  stream: 'stdout' | 'stderr' | 'system';
  text: string;
}

/** A log line in a window of a step's log (`GET …/logs/:step?format=json`): its 0-based index and, when its text was cut, the whole line's stored size in bytes. */
export interface WindowLine extends LogLine {
  n: number;
  cut?: number;
}

/** Lines [from, from + lines.length) of a step's log, which has `total` lines now. */
export interface LogWindow {
  from: number;
  lines: WindowLine[];
  total: number;
}

/** Characters [start, start + text.length) of one log line whose whole text is `length` characters (`GET …/lines/:n`). */
export interface LineText extends LogLine {
  n: number;
  start: number;
  length: number;
}

/** The earlier run a partial run takes its not-chosen steps from. */
export interface PartialReuse {
  runId: string;
  /** Step name → what that run recorded for it. `staleness`: its code changed since (`stale`) or can't be told. */
  steps: Record<string, { outputs: StepOutput[]; metrics: Record<string, number | string>; programHash?: string; staleness?: 'stale' | 'unknown' }>;
  /** Not chosen and not reusable (that run has no outputs of them) and no chosen step needs them: left out. */
  omitted: string[];
}

/** A schedule as the backend lists it (`GET /api/schedules`) and the sidebar shows it. */
export interface ScheduleView {
  id: string;
  name: string;
  profile: string;
  /** The notebook path it was scheduled from, when cellpipe made it. */
  notebook?: string;
  /** 5 fields as written (KFP's seconds field dropped), or KFP's own text when it has other seconds. */
  cron: string;
  kfpCron?: string;
  paused: boolean;
  /** The next three run times (ISO 8601, UTC); none while paused. */
  next: string[];
  parameters: Record<string, JsonValue>;
  maxConcurrency: number;
  catchUp: boolean;
  pipelineVersionId?: string;
  createdAt?: string;
  url?: string;
}
