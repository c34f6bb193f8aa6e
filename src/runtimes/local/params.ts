/**
 * Pipeline parameter values: parsed from `--param NAME=VALUE` by the parameter's declared type, and written as
 * text for the step runtime (`str` raw, numbers decimal, `bool` true/false, `list`/`dict` JSON).
 */
import type { JsonValue, Parameter, ParameterType } from '../../core/model.js';

export class ParameterError extends Error {}

function where(p: Parameter): string {
  return `declared in cell ${p.cell}, line ${p.line}`;
}

/** Parse one value given on the command line as a parameter of type `type`; throws a ParameterError naming it. */
export function parseParamValue(p: Parameter, text: string): JsonValue {
  const bad = (what: string): never => {
    throw new ParameterError(
      `--param ${p.name}=${text}: ${p.name} is ${p.type === 'int' ? 'an' : 'a'} ${p.type} parameter (${where(p)}); ${what}`,
    );
  };
  switch (p.type) {
    case 'str':
      return text;
    case 'int': {
      if (!/^[+-]?\d+$/.test(text.trim())) bad(`'${text}' is not an integer`);
      const n = Number(text);
      if (!Number.isSafeInteger(n)) bad(`${text} is too large`);
      return n;
    }
    case 'float': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) bad(`'${text}' is not a number`);
      return n;
    }
    case 'bool': {
      const t = text.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(t)) return true;
      if (['false', '0', 'no'].includes(t)) return false;
      return bad(`'${text}' is not true or false`);
    }
    case 'list':
    case 'dict': {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        return bad(`give it as JSON, e.g. ${p.type === 'list' ? '[1, 2]' : '{"a": 1}'}`);
      }
      const isList = Array.isArray(v);
      const isDict = typeof v === 'object' && v !== null && !isList;
      if ((p.type === 'list' && !isList) || (p.type === 'dict' && !isDict)) {
        bad(`give it as a JSON ${p.type === 'list' ? 'array, e.g. [1, 2]' : 'object, e.g. {"a": 1}'}`);
      }
      return v as JsonValue;
    }
  }
}

/**
 * Turn `NAME=VALUE` arguments into parameter values (defaults for the rest). Throws a ParameterError for an
 * unknown name, a missing `=`, or a value of the wrong type.
 */
export function resolveParameters(declared: Parameter[], args: string[]): Record<string, JsonValue> {
  const values: Record<string, JsonValue> = {};
  for (const p of declared) values[p.name] = p.default;
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new ParameterError(`--param ${arg}: write it as NAME=VALUE`);
    const name = arg.slice(0, eq);
    const p = declared.find((d) => d.name === name);
    if (!p) {
      const known = declared.map((d) => d.name).join(', ');
      throw new ParameterError(
        `--param ${arg}: the notebook has no pipeline parameter '${name}' (${known ? `its parameters are: ${known}` : 'it declares none; tag a cell pipeline-parameters'})`,
      );
    }
    values[name] = parseParamValue(p, arg.slice(eq + 1));
  }
  return values;
}

/** The text form of a value for the step runtime's `--param NAME=VALUE`. */
export function paramText(type: ParameterType, value: JsonValue): string {
  switch (type) {
    case 'str':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'bool':
      return value ? 'true' : 'false';
    case 'int':
    case 'float':
      return typeof value === 'number' ? String(value) : String(value);
    default:
      return JSON.stringify(value);
  }
}
