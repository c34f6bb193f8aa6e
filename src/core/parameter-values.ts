/**
 * Parameter values as people type them (command line, the sidebar's input boxes) → typed JSON values, and the check
 * that a JSON value has a parameter's type. One set of rules for the local runtime, the backend and Kubeflow runs.
 */
import type { JsonValue, ParameterType } from './model.js';

/** `true`/`false` (also `1`/`0`, `yes`/`no`, any case) for bool; decimal for numbers; JSON for list/dict; str raw. */
export function parameterFromText(type: ParameterType, text: string): JsonValue | undefined {
  const t = text.trim();
  switch (type) {
    case 'str':
      return text;
    case 'int':
      return /^[-+]?\d+$/.test(t) && Number.isSafeInteger(Number(t)) ? Number(t) : undefined;
    case 'float': {
      const n = Number(t);
      return t !== '' && Number.isFinite(n) ? n : undefined;
    }
    case 'bool': {
      const lower = t.toLowerCase();
      return ['true', '1', 'yes'].includes(lower) ? true : ['false', '0', 'no'].includes(lower) ? false : undefined;
    }
    case 'list':
    case 'dict':
      try {
        const v = JSON.parse(t) as JsonValue;
        return valueFits(type, v) ? v : undefined;
      } catch {
        return undefined;
      }
  }
}

/** Whether a JSON value is of the parameter type (an int is a valid float). */
export function valueFits(type: ParameterType, v: unknown): v is JsonValue {
  switch (type) {
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'float':
      return typeof v === 'number' && Number.isFinite(v);
    case 'str':
      return typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'list':
      return Array.isArray(v);
    case 'dict':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
  }
}

/** How to write a value of each type, for hints. */
export const PARAMETER_EXAMPLES: Record<ParameterType, string> = {
  int: '20',
  float: '0.5',
  str: 'text',
  bool: 'true or false',
  list: '[1, 2]',
  dict: '{"a": 1}',
};
