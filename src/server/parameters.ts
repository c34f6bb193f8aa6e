/**
 * Parameter values for a run, checked against the parameters the notebook declares.
 * The page may send typed JSON values or the text of an input box; both are accepted when they fit the type.
 */
import type { JsonValue, Parameter, ParameterType } from '../core/model.js';
import { HttpError } from './http.js';

function isPlainObject(v: unknown): v is Record<string, JsonValue> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function fits(type: ParameterType, v: unknown): boolean {
  switch (type) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'float':
      return typeof v === 'number' && Number.isFinite(v);
    case 'str':
      return typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'list':
      return Array.isArray(v);
    case 'dict':
      return isPlainObject(v);
  }
}

/** Text from an input box → a value of `type`, or undefined when it does not parse as one. */
function fromText(type: ParameterType, text: string): JsonValue | undefined {
  const t = text.trim();
  switch (type) {
    case 'int':
      return /^[-+]?\d+$/.test(t) && Number.isSafeInteger(Number(t)) ? Number(t) : undefined;
    case 'float': {
      const n = Number(t);
      return t !== '' && Number.isFinite(n) ? n : undefined;
    }
    case 'bool': {
      const lower = t.toLowerCase();
      return lower === 'true' ? true : lower === 'false' ? false : undefined;
    }
    case 'list':
    case 'dict':
      try {
        const v = JSON.parse(t) as JsonValue;
        return fits(type, v) ? v : undefined;
      } catch {
        return undefined;
      }
    case 'str':
      return text;
  }
}

const EXAMPLE: Record<ParameterType, string> = {
  int: '20',
  float: '0.5',
  str: '"text"',
  bool: 'true or false',
  list: '[1, 2]',
  dict: '{"a": 1}',
};

/**
 * The full set of values for a run: every declared parameter, `given` overriding the notebook's defaults.
 * Unknown names and values of the wrong type are a 400 naming the parameter and where it is declared.
 */
export function bindParameters(declared: Parameter[], given: unknown): Record<string, JsonValue> {
  if (given === undefined || given === null) given = {};
  if (!isPlainObject(given)) throw new HttpError(400, "field 'parameters' must be a JSON object of name → value");
  const byName = new Map(declared.map((p) => [p.name, p]));
  const values: Record<string, JsonValue> = {};
  for (const p of declared) values[p.name] = p.default;
  for (const [name, raw] of Object.entries(given)) {
    const p = byName.get(name);
    if (!p) {
      const known = declared.map((d) => d.name).join(', ') || 'none';
      throw new HttpError(400, `unknown pipeline parameter '${name}'`, `The notebook's parameters are: ${known}.`);
    }
    let value: JsonValue | undefined = fits(p.type, raw) ? (raw as JsonValue) : undefined;
    if (value === undefined && typeof raw === 'string') value = fromText(p.type, raw);
    if (value === undefined) {
      throw new HttpError(
        400,
        `parameter '${name}' must be ${p.type === 'int' ? 'an' : 'a'} ${p.type} (declared in cell ${p.cell}, line ${p.line}); got ${JSON.stringify(raw)}`,
        `Example of a valid value: ${EXAMPLE[p.type]}.`,
      );
    }
    values[name] = value;
  }
  return values;
}
