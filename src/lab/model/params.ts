/** Pipeline parameter values in the sidebar: shown as the notebook writes them, read with the one parser the backend uses. */
import type { JsonValue, Parameter, ParameterType } from '../../core/model.js';
import { PARAMETER_EXAMPLES, parameterFromText } from '../../core/parameter-values.js';

/**
 * A parameter's value as text for its input: a float stays a float (`1.0`, `14.0`, not `1`, `14` as JSON would
 * write them), a string as is, anything else as JSON.
 */
export function showParameter(value: unknown, type?: ParameterType): string {
  if (typeof value === 'string') return value;
  if (type === 'float' && typeof value === 'number' && Number.isInteger(value)) return value.toFixed(1);
  return JSON.stringify(value);
}

/** What the user typed for a parameter: its value, or why it is none (and how to write one). */
export type ParameterInput = { value: JsonValue } | { error: string };

/**
 * Reads what the user typed into a parameter's box with `core/parameter-values.ts` (the rules the CLI, the backend
 * and Kubeflow runs use), so a value the sidebar accepts is one the run accepts.
 */
export function readParameterInput(p: Pick<Parameter, 'name' | 'type'>, text: string): ParameterInput {
  const value = parameterFromText(p.type, text);
  if (value !== undefined) return { value };
  const t = text.trim();
  const a = p.type === 'int' ? 'an' : 'a';
  const why =
    t === '' ? 'is empty'
    : p.type === 'int' && /^[+-]?\d+$/.test(t) ? 'is too large'
    : p.type === 'list' || p.type === 'dict' ? `is not a JSON ${p.type === 'list' ? 'array' : 'object'}`
    : `is not ${a} ${p.type}`;
  return { error: `${p.name}: '${text}' ${why}; write ${a} ${p.type}, e.g. ${PARAMETER_EXAMPLES[p.type]}` };
}

/** True when the text means the value (so the box keeps the user's spelling: `1.` or `2.50` is not rewritten). */
export function textMeans(p: Pick<Parameter, 'name' | 'type'>, text: string, value: unknown): boolean {
  const got = readParameterInput(p, text);
  return 'value' in got && JSON.stringify(got.value) === JSON.stringify(value);
}
