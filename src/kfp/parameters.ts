/**
 * Runtime parameter values for a KFP run, matching the spec's root `inputDefinitions` exactly — as the KFP backend
 * checks them (every required input given, the JSON kind of each value matching its `parameterType`, no extras) —
 * so a wrong `--param` fails here with the parameter's name instead of inside KFP.
 */
import { parseAllDocuments } from 'yaml';
import type { JsonValue, ParameterType } from '../core/model.js';
import { parameterFromText, valueFits } from '../core/parameter-values.js';
import { cellLabel } from '../core/notebook.js';
import { CellpipeError } from '../core/errors.js';

export type IrParameterType = 'NUMBER_DOUBLE' | 'NUMBER_INTEGER' | 'STRING' | 'BOOLEAN' | 'LIST' | 'STRUCT';

export interface RootParameter {
  name: string;
  type: IrParameterType;
  default?: JsonValue;
  optional: boolean;
  /** Where the notebook declares it (0-based cell index, 1-based line), when known. */
  declared?: { cell: number; line: number };
}

export class KfpParameterError extends CellpipeError {
  constructor(message: string, readonly hint: string) {
    super(message);
    this.name = 'KfpParameterError';
  }
}

/** The first YAML document of a compiled spec (the PipelineSpec itself). */
export function specDocument(yaml: string): Record<string, unknown> {
  const docs = parseAllDocuments(yaml);
  const list = Array.isArray(docs) ? docs : [docs];
  const first = list[0];
  if (!first || first.errors.length) throw new Error(`the pipeline spec is not valid YAML: ${first?.errors[0]?.message ?? 'empty'}`);
  return first.toJS() as Record<string, unknown>;
}

/**
 * The root input parameters declared by a spec; `declared` (the step graph's parameters) adds where the notebook
 * assigns each one, so a wrong value is reported at its cell and line.
 */
export function rootParameters(spec: Record<string, unknown>, declared: { name: string; cell: number; line: number }[] = []): RootParameter[] {
  const where = new Map(declared.map((d) => [d.name, { cell: d.cell, line: d.line }]));
  const root = spec.root as { inputDefinitions?: { parameters?: Record<string, { parameterType: IrParameterType; defaultValue?: JsonValue; isOptional?: boolean }> } } | undefined;
  return Object.entries(root?.inputDefinitions?.parameters ?? {}).map(([name, p]) => ({
    name,
    type: p.parameterType,
    default: p.defaultValue,
    optional: p.isOptional === true || p.defaultValue !== undefined,
    ...(where.has(name) ? { declared: where.get(name) } : {}),
  }));
}

/** IR parameter types and the notebook's Python types they come from. */
const PYTHON_TYPE: Record<IrParameterType, ParameterType> = {
  NUMBER_INTEGER: 'int', NUMBER_DOUBLE: 'float', STRING: 'str', BOOLEAN: 'bool', LIST: 'list', STRUCT: 'dict',
};

function kindOk(type: IrParameterType, v: JsonValue): boolean {
  return valueFits(PYTHON_TYPE[type], v);
}

const TYPE_WORDS: Record<IrParameterType, string> = {
  NUMBER_INTEGER: 'an integer', NUMBER_DOUBLE: 'a number', STRING: 'a string', BOOLEAN: 'true or false', LIST: 'a JSON list', STRUCT: 'a JSON object',
};

/** Turns a command-line `--param NAME=TEXT` value into the parameter's type. */
export function parseParameterText(p: RootParameter, text: string): JsonValue {
  const bad = () => new KfpParameterError(`--param ${p.name}=${text}: ${p.name} is ${TYPE_WORDS[p.type]}${at(p)}`, `give ${p.name} as ${TYPE_WORDS[p.type]}, e.g. ${example(p.type)}`);
  const value = parameterFromText(PYTHON_TYPE[p.type], text);
  if (value === undefined) throw bad();
  return value;
}

/** ` (cell 3, line 2 of the notebook)`: where a parameter is assigned, numbered as JupyterLab shows cells. */
function at(p: RootParameter | undefined): string {
  return p?.declared ? ` (${cellLabel(p.declared.cell, p.declared.line)} of the notebook)` : '';
}

/** Where the parameters are assigned, for the hint about an unknown name. */
function parametersCell(params: RootParameter[]): string {
  const cells = [...new Set(params.flatMap((p) => (p.declared ? [p.declared.cell] : [])))].sort((a, b) => a - b);
  return cells.length ? ` (${cells.map((c) => cellLabel(c)).join(', ')})` : '';
}

function example(type: IrParameterType): string {
  return { NUMBER_INTEGER: '3', NUMBER_DOUBLE: '0.5', STRING: 'text', BOOLEAN: 'true', LIST: '[1,2]', STRUCT: '{"a":1}' }[type];
}

/**
 * `runtime_config.parameters` for a run: every declared parameter with its default, overridden by `values`
 * (already typed) or `texts` (command-line text, converted by type). Throws `KfpParameterError` naming the parameter.
 */
export function runtimeParameters(
  params: RootParameter[],
  overrides: { values?: Record<string, JsonValue>; texts?: Record<string, string> } = {},
): Record<string, JsonValue> {
  const byName = new Map(params.map((p) => [p.name, p]));
  const known = `${parametersCell(params)}: ${params.map((p) => p.name).join(', ') || '(none)'}`;
  const out: Record<string, JsonValue> = {};
  for (const p of params) if (p.default !== undefined) out[p.name] = p.default;
  for (const [name, text] of Object.entries(overrides.texts ?? {})) {
    const p = byName.get(name);
    if (!p) throw new KfpParameterError(`--param ${name}: the pipeline has no parameter '${name}'`, `parameters are the names assigned in the pipeline-parameters cell${known}`);
    out[name] = parseParameterText(p, text);
  }
  for (const [name, value] of Object.entries(overrides.values ?? {})) {
    const p = byName.get(name);
    if (!p) throw new KfpParameterError(`parameter '${name}' is not declared by the pipeline`, `parameters are the names assigned in the pipeline-parameters cell${known}`);
    if (!kindOk(p.type, value)) throw new KfpParameterError(`parameter '${name}' = ${JSON.stringify(value)} is not ${TYPE_WORDS[p.type]}${at(p)}`, `give ${name} as ${TYPE_WORDS[p.type]}`);
    out[name] = value;
  }
  for (const p of params) {
    if (!(p.name in out) && !p.optional) {
      throw new KfpParameterError(`parameter '${p.name}' has no value${at(p)}`, `give it with --param ${p.name}=<value>`);
    }
  }
  return out;
}
