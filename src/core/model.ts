/**
 * The shapes that flow through cellpipe's stages: notebook → tagged cells → step graph → pipeline spec.
 * Pure data, no behaviour: every front end (CLI, backend, JupyterLab) and every runtime speaks these.
 */

/** How bad a finding is. `error` stops compilation; `warning` and `info` are shown on the cell. */
export type Severity = 'error' | 'warning' | 'info';

/** A finding about the notebook, always pointing at what the user can fix. */
export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable code, e.g. `unknown-tag`, `cycle`, `undefined-name`. */
  code: string;
  /** What is wrong, in the user's words. */
  message: string;
  /** What to do about it. */
  hint?: string;
  /**
   * 0-based index of the cell in the notebook's `cells` array (markdown cells count), when the finding is about a
   * cell. Text for people says `cellLabel(cell)` ("cell 7" for index 6, as JupyterLab numbers cells).
   */
  cell?: number;
  /** The cell's nbformat id, when the notebook has ids. */
  cellId?: string;
  /** 1-based line inside the cell's source. */
  line?: number;
  /** 1-based column inside that line. */
  column?: number;
  /** The step the finding concerns, when there is one. */
  step?: string;
}

export type CellType = 'code' | 'markdown' | 'raw';

/** One notebook cell as cellpipe sees it: source joined into one string, tags as written. */
export interface NotebookCell {
  index: number;
  id?: string;
  type: CellType;
  source: string;
  tags: string[];
  /** Kale 2.3's `notebook_path` cell metadata: the notebook a `notebook:<name>` cell references, relative to this one. */
  notebookPath?: string;
  /**
   * Set on the cells a composition brought in from a referenced notebook (src/core/compose.ts): the `notebook:` name
   * of the unit, the notebook's path (relative to the root notebook's folder) and the cell's index in it.
   */
  origin?: { unit: string; notebook: string; index: number };
}

/** A notebook reduced to what compilation needs. */
export interface Notebook {
  nbformat: number;
  nbformatMinor: number;
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
}

/** Python value types a pipeline parameter can have, as declared by its literal in the parameters cell. */
export type ParameterType = 'int' | 'float' | 'str' | 'bool' | 'list' | 'dict';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface Parameter {
  name: string;
  type: ParameterType;
  default: JsonValue;
  /** Where the parameter is declared: 0-based cell index (as `Diagnostic.cell`) and 1-based line. */
  cell: number;
  line: number;
}

/** A secret exposed to a step as an environment variable (`secret:<secret>:<key>:<ENV>`). */
export interface SecretEnv {
  secret: string;
  key: string;
  env: string;
}

/** A Kubernetes volume mounted into every step (Kale's `volumes` notebook setting, PVC kind). */
export interface VolumeMount {
  name: string;
  mountPoint: string;
}

/** Role of a cell in the pipeline, from its tags. */
export type CellRole = 'imports' | 'functions' | 'pipeline-parameters' | 'pipeline-metrics' | 'skip' | 'step';

/** Whether a file a step reads goes into its image, as far as the code tells (existence and size are checked at build time). */
export type FileStatus =
  /** Relative, inside the notebook's folder: packaged into the images (if it exists and fits the size limit). */
  | 'travels'
  /** Left out by a `!path` entry of `metadata.cellpipe.files`. */
  | 'excluded'
  /** An absolute path under a mounted volume's mount point: the volume brings it. */
  | 'volume'
  /** An absolute path: only on this machine. */
  | 'absolute'
  /** A relative path leading out of the notebook's folder. */
  | 'outside';

/** One file (or pattern) a step reads. */
export interface StepFile {
  /** Relative to the notebook's folder, normalised (`data/weather.csv`); as written when absolute. A pattern has `*`. */
  path: string;
  /** True when `path` has variable parts (`*`) and stands for every file that matches. */
  pattern?: boolean;
  /** The reader, qualified: `pandas.read_csv`, `open`, `pathlib.Path.read_text`, `pickle.load(open(…))`. */
  reader: string;
  /** 0-based index of the cell that reads it, and the 1-based line. */
  cell: number;
  line: number;
  /** The pipeline parameter whose default names it, when one does. */
  parameter?: string;
  status: FileStatus;
}

/** One pipeline step: a named group of cells that runs as one process or container. */
export interface Step {
  name: string;
  /** Indices of the step's own cells, in notebook order. */
  cells: number[];
  /** Variables loaded from upstream steps before the code runs, sorted. */
  inputs: string[];
  /** Variables saved for downstream steps after the code ran, sorted. */
  outputs: string[];
  /** Which step produces each input. */
  inputSources: Record<string, string>;
  /** Pipeline parameters the step's code (or the shared imports/functions code) reads, sorted. */
  parameters: string[];
  /** Metric names this step writes, sorted. */
  metrics: string[];
  /** Image override from `image:` (else the pipeline's base image). */
  image?: string;
  /** Resource limits from `limit:<resource>:<value>` (e.g. `cpu`, `memory`, `nvidia.com/gpu`). */
  limits: Record<string, string>;
  cache: boolean;
  retries: number;
  /** Seconds; 0 means none. */
  timeout: number;
  requirements: string[];
  secrets: SecretEnv[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Non-secret environment variables (`metadata.cellpipe.env`, then the step's `env:` tags), keys sorted. */
  env: Record<string, string>;
  /** Files its code reads (src/core/files.ts), in cell order; set by the compiler. */
  files?: StepFile[];
  /**
   * For a step of a referenced notebook (Kale 2.3's `notebook:<name>` cell): the unit's name, the notebook's path
   * (relative to the root notebook's folder) and the step's name in that notebook.
   */
  unit?: { name: string; notebook: string; step: string };
  /** The imports/functions cells run before this step, when they are not `StepGraph.prelude` (a referenced notebook's own). */
  prelude?: number[];
}

/** Notebook-level settings (Kale's `metadata.kubeflow_notebook` merged with cellpipe's `metadata.cellpipe`). */
export interface PipelineSettings {
  name: string;
  description: string;
  experiment: string;
  baseImage: string;
  volumes: VolumeMount[];
}

/** The analysed pipeline: what the sidebar draws and what the compiler and runtimes consume. */
export interface StepGraph {
  pipeline: PipelineSettings;
  steps: Step[];
  /** `[from, to]`, sorted. Includes explicit `prev:` edges and edges implied by data. */
  edges: [string, string][];
  parameters: Parameter[];
  /** Metric names from the `pipeline-metrics` cell, in order. */
  metrics: string[];
  /** Cells run before every step's own cells: `imports` then `functions`, in notebook order. */
  prelude: number[];
}

/**
 * The step runtime's input: everything one step needs to run, independent of where it runs.
 * Serialised as JSON and handed to `python -m cellpipe_runtime run --program …`.
 */
export interface StepProgram {
  format: 'cellpipe.step/v1';
  pipeline: string;
  step: string;
  /** Notebook path as given to the compiler (for messages). */
  notebook: string;
  /** Prelude cells then the step's own cells, in the order they run. */
  cells: { index: number; id?: string; role: CellRole; source: string }[];
  parameters: { name: string; type: ParameterType }[];
  inputs: string[];
  outputs: string[];
  metrics: string[];
}
