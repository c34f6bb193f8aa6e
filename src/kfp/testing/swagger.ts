/**
 * A strict checker of requests and responses against KFP's published v2beta1 swagger (OpenAPI 2.0) documents,
 * kept as test data in `test/fixtures/kfp-swagger/` (copied from kubeflow/pipelines
 * `backend/api/v2beta1/swagger/*.swagger.json` at 2.17.0, commit 7b70c7b9).
 *
 * Strict the way current KFP is: unknown JSON fields and unknown query parameters are errors (the backend parses
 * request bodies with `DiscardUnknown: false`); enums must be names; `int64` values are JSON strings; date-times are
 * RFC 3339. `object` schemas without properties (protobuf Struct/Value maps) accept any JSON object.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Schema {
  type?: string;
  format?: string;
  $ref?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  enum?: string[];
  required?: string[];
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'body' | 'formData';
  required?: boolean;
  type?: string;
  format?: string;
  schema?: Schema;
}

export interface Operation {
  operationId: string;
  method: string;
  template: string;
  parameters: Parameter[];
  responses: Record<string, { schema?: Schema }>;
  regex: RegExp;
  pathNames: string[];
}

/** Where the swagger fixtures live (from lib/kfp/testing/ → repo root). */
export function swaggerDir(): string {
  return fileURLToPath(new URL('../../../test/fixtures/kfp-swagger/', import.meta.url));
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export class SwaggerContract {
  readonly operations: Operation[] = [];
  private readonly definitions: Record<string, Schema> = {};

  constructor(dir = swaggerDir()) {
    const files = readdirSync(dir).filter((f) => f.endsWith('.swagger.json')).sort();
    if (!files.length) throw new Error(`no *.swagger.json files in ${dir}`);
    for (const f of files) {
      const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
        swagger: string;
        paths: Record<string, Record<string, Omit<Operation, 'method' | 'template' | 'regex' | 'pathNames'>>>;
        definitions?: Record<string, Schema>;
      };
      if (doc.swagger !== '2.0') throw new Error(`${f}: not a swagger 2.0 document`);
      Object.assign(this.definitions, doc.definitions ?? {});
      for (const [template, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const pathNames: string[] = [];
          const source = template
            .split(/(\{[^}]+\})/)
            .map((part) => {
              if (part.startsWith('{') && part.endsWith('}')) {
                pathNames.push(part.slice(1, -1));
                return '([^/:]+)';
              }
              return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
            })
            .join('');
          this.operations.push({ ...op, parameters: op.parameters ?? [], method: method.toUpperCase(), template, regex: new RegExp(`^${source}$`), pathNames });
        }
      }
    }
    // Literal paths win over templated ones (`/pipelines/upload` vs `/pipelines/{pipeline_id}`).
    this.operations.sort((a, b) => a.pathNames.length - b.pathNames.length);
  }

  /** The operation a request is for, with its path parameters, or undefined. */
  match(method: string, path: string): { op: Operation; params: Record<string, string> } | undefined {
    for (const op of this.operations) {
      if (op.method !== method) continue;
      const m = op.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      op.pathNames.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return { op, params };
    }
    return undefined;
  }

  /** Problems with the query string of a request (unknown names, wrong scalar types). */
  checkQuery(op: Operation, query: URLSearchParams): string[] {
    const problems: string[] = [];
    const declared = new Map(op.parameters.filter((p) => p.in === 'query').map((p) => [p.name, p]));
    for (const [k, v] of query) {
      const p = declared.get(k);
      if (!p) {
        problems.push(`query parameter '${k}' is not declared by ${op.operationId}`);
        continue;
      }
      problems.push(...this.scalar(v, p.type, p.format, `query ${k}`, true));
    }
    for (const p of declared.values()) if (p.required && !query.has(p.name)) problems.push(`required query parameter '${p.name}' missing`);
    return problems;
  }

  /** Problems with a JSON body against the operation's body parameter. */
  checkBody(op: Operation, body: unknown): string[] {
    const p = op.parameters.find((x) => x.in === 'body');
    if (!p) return body === undefined ? [] : [`${op.operationId} takes no JSON body`];
    if (body === undefined) return p.required ? [`${op.operationId} needs a JSON body`] : [];
    return this.check(body, p.schema!, 'body');
  }

  /** Problems with a response body for a status (2xx → `200`, else `default`). */
  checkResponse(op: Operation, status: number, body: unknown): string[] {
    const r = op.responses[String(status)] ?? (status >= 200 && status < 300 ? op.responses['200'] : op.responses.default);
    if (!r) return [`${op.operationId} declares no response for HTTP ${status}`];
    return r.schema ? this.check(body, r.schema, `response ${status}`) : [];
  }

  /** Validates a value against a named definition (e.g. `v2beta1Run`). */
  checkDefinition(value: unknown, name: string): string[] {
    return this.check(value, { $ref: `#/definitions/${name}` }, name);
  }

  private resolve(s: Schema): Schema {
    let cur = s;
    for (let i = 0; cur.$ref && i < 20; i++) {
      const name = cur.$ref.replace('#/definitions/', '');
      const d = this.definitions[name];
      if (!d) throw new Error(`swagger: unknown definition ${name}`);
      cur = d;
    }
    return cur;
  }

  private scalar(v: unknown, type: string | undefined, format: string | undefined, where: string, fromText = false): string[] {
    switch (type) {
      case 'string':
        if (typeof v !== 'string') return [`${where}: expected a string, got ${JSON.stringify(v)}`];
        if (format === 'date-time' && !DATE_TIME.test(v)) return [`${where}: '${v}' is not an RFC 3339 date-time`];
        if ((format === 'int64' || format === 'uint64') && !/^-?\d+$/.test(v)) return [`${where}: '${v}' is not an int64 string`];
        return [];
      case 'integer':
        if (fromText) return typeof v === 'string' && /^-?\d+$/.test(v) ? [] : [`${where}: '${String(v)}' is not an integer`];
        return typeof v === 'number' && Number.isInteger(v) ? [] : [`${where}: expected an integer, got ${JSON.stringify(v)}`];
      case 'number':
        return typeof v === 'number' || (fromText && !Number.isNaN(Number(v))) ? [] : [`${where}: expected a number`];
      case 'boolean':
        if (fromText) return v === 'true' || v === 'false' ? [] : [`${where}: '${String(v)}' is not true/false`];
        return typeof v === 'boolean' ? [] : [`${where}: expected true/false, got ${JSON.stringify(v)}`];
      default:
        return [];
    }
  }

  private check(v: unknown, schema: Schema, where: string): string[] {
    const s = this.resolve(schema);
    if (s.enum) {
      return typeof v === 'string' && s.enum.includes(v) ? [] : [`${where}: ${JSON.stringify(v)} is not one of ${s.enum.join(', ')}`];
    }
    if (s.type === 'array') {
      if (!Array.isArray(v)) return [`${where}: expected an array`];
      return v.flatMap((x, i) => (s.items ? this.check(x, s.items, `${where}[${i}]`) : []));
    }
    if (s.type === 'object' || s.properties) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return [`${where}: expected an object, got ${JSON.stringify(v)?.slice(0, 60)}`];
      if (!s.properties) return []; // Struct / map: free-form
      const problems: string[] = [];
      const isAny = Object.keys(s.properties).length === 1 && '@type' in s.properties;
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const p = s.properties[k];
        if (!p) {
          if (!isAny) problems.push(`${where}: unknown field '${k}'`);
          continue;
        }
        problems.push(...this.check(x, p, `${where}.${k}`));
      }
      for (const r of s.required ?? []) if (!(r in (v as object))) problems.push(`${where}: required field '${r}' missing`);
      return problems;
    }
    return this.scalar(v, s.type, s.format, where);
  }
}
