/** Showing pipeline parameter values as the notebook writes them. */
import type { ParameterType } from '../../core/model.js';

/**
 * A parameter's value as text for its input: a float stays a float (`1.0`, `14.0`, not `1`, `14` as JSON would
 * write them), a string as is, anything else as JSON.
 */
export function showParameter(value: unknown, type?: ParameterType): string {
  if (typeof value === 'string') return value;
  if (type === 'float' && typeof value === 'number' && Number.isInteger(value)) return value.toFixed(1);
  return JSON.stringify(value);
}
