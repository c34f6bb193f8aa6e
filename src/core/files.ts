/**
 * The files each step reads, found in its code: `resolveFileReads` turns the reader calls of every cell that runs
 * (src/core/python/file-reads.ts) into paths relative to the notebook's folder, with the imports, parameters and
 * constants of the whole notebook, and says for each whether it can travel into the step images. Pure: whether a
 * file exists and how big it is are the I/O edge's business (src/images/files.ts).
 *
 * What is honest to resolve, and what is not:
 * - literals, and f-strings, `+`, `.format`, `os.path.join`, `Path(…)`, `/` of literals;
 * - names: a pipeline parameter's default (another value given at run time must be in `files` or on a volume — the
 *   read says so), or a module-level constant the notebook assigns exactly once;
 * - a variable part (`f'images/{name}'`) makes a pattern (`images/*`, the `*` matching any characters, `/` too):
 *   every file under its literal folder that matches travels. Without a literal folder (`f'{name}.csv'`) it could
 *   be any file of the notebook's folder: that is a note on the cell, as is a path computed at run time — cellpipe
 *   does not guess.
 */
import type { Diagnostic, JsonValue, Notebook, NotebookCell, Parameter, StepFile, VolumeMount } from './model.js';
import { cellFileFacts, type CellFileFacts, type PathExpr, type RawFileCall } from './python/file-reads.js';
import type { CellNames } from './python/names.js';

/** `metadata.cellpipe.files` read as what to add and what to leave out, and the size limit. */
export interface FilesSetting {
  /** Paths (files or folders) packaged whatever the analysis finds. */
  include: string[];
  /** `!path` entries: a detected path equal to one, under one (a folder), or matching one (with `*`) stays out. */
  exclude: string[];
  /** Most bytes of detected files packaged per notebook (`metadata.cellpipe.files_limit_mb`, default 50). */
  limitBytes: number;
}

export const DEFAULT_FILES_LIMIT_MB = 50;

/** Reads `metadata.cellpipe.files` and `files_limit_mb`; malformed values are diagnostics, never throws. */
export function readFilesSetting(metadata: Record<string, unknown>): { setting: FilesSetting; diagnostics: Diagnostic[] } {
  const own = (metadata.cellpipe ?? {}) as Record<string, unknown>;
  const diagnostics: Diagnostic[] = [];
  const setting: FilesSetting = { include: [], exclude: [], limitBytes: DEFAULT_FILES_LIMIT_MB * 1024 * 1024 };
  if (own.files !== undefined) {
    if (!Array.isArray(own.files) || !own.files.every((f) => typeof f === 'string' && f.trim())) {
      diagnostics.push({
        severity: 'error', code: 'invalid-files', message: 'metadata.cellpipe.files must be a list of paths relative to the notebook',
        hint: 'e.g. ["data/extra.json", "!data/big.parquet"] — a path packages a file or folder, !path leaves a detected one out',
      });
    } else {
      for (const f of own.files as string[]) {
        if (f.startsWith('!')) setting.exclude.push(normalise(f.slice(1).trim()).path.replace(/\/$/, ''));
        else setting.include.push(f);
      }
    }
  }
  if (own.files_limit_mb !== undefined) {
    const mb = own.files_limit_mb;
    if (typeof mb !== 'number' || !Number.isFinite(mb) || mb < 0) {
      diagnostics.push({
        severity: 'error', code: 'invalid-files-limit', message: `metadata.cellpipe.files_limit_mb must be a number of megabytes ≥ 0, not ${JSON.stringify(mb)}`,
        hint: `e.g. 200; the default is ${DEFAULT_FILES_LIMIT_MB}`,
      });
    } else setting.limitBytes = Math.round(mb * 1024 * 1024);
  }
  return { setting, diagnostics };
}

/** Conventional names a notebook uses without showing the import to the analysis (a star import, `%run`). */
const DEFAULT_ALIASES: Record<string, string> = { np: 'numpy', pd: 'pandas', Image: 'PIL.Image', Path: 'pathlib.Path' };

/** Readers by qualified name, and the keywords their path may be given by (the first positional otherwise). */
const READERS: Record<string, string[]> = {
  open: ['file'], 'io.open': ['file'], 'codecs.open': ['filename'],
  'numpy.load': ['file'], 'numpy.loadtxt': ['fname'], 'numpy.genfromtxt': ['fname'], 'numpy.fromfile': ['file'],
  'joblib.load': ['filename'],
  'PIL.Image.open': ['fp'],
};
for (const r of ['read_csv', 'read_table', 'read_json', 'read_pickle', 'read_excel', 'read_parquet', 'read_feather']) {
  READERS[`pandas.${r}`] = ['filepath_or_buffer', 'path_or_buf', 'path', 'io'];
}
/** The last part of every reader's name (`read_csv`, `load`, `open` …). */
const READER_LAST_NAMES = new Set(Object.keys(READERS).map((r) => r.split('.').pop()!));
/** Path-building callees: their arguments are joined as path segments. */
const PATH_MAKERS = new Set(['pathlib.Path', 'pathlib.PurePath', 'pathlib.PosixPath', 'pathlib.PurePosixPath']);
const PATH_JOINS = new Set(['os.path.join', 'posixpath.join']);
const PASS_THROUGH = new Set(['str', 'os.fspath', 'os.path.normpath']);
/** Readers whose argument is a file object: `pickle.load(open(…))` is reported as that. */
const FILE_OBJECT_READERS = new Set(['pickle.load', 'json.load', 'joblib.load', 'numpy.load']);

/** A path evaluated as far as possible: literal pieces and variable parts. */
interface Evaluated {
  pieces: ({ lit: string } | { variable: true })[];
  /** True when a `Path(…)` made it (so `.read_text()` on it is pathlib's). */
  pathLike: boolean;
  parameter?: string;
}

export interface NotebookContext {
  aliases: Map<string, string>;
  /** Module-level names assigned exactly once in the notebook, and how. */
  constants: Map<string, PathExpr>;
  parameters: Map<string, JsonValue>;
}

/**
 * What the notebook as a whole tells about names: its imports (later ones win), the names it assigns exactly once
 * at module level (and binds no other way), and the parameters' defaults.
 */
export function notebookContext(cells: NotebookCell[], names: Map<number, CellNames>, parameters: Parameter[]): NotebookContext {
  const aliases = new Map<string, string>();
  // The first value of each name and how often it is assigned (a name assigned in 400 cells must stay linear).
  const assigned = new Map<string, { value: PathExpr; count: number }>();
  const otherwiseBound = new Set<string>();
  for (const cell of cells) {
    const facts = cellFileFacts(cell.source);
    for (const [name, module] of facts.imports) aliases.set(name, module);
    for (const a of facts.assignments) {
      const seen = assigned.get(a.name);
      if (seen) seen.count++;
      else assigned.set(a.name, { value: a.value, count: 1 });
    }
    const bound = names.get(cell.index)?.bound;
    if (bound?.length) {
      const simple = new Set(facts.assignments.map((a) => a.name));
      for (const b of bound) if (!simple.has(b)) otherwiseBound.add(b);
    }
  }
  const constants = new Map<string, PathExpr>();
  for (const [name, { value, count }] of assigned) if (count === 1 && !otherwiseBound.has(name)) constants.set(name, value);
  return { aliases, constants, parameters: new Map(parameters.map((p) => [p.name, p.default])) };
}

function qualify(callee: string[], ctx: NotebookContext, locals: ReadonlySet<string>): string {
  const [head, ...rest] = callee;
  if (locals.has(head)) return callee.join('.');
  const module = ctx.aliases.get(head) ?? DEFAULT_ALIASES[head] ?? head;
  return [module, ...rest].join('.');
}

const VARIABLE = { variable: true } as const;

function evaluate(e: PathExpr, ctx: NotebookContext, locals: ReadonlySet<string>, depth = 0): Evaluated {
  const unknown: Evaluated = { pieces: [VARIABLE], pathLike: false };
  if (depth > 8) return unknown;
  const join = (parts: Evaluated[], pathLike: boolean): Evaluated => {
    const pieces: Evaluated['pieces'] = [];
    for (const p of parts) {
      const first = p.pieces[0];
      // An absolute later part replaces what came before, as os.path.join and pathlib do.
      if (first && 'lit' in first && first.lit.startsWith('/')) pieces.length = 0;
      else if (pieces.length) pieces.push({ lit: '/' });
      pieces.push(...p.pieces);
    }
    return { pieces, pathLike: pathLike || parts.some((p) => p.pathLike), parameter: parts.find((p) => p.parameter)?.parameter };
  };
  switch (e.k) {
    case 'str':
      return { pieces: [{ lit: e.v }], pathLike: false };
    case 'name': {
      if (locals.has(e.v)) return unknown;
      const value = ctx.parameters.get(e.v);
      if (typeof value === 'string') return { pieces: [{ lit: value }], pathLike: false, parameter: e.v };
      if (ctx.parameters.has(e.v)) return unknown;
      const constant = ctx.constants.get(e.v);
      return constant ? evaluate(constant, ctx, new Set(), depth + 1) : unknown;
    }
    case 'concat': {
      const parts = e.parts.map((p) => evaluate(p, ctx, locals, depth + 1));
      return { pieces: parts.flatMap((p) => p.pieces), pathLike: parts.some((p) => p.pathLike), parameter: parts.find((p) => p.parameter)?.parameter };
    }
    case 'slash':
      return join(e.parts.map((p) => evaluate(p, ctx, locals, depth + 1)), true);
    case 'call': {
      const q = qualify(e.callee, ctx, locals);
      const args = e.args.map((a) => evaluate(a, ctx, locals, depth + 1));
      if (PATH_MAKERS.has(q)) return args.length ? join(args, true) : { pieces: [{ lit: '.' }], pathLike: true };
      if (PATH_JOINS.has(q) && args.length) return join(args, false);
      if (PASS_THROUGH.has(q) && args.length === 1) return args[0];
      return unknown;
    }
    case 'other':
      return unknown;
  }
}

/** `a/./b/../c` → `a/c`; whether it climbs out of its start (`../x`); absolute kept as such. */
function normalise(path: string): { path: string; outside: boolean } {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  let outside = false;
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length) out.pop();
      else outside = true;
    } else out.push(seg);
  }
  return { path: (absolute ? '/' : '') + out.join('/'), outside };
}

/** Whether `path` (a detected path or pattern) is left out by an exclude entry. */
export function isExcluded(path: string, exclude: readonly string[]): boolean {
  return exclude.some((x) => x === path || path.startsWith(x + '/') || (x.includes('*') && globRegExp(x).test(path)));
}

/** A pattern as a regular expression: `*` matches any characters, `/` included. */
export function globRegExp(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

/** A read the code shows but cellpipe cannot resolve, for the note on its cell. */
interface Unresolved {
  cell: NotebookCell;
  call: RawFileCall;
  reader: string;
}

export interface FileReadsResult {
  /** Per step (by name): the files it reads, in cell order, each path once. */
  files: Map<string, StepFile[]>;
  diagnostics: Diagnostic[];
}

/**
 * The files each step reads. `stepCells` gives the cells that run in each step (prelude first, then its own cells);
 * a file read in a prelude cell is read by every step.
 */
export function resolveFileReads(
  notebook: Notebook,
  stepCells: Map<string, number[]>,
  ctx: NotebookContext,
  setting: FilesSetting,
  volumes: VolumeMount[],
): FileReadsResult {
  const cellAt = new Map(notebook.cells.map((c) => [c.index, c]));
  const perCell = new Map<number, StepFile[]>();
  const unresolved: Unresolved[] = [];
  const diagnostics: Diagnostic[] = [];
  const reported = new Set<string>();
  const readsOf = (index: number): StepFile[] => {
    let files = perCell.get(index);
    if (files) return files;
    files = [];
    const cell = cellAt.get(index)!;
    const facts: CellFileFacts = cellFileFacts(cell.source);
    for (const call of facts.calls) {
      const found = fileRead(cell, call, ctx, setting, volumes);
      if (!found) continue;
      if ('unresolved' in found) unresolved.push({ cell, call, reader: found.unresolved });
      else files.push(found);
    }
    perCell.set(index, files);
    return files;
  };
  const result = new Map<string, StepFile[]>();
  for (const [step, cells] of stepCells) {
    const seen = new Set<string>();
    const list: StepFile[] = [];
    for (const index of cells) {
      for (const f of readsOf(index)) {
        if (seen.has(f.path)) continue;
        seen.add(f.path);
        list.push(f);
      }
    }
    result.set(step, list);
  }
  const where = (cell: NotebookCell) => ({ cell: cell.index, ...(cell.id ? { cellId: cell.id } : {}) });
  for (const u of unresolved) {
    const key = `${u.cell.index}:${u.call.line}`;
    if (reported.has(key)) continue;
    reported.add(key);
    diagnostics.push({
      severity: 'info', code: 'file-read-unknown', ...where(u.cell), line: u.call.line,
      message: `cellpipe cannot see which file this reads: ${u.reader}(${shorten(u.call.text)})`,
      hint: 'declare it in files (metadata.cellpipe.files, a path relative to the notebook) so it travels into the step images, or read it from a volume or object storage',
    });
  }
  for (const files of perCell.values()) {
    for (const f of files) {
      const cell = cellAt.get(f.cell)!;
      if (f.status === 'absolute' || f.status === 'outside') {
        diagnostics.push({
          severity: 'warning', code: f.status === 'absolute' ? 'file-read-absolute' : 'file-read-outside', ...where(cell), line: f.line,
          message: f.status === 'absolute'
            ? `'${f.path}' is an absolute path: it is on this machine only and does not travel into the step images`
            : `'${f.path}' is outside the notebook's folder: it does not travel into the step images`,
          hint: 'put the file in the notebook\'s folder and read it by a relative path, or mount it with a volume (Kale\'s volumes setting, metadata.kubeflow_notebook.volumes) or read it from object storage',
        });
      } else if (f.parameter && f.status === 'travels') {
        diagnostics.push({
          severity: 'info', code: 'file-read-parameter', ...where(cell), line: f.line,
          message: `reads the file named by parameter '${f.parameter}': its default '${f.path}' travels into the step images`,
          hint: 'a different file given at run time must be in files (metadata.cellpipe.files) or on a volume',
        });
      }
    }
  }
  return { files: result, diagnostics };
}

function shorten(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 60 ? one.slice(0, 59) + '…' : one;
}

/** One reader call: a resolved file, a read cellpipe cannot see, or undefined (not a file read after all). */
function fileRead(cell: NotebookCell, call: RawFileCall, ctx: NotebookContext, setting: FilesSetting, volumes: VolumeMount[]):
  StepFile | { unresolved: string } | undefined {
  // Most calls are no reader: decide that before building anything (this runs on every compile, for every call).
  const last = call.callee[call.callee.length - 1];
  if (!call.method && (call.callee.length === 1 ? !(last in READERS) && !ctx.aliases.has(last) : !READER_LAST_NAMES.has(last))) return undefined;
  const locals = new Set(call.locals);
  const q = call.callee.length ? qualify(call.callee, ctx, locals) : '';
  let reader: string;
  let arg: PathExpr | undefined;
  let mode: PathExpr | undefined;
  if (READERS[q]) {
    reader = q;
    const keywords = READERS[q];
    arg = call.args[0] ?? keywords.map((k) => call.kwargs[k]).find(Boolean);
    if (q === 'open' || q === 'io.open' || q === 'codecs.open') mode = call.args[1] ?? call.kwargs.mode;
    const outer = call.wrappedBy ? qualify(call.wrappedBy, ctx, locals) : '';
    if (reader === 'open' && FILE_OBJECT_READERS.has(outer)) reader = `${outer}(open(…))`;
  } else if (call.object && call.method) {
    return pathMethod(cell, call, ctx, setting, volumes, locals);
  } else return undefined;
  if (mode && !readsMode(mode, ctx, locals)) return undefined;
  if (!arg) return undefined;
  if (arg.k === 'call' && READERS[qualify(arg.callee, ctx, locals)]) return undefined; // a file object from another reader call
  const value = evaluate(arg, ctx, locals);
  return classify(cell, call, reader, value, setting, volumes);
}

/** `<path>.read_text()`, `.read_bytes()`, `.open()` on something that is a pathlib path. */
function pathMethod(cell: NotebookCell, call: RawFileCall, ctx: NotebookContext, setting: FilesSetting, volumes: VolumeMount[], locals: ReadonlySet<string>):
  StepFile | { unresolved: string } | undefined {
  const m = call.method!;
  const value = evaluate(call.object!, ctx, locals);
  // `.open()` is too common a method name (zipfile, tarfile, fsspec): only a path made with Path(…) is pathlib's.
  if (!value.pathLike) {
    if (m === 'open' || call.object!.k !== 'name') return undefined;
    return { unresolved: `${call.text}.${m}` };
  }
  if (m === 'open' && call.args[0] && !readsMode(call.args[0], ctx, locals)) return undefined;
  return classify(cell, call, `pathlib.Path.${m}`, value, setting, volumes);
}

/** Whether an `open` mode reads: `'r'`, `'rb'`, `'r+'`…; a computed mode counts as a read (packaging it is harmless). */
function readsMode(mode: PathExpr, ctx: NotebookContext, locals: ReadonlySet<string>): boolean {
  const v = evaluate(mode, ctx, locals);
  if (v.pieces.length !== 1 || !('lit' in v.pieces[0])) return true;
  return v.pieces[0].lit.includes('r');
}

function classify(cell: NotebookCell, call: RawFileCall, reader: string, value: Evaluated, setting: FilesSetting, volumes: VolumeMount[]):
  StepFile | { unresolved: string } | undefined {
  const text = value.pieces.map((p) => ('lit' in p ? p.lit : '*')).join('').replace(/\*+/g, '*');
  if (!/[^*/.]/.test(text.replace(/\*/g, ''))) return { unresolved: reader };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return undefined; // a URL (http://, s3://, gs://): read the same everywhere
  const pattern = text.includes('*');
  const base = { reader, cell: cell.index, line: call.line, ...(value.parameter ? { parameter: value.parameter } : {}), ...(pattern ? { pattern: true } : {}) };
  if (text.startsWith('~') || /^[A-Za-z]:[\\/]/.test(text)) return { ...base, path: text, status: 'absolute' };
  const { path, outside } = normalise(text);
  if (path.startsWith('/')) {
    const mounted = volumes.some((v) => path === v.mountPoint || path.startsWith(v.mountPoint.replace(/\/$/, '') + '/'));
    return { ...base, path, status: mounted ? 'volume' : 'absolute' };
  }
  if (outside) return { ...base, path: text, status: 'outside' };
  // A pattern travels as the files under its literal folder; without one it could be anything: a note.
  if (pattern && !path.slice(0, path.indexOf('*')).includes('/')) return { unresolved: reader };
  return { ...base, path, status: isExcluded(path, setting.exclude) ? 'excluded' : 'travels' };
}
