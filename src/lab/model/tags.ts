/**
 * Editing a cell's Kale-compatible tags from the UI, as pure functions over `string[]`.
 *
 * The editor manages a fixed set of tags (role, step name, `prev:`, `image:`, cpu/memory/gpu limits, `cache:`,
 * `retries:`, `timeout:`, `requirements:`, `env:`); every other tag the cell carries (secrets, labels, annotations, other
 * limits, tags of other tools) is kept as written and in place. Reading goes through the core's tag grammar so the
 * editor and the compiler never disagree about what a tag means.
 */
import { parseCellTags, STEP_NAME } from '../../core/tags.js';
import { isQuantity } from '../../core/quantity.js';
import { checkEnvVar, splitEnvAssignment } from '../../core/env.js';
import type { CellRole } from '../../core/model.js';

/** The role choices the editor offers; `none` means an untagged cell (it joins the step above). */
export type RoleChoice = 'none' | CellRole;

export const ROLE_CHOICES: RoleChoice[] = ['none', 'step', 'imports', 'functions', 'pipeline-parameters', 'pipeline-metrics', 'skip'];

/** Resource names the editor's limit fields write (`limit:<resource>:<value>`). */
export const LIMIT_RESOURCES = { cpu: 'cpu', memory: 'memory', gpu: 'nvidia.com/gpu' } as const;

/** What the tag editor shows and edits. Strings are as typed; empty means "not set". */
export interface TagEdit {
  role: RoleChoice;
  /** Step name (only meaningful when `role` is `step`). */
  step: string;
  prev: string[];
  image: string;
  cpu: string;
  memory: string;
  gpu: string;
  /** `default` writes no `cache:` tag. */
  cache: 'default' | 'enabled' | 'disabled';
  retries: string;
  timeout: string;
  /** Comma-separated package specs. */
  requirements: string;
  /** Environment variables, one `NAME=value` a line (`env:` tags). */
  env: string;
}

const ROLE_TAG_NAMES = new Set(['imports', 'functions', 'pipeline-parameters', 'pipeline-metrics', 'skip']);
const MANAGED_PREFIXES = ['step:', 'block:', 'prev:', 'image:', 'cache:', 'retries:', 'timeout:', 'requirements:', 'env:'];
const MANAGED_LIMITS = Object.values(LIMIT_RESOURCES).map((r) => `limit:${r}:`);

/** True for the tags the editor owns (and rewrites); false for tags it must keep untouched. */
export function isManagedTag(tag: string): boolean {
  const t = tag.trim();
  return ROLE_TAG_NAMES.has(t) || MANAGED_PREFIXES.some((p) => t.startsWith(p)) || MANAGED_LIMITS.some((p) => t.startsWith(p));
}

/** Reads a cell's tags into the editor's fields. */
export function readTagEdit(tags: readonly string[]): TagEdit {
  const { tags: parsed } = parseCellTags({ index: 0, type: 'code', source: '', tags: [...tags] });
  return {
    role: parsed.role ?? 'none',
    step: parsed.step ?? '',
    prev: [...parsed.prev],
    image: parsed.image ?? '',
    cpu: parsed.limits[LIMIT_RESOURCES.cpu] ?? '',
    memory: parsed.limits[LIMIT_RESOURCES.memory] ?? '',
    gpu: parsed.limits[LIMIT_RESOURCES.gpu] ?? '',
    cache: parsed.cache === undefined ? 'default' : parsed.cache ? 'enabled' : 'disabled',
    retries: parsed.retries === undefined ? '' : String(parsed.retries),
    timeout: parsed.timeout === undefined ? '' : String(parsed.timeout),
    requirements: parsed.requirements.join(','),
    // Written as tags, so kept as written even where the grammar refuses them (the form then says why).
    env: tags.map((t) => t.trim()).filter((t) => t.startsWith('env:')).map((t) => t.slice(4)).join('\n'),
  };
}

/**
 * Writes the editor's fields back as tags: unmanaged tags stay first, in their order; managed tags follow in a
 * fixed order (role or `step:`, `prev:`…, options). Step options are only written for a `step` cell.
 */
export function writeTags(original: readonly string[], edit: TagEdit): string[] {
  const kept = original.filter((t) => !isManagedTag(t));
  const out: string[] = [];
  if (edit.role === 'step') out.push(`step:${edit.step.trim()}`);
  else if (edit.role !== 'none') out.push(edit.role);
  if (edit.role === 'step') {
    for (const p of edit.prev) if (p && p !== edit.step.trim() && !out.includes(`prev:${p}`)) out.push(`prev:${p}`);
    if (edit.image.trim()) out.push(`image:${edit.image.trim()}`);
    if (edit.cpu.trim()) out.push(`limit:${LIMIT_RESOURCES.cpu}:${edit.cpu.trim()}`);
    if (edit.memory.trim()) out.push(`limit:${LIMIT_RESOURCES.memory}:${edit.memory.trim()}`);
    if (edit.gpu.trim()) out.push(`limit:${LIMIT_RESOURCES.gpu}:${edit.gpu.trim()}`);
    if (edit.cache !== 'default') out.push(`cache:${edit.cache}`);
    if (edit.retries.trim()) out.push(`retries:${edit.retries.trim()}`);
    if (edit.timeout.trim()) out.push(`timeout:${edit.timeout.trim()}`);
    const reqs = edit.requirements.split(',').map((r) => r.trim()).filter(Boolean);
    if (reqs.length) out.push(`requirements:${reqs.join(',')}`);
    for (const line of envLines(edit.env)) out.push(`env:${line}`);
  }
  return [...kept, ...out];
}

/** A problem with one editor field, named so the form can show it next to that field. */
export interface FieldError {
  field: keyof TagEdit;
  message: string;
}

/**
 * Validates the editor's fields as the user types. `otherSteps` are the step names of the notebook's other
 * step cells (a name may repeat: `step:` on a later cell continues that step, so a taken name is a note, not an error).
 */
export function validateTagEdit(edit: TagEdit): FieldError[] {
  const errors: FieldError[] = [];
  if (edit.role === 'step') {
    const name = edit.step.trim();
    if (!name) errors.push({ field: 'step', message: 'a step needs a name' });
    else if (!STEP_NAME.test(name)) {
      errors.push({ field: 'step', message: `'${name}' is not a valid step name: start with a letter or _, then letters, digits, _ or -` });
    }
    if (edit.prev.includes(name) && name) errors.push({ field: 'prev', message: 'a step cannot depend on itself' });
    if (edit.cpu.trim() && !isQuantity(edit.cpu.trim())) errors.push({ field: 'cpu', message: 'CPU is a quantity, e.g. 2 or 500m' });
    if (edit.memory.trim() && !isQuantity(edit.memory.trim())) errors.push({ field: 'memory', message: 'memory is a quantity, e.g. 2Gi or 512Mi' });
    if (edit.gpu.trim() && !/^[0-9]+$/.test(edit.gpu.trim())) errors.push({ field: 'gpu', message: 'GPUs are a whole number, e.g. 1' });
    if (edit.retries.trim() && !/^[0-9]+$/.test(edit.retries.trim())) errors.push({ field: 'retries', message: 'retries is a whole number, e.g. 2' });
    if (edit.timeout.trim() && (!/^[0-9]+$/.test(edit.timeout.trim()) || Number(edit.timeout.trim()) === 0)) {
      errors.push({ field: 'timeout', message: 'timeout is a positive number of seconds, e.g. 600' });
    }
    if (/\s/.test(edit.image.trim())) errors.push({ field: 'image', message: 'an image reference has no spaces, e.g. python:3.11-slim' });
    const envError = envLines(edit.env).map(envLineError).find(Boolean);
    if (envError) errors.push({ field: 'env', message: envError });
  }
  return errors;
}

/** The editor's env text as `NAME=value` lines (blank lines dropped). */
function envLines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** What is wrong with one `NAME=value` line, as the compiler would say it; undefined when it is fine. */
function envLineError(line: string): string | undefined {
  const a = splitEnvAssignment(line);
  if (!a) return `'${line}': write NAME=value, e.g. DATASET_URL=https://example.com/data.csv`;
  // nbformat forbids commas in tags.
  if (line.includes(',')) return `'${a.name}': a tag cannot hold a comma; put the variable in the notebook's metadata.cellpipe.env instead`;
  const bad = checkEnvVar(a.name, a.value);
  return bad ? `${bad.message}; ${bad.hint}` : undefined;
}

/**
 * Renames a step in every cell's tags: its `step:`/`block:` tags and every `prev:` naming it.
 * Returns the new tag lists (the same array object when a cell did not change).
 */
export function renameStep(cells: readonly (readonly string[])[], from: string, to: string): string[][] {
  return cells.map((tags) => {
    let changed = false;
    const next = tags.map((t) => {
      const tag = t.trim();
      for (const prefix of ['step:', 'block:', 'prev:']) {
        if (tag === `${prefix}${from}`) {
          changed = true;
          return `${prefix}${to}`;
        }
      }
      return t;
    });
    return changed ? dedupe(next) : (tags as string[]);
  });
}

function dedupe(tags: string[]): string[] {
  return tags.filter((t, i) => tags.indexOf(t) === i);
}

/** The tags of a cell made the first cell of a new step `name` (options of a previous role are dropped). */
export function makeStepTags(tags: readonly string[], name: string, prev: string[] = []): string[] {
  return writeTags(tags, { ...readTagEdit([]), role: 'step', step: name, prev });
}

/** The tags of a cell set to a plain role (or untagged with `none`, which joins it to the step above). */
export function setRoleTags(tags: readonly string[], role: Exclude<RoleChoice, 'step'>): string[] {
  return writeTags(tags, { ...readTagEdit([]), role });
}

/** A fresh step name not in `taken`: `step1`, `step2`, … */
export function suggestStepName(taken: Iterable<string>): string {
  const used = new Set(taken);
  for (let i = 1; ; i++) if (!used.has(`step${i}`)) return `step${i}`;
}
