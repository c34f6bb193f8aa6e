/**
 * Pipeline parameter values: parsed from `--param NAME=VALUE` by the parameter's declared type, and written as
 * text for the step runtime (`str` raw, numbers decimal, `bool` true/false, `list`/`dict` JSON).
 */
import type { JsonValue, Parameter, ParameterType } from '../../core/model.js';
import { cellLabel } from '../../core/notebook.js';
import { PARAMETER_EXAMPLES, parameterFromText } from '../../core/parameter-values.js';
import { CellpipeError } from '../../core/errors.js';

export class ParameterValueError extends CellpipeError {}

function where(p: Parameter): string {
  return `declared in ${cellLabel(p.cell, p.line)}`;
}

/** Parse one value given on the command line as a parameter of type `type`; throws a ParameterValueError naming it. */
export function parseParamValue(p: Parameter, text: string): JsonValue {
  const bad = (what: string): never => {
    throw new ParameterValueError(
      `--param ${p.name}=${text}: ${p.name} is ${p.type === 'int' ? 'an' : 'a'} ${p.type} parameter (${where(p)}); ${what}`,
    );
  };
  const value = parameterFromText(p.type, text);
  if (value !== undefined) return value;
  switch (p.type) {
    case 'int':
      return bad(/^[+-]?\d+$/.test(text.trim()) ? `${text} is too large` : `'${text}' is not an integer`);
    case 'float':
      return bad(`'${text}' is not a number`);
    case 'bool':
      return bad(`'${text}' is not true or false`);
    default:
      return bad(`give it as a JSON ${p.type === 'list' ? 'array' : 'object'}, e.g. ${PARAMETER_EXAMPLES[p.type]}`);
  }
}

/**
 * Turn `NAME=VALUE` arguments into parameter values (defaults for the rest). Throws a ParameterValueError for an
 * unknown name, a missing `=`, or a value of the wrong type.
 */
export function resolveParameters(declared: Parameter[], args: string[]): Record<string, JsonValue> {
  const values: Record<string, JsonValue> = {};
  for (const p of declared) values[p.name] = p.default;
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new ParameterValueError(`--param ${arg}: write it as NAME=VALUE`);
    const name = arg.slice(0, eq);
    const p = declared.find((d) => d.name === name);
    if (!p) {
      const known = declared.map((d) => d.name).join(', ');
      throw new ParameterValueError(
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
