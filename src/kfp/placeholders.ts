/**
 * KFP v2 placeholders resolved from an ExecutorInput, the way KFP's launcher does it before it starts the user's
 * command (read from `backend/src/v2/component/launcher_v2.go` for behaviour: `getPlaceholders`,
 * `LocalPathForURI`; the constant ones as `kfp.local` resolves them). Pure: no I/O, so a kubelet-like test or
 * another runner can reuse it.
 *
 * - Each placeholder is replaced everywhere it occurs, inside longer strings too (a plain `ReplaceAll`).
 * - Artifacts: the first artifact of each list gives `.uri` and `.path` (the URI mapped to a local path:
 *   `gs://` → `/gcs/`, `minio://` → `/minio/`, `s3://` → `/s3/`); an output URI with no local path is an error,
 *   an input's is just left unresolved, as in the launcher.
 * - Parameters: strings raw, numbers as the shortest decimal without an exponent, booleans `true`/`false`,
 *   lists and structs as compact JSON.
 * - `{{$}}` is the ExecutorInput as JSON; `{{$.outputs.output_file}}` its `outputs.outputFile`.
 * - Elements that are `{"Concat": […]}` / `{"IfPresent": {…}}` JSON (older component YAML) are resolved to a
 *   string / a list of elements.
 */
import type { JsonValue } from '../core/model.js';
import { CellpipeError } from '../core/errors.js';

export interface RuntimeArtifact {
  name?: string;
  uri: string;
  type?: { schemaTitle?: string; schemaVersion?: string };
  metadata?: Record<string, JsonValue>;
}

export interface ArtifactList {
  artifacts: RuntimeArtifact[];
}

/** `ml_pipelines.ExecutorInput` in proto-JSON form (camelCase keys). */
export interface ExecutorInput {
  inputs?: {
    parameterValues?: Record<string, JsonValue>;
    artifacts?: Record<string, ArtifactList>;
  };
  outputs?: {
    parameters?: Record<string, { outputFile: string }>;
    artifacts?: Record<string, ArtifactList>;
    outputFile?: string;
  };
}

/** Run and task facts for the `{{$.pipeline_…}}` placeholders. */
export interface TaskContext {
  pipelineJobName?: string;
  pipelineJobResourceName?: string;
  pipelineJobUuid?: string;
  pipelineTaskName?: string;
  pipelineTaskUuid?: string;
  pipelineRoot?: string;
}

export class PlaceholderError extends CellpipeError {
  constructor(message: string) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

/** The local path KFP's launcher gives a URI, or undefined for a scheme it does not map. */
export function localPathForUri(uri: string): string | undefined {
  for (const [scheme, root] of [['gs://', '/gcs/'], ['minio://', '/minio/'], ['s3://', '/s3/']] as const) {
    if (uri.startsWith(scheme)) return root + uri.slice(scheme.length);
  }
  if (uri.startsWith('oci://')) return `/oci/${uri.slice('oci://'.length).replaceAll('/', '_')}/models`;
  return undefined;
}

/** A number as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it: shortest round-trip digits, never an exponent. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
  const text = String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const [, sign, lead, frac = '', expText] = m;
  const digits = lead + frac;
  const exp = Number(expText);
  if (exp >= 0) {
    const whole = digits.padEnd(exp + 1, '0');
    const point = exp + 1;
    return sign + whole.slice(0, point) + (whole.length > point ? '.' + whole.slice(point) : '');
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

/** A parameter value as the launcher substitutes it. */
export function parameterText(value: JsonValue): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) throw new PlaceholderError('a null parameter value has no text form');
  return JSON.stringify(value);
}

/** Every placeholder the ExecutorInput defines, mapped to its text. */
export function placeholderValues(input: ExecutorInput, task: TaskContext = {}): Map<string, string> {
  const out = new Map<string, string>();
  out.set('{{$}}', JSON.stringify(input));
  for (const [name, list] of Object.entries(input.inputs?.artifacts ?? {})) {
    const first = list.artifacts?.[0];
    if (!first) continue;
    out.set(`{{$.inputs.artifacts['${name}'].uri}}`, first.uri);
    out.set(`{{$.inputs.artifacts['${name}'].metadata}}`, JSON.stringify(first.metadata ?? {}));
    const local = localPathForUri(first.uri);
    if (local !== undefined) out.set(`{{$.inputs.artifacts['${name}'].path}}`, local);
  }
  for (const [name, list] of Object.entries(input.outputs?.artifacts ?? {})) {
    const first = list.artifacts?.[0];
    if (!first) continue;
    out.set(`{{$.outputs.artifacts['${name}'].uri}}`, first.uri);
    out.set(`{{$.outputs.artifacts['${name}'].metadata}}`, JSON.stringify(first.metadata ?? {}));
    const local = localPathForUri(first.uri);
    if (local === undefined) throw new PlaceholderError(`output artifact '${name}': no local path for URI ${first.uri} (use gs://, s3:// or minio://)`);
    out.set(`{{$.outputs.artifacts['${name}'].path}}`, local);
  }
  for (const [name, value] of Object.entries(input.inputs?.parameterValues ?? {})) {
    try {
      out.set(`{{$.inputs.parameters['${name}']}}`, parameterText(value));
    } catch (err) {
      throw new PlaceholderError(`input parameter '${name}': ${(err as Error).message}`);
    }
  }
  for (const [name, p] of Object.entries(input.outputs?.parameters ?? {})) out.set(`{{$.outputs.parameters['${name}'].output_file}}`, p.outputFile);
  if (input.outputs?.outputFile !== undefined) {
    out.set('{{$.outputs.output_file}}', input.outputs.outputFile);
    out.set('{{$.outputMetadataUri}}', input.outputs.outputFile);
  }
  const facts: [string, string | undefined][] = [
    ['{{$.pipeline_job_name}}', task.pipelineJobName],
    ['{{$.pipeline_job_resource_name}}', task.pipelineJobResourceName],
    ['{{$.pipeline_job_uuid}}', task.pipelineJobUuid],
    ['{{$.pipeline_task_name}}', task.pipelineTaskName],
    ['{{$.pipeline_task_uuid}}', task.pipelineTaskUuid],
    ['{{$.pipeline_root}}', task.pipelineRoot],
  ];
  for (const [k, v] of facts) if (v !== undefined) out.set(k, v);
  return out;
}

function replaceAll(text: string, values: Map<string, string>): string {
  if (!text.includes('{{$')) return text;
  // One pass over the text: a substituted value that itself looks like a placeholder is left as it is.
  return text.replace(/\{\{\$[^}]*\}\}/g, (m) => values.get(m) ?? m);
}

type Structured = string | { Concat: Structured[] } | { IfPresent: { InputName: string; Then?: Structured | Structured[]; Else?: Structured | Structured[] } };

function present(input: ExecutorInput, name: string): boolean {
  return name in (input.inputs?.parameterValues ?? {}) || Boolean(input.inputs?.artifacts?.[name]?.artifacts?.length);
}

function structured(element: string): Structured | undefined {
  if (!element.startsWith('{"Concat"') && !element.startsWith('{"IfPresent"')) return undefined;
  try {
    return JSON.parse(element) as Structured;
  } catch {
    return undefined;
  }
}

function expand(node: Structured | Structured[] | undefined, input: ExecutorInput, values: Map<string, string>): string[] {
  if (node === undefined) return [];
  if (Array.isArray(node)) return node.flatMap((n) => expand(n, input, values));
  if (typeof node === 'string') {
    const inner = structured(node);
    return inner ? expand(inner, input, values) : [replaceAll(node, values)];
  }
  if ('Concat' in node) return [node.Concat.flatMap((n) => expand(n, input, values)).join('')];
  const branch = present(input, node.IfPresent.InputName) ? node.IfPresent.Then : node.IfPresent.Else;
  return expand(branch, input, values);
}

/** A container's command or args with every placeholder resolved (Concat/IfPresent elements expanded). */
export function resolveArgs(list: readonly string[], input: ExecutorInput, task: TaskContext = {}): string[] {
  const values = placeholderValues(input, task);
  return list.flatMap((element) => expand(element, input, values));
}

/** Placeholders left in resolved arguments (what the ExecutorInput did not define), for a clear error. */
export function unresolved(list: readonly string[]): string[] {
  return [...new Set(list.flatMap((a) => a.match(/\{\{\$[^}]*\}\}/g) ?? []))];
}

/** A component's interface, as the spec's `components.comp-<task>` holds it. */
export interface ComponentInterface {
  inputDefinitions?: {
    parameters?: Record<string, { parameterType?: string; defaultValue?: JsonValue }>;
    artifacts?: Record<string, { artifactType?: { schemaTitle?: string; schemaVersion?: string } }>;
  };
  outputDefinitions?: {
    parameters?: Record<string, { parameterType?: string }>;
    artifacts?: Record<string, { artifactType?: { schemaTitle?: string; schemaVersion?: string } }>;
  };
}

/**
 * The ExecutorInput a KFP driver would give one task: its parameter values (defaults filled in, as the launcher
 * adds them), the URI of each input artifact, an output URI per output artifact under `outputRoot`, output
 * parameter files under `outputFilesDir`, and the ExecutorOutput file.
 */
export function executorInputFor(
  component: ComponentInterface,
  o: {
    parameters: Record<string, JsonValue>;
    inputUris: Record<string, string>;
    /** URI prefix of this task's outputs, e.g. `minio://cellpipe/<run>/<task>`. */
    outputRoot: string;
    outputFilesDir: string;
    outputFile: string;
  },
): ExecutorInput {
  const parameterValues: Record<string, JsonValue> = {};
  for (const [name, def] of Object.entries(component.inputDefinitions?.parameters ?? {})) {
    const v = name in o.parameters ? o.parameters[name] : def.defaultValue;
    if (v === undefined) throw new PlaceholderError(`input parameter '${name}' has no value and no default`);
    parameterValues[name] = v;
  }
  const inputArtifacts: Record<string, ArtifactList> = {};
  for (const [name, def] of Object.entries(component.inputDefinitions?.artifacts ?? {})) {
    const uri = o.inputUris[name];
    if (uri === undefined) throw new PlaceholderError(`input artifact '${name}' has no producer`);
    inputArtifacts[name] = { artifacts: [{ name, uri, type: def.artifactType ?? {}, metadata: {} }] };
  }
  const root = o.outputRoot.replace(/\/$/, '');
  const outputArtifacts: Record<string, ArtifactList> = {};
  for (const [name, def] of Object.entries(component.outputDefinitions?.artifacts ?? {})) {
    outputArtifacts[name] = { artifacts: [{ name, uri: `${root}/${name}`, type: def.artifactType ?? {}, metadata: {} }] };
  }
  const outputParameters: Record<string, { outputFile: string }> = {};
  for (const name of Object.keys(component.outputDefinitions?.parameters ?? {})) {
    outputParameters[name] = { outputFile: `${o.outputFilesDir.replace(/\/$/, '')}/${name}` };
  }
  const input: ExecutorInput = { inputs: {}, outputs: { outputFile: o.outputFile } };
  if (Object.keys(parameterValues).length) input.inputs!.parameterValues = parameterValues;
  if (Object.keys(inputArtifacts).length) input.inputs!.artifacts = inputArtifacts;
  if (Object.keys(outputArtifacts).length) input.outputs!.artifacts = outputArtifacts;
  if (Object.keys(outputParameters).length) input.outputs!.parameters = outputParameters;
  return input;
}

/**
 * The command and args a container starts with, as KFP's launcher starts them: every placeholder resolved from the
 * ExecutorInput; throws naming the placeholders it could not fill. Used by every runner of compiled specs here
 * (the containers runtime, the test cluster's executor pods), so they resolve alike.
 */
export function launcherArgv(
  container: { command?: readonly string[]; args?: readonly string[] },
  input: ExecutorInput,
  task: TaskContext = {},
): { command?: string[]; args: string[] } {
  const command = container.command ? resolveArgs(container.command, input, task) : undefined;
  const args = resolveArgs(container.args ?? [], input, task);
  const left = unresolved([...(command ?? []), ...args]);
  if (left.length) throw new PlaceholderError(`the spec uses placeholders the ExecutorInput does not fill: ${left.join(', ')}`);
  return { command, args };
}
