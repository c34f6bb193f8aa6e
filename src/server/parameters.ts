/**
 * Parameter values for a run, checked against the parameters the notebook declares.
 * The page may send typed JSON values or the text of an input box; both are accepted when they fit the type.
 */
import type { JsonValue, Parameter } from '../core/model.js';
import { cellLabel } from '../core/notebook.js';
import { PARAMETER_EXAMPLES, parameterFromText, valueFits } from '../core/parameter-values.js';
import { HttpError, MAX_JSON_DEPTH, nestedDeeperThan } from './http.js';

function isPlainObject(v: unknown): v is Record<string, JsonValue> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

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
    let value: JsonValue | undefined = valueFits(p.type, raw) ? raw : undefined;
    if (value === undefined && typeof raw === 'string') value = parameterFromText(p.type, raw);
    if (value !== undefined && nestedDeeperThan(value, MAX_JSON_DEPTH)) {
      throw new HttpError(400, `parameter '${name}' is nested more than ${MAX_JSON_DEPTH} levels deep (lists or dicts inside each other)`, 'Pass a flatter value; a step can read a deeper structure from a file.');
    }
    if (value === undefined) {
      throw new HttpError(
        400,
        `parameter '${name}' must be ${p.type === 'int' ? 'an' : 'a'} ${p.type} (declared in ${cellLabel(p.cell, p.line)}); got ${JSON.stringify(raw)}`,
        `Example of a valid value: ${PARAMETER_EXAMPLES[p.type]}.`,
      );
    }
    values[name] = value;
  }
  return values;
}
