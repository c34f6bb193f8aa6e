/**
 * The cell tag grammar: Kale's tags read with Kale's meaning, plus cellpipe's documented extensions
 * (`-` in step names, `requirements:`, `timeout:`, `retries:`, `env:`, `step:` continuing an earlier step).
 */
import type { CellRole, Diagnostic, NotebookCell, SecretEnv } from './model.js';
import { checkEnvVar, splitEnvAssignment } from './env.js';
import { isQuantity } from './quantity.js';

/** What one cell's tags say. */
export interface CellTags {
  role?: CellRole;
  /** Step name from `step:` / `block:`. */
  step?: string;
  prev: string[];
  limits: Record<string, string>;
  image?: string;
  cache?: boolean;
  secrets: SecretEnv[];
  annotations: Record<string, string>;
  labels: Record<string, string>;
  requirements: string[];
  timeout?: number;
  retries?: number;
  /** Non-secret environment variables from `env:NAME=value`. */
  env: Record<string, string>;
  /** The name of a `notebook:<name>` cell (Kale 2.3): the cell stands for another notebook's steps. */
  notebook?: string;
}

/**
 * Step names: a letter or `_`, then letters, digits, `_` or `-`. Kale allows `[_a-z][_a-z0-9]*`; cellpipe also
 * allows capitals and `-` (users ask for them).
 */
export const STEP_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const ROLE_TAGS: Record<string, CellRole> = {
  imports: 'imports',
  functions: 'functions',
  'pipeline-parameters': 'pipeline-parameters',
  'pipeline-metrics': 'pipeline-metrics',
  skip: 'skip',
};

/** Every tag form, for "did you mean" suggestions. */
export const KNOWN_TAG_FORMS = [
  'imports',
  'functions',
  'pipeline-parameters',
  'pipeline-metrics',
  'skip',
  'step:<name>',
  'block:<name>',
  'notebook:<name>',
  'prev:<name>',
  'limit:<resource>:<value>',
  'image:<ref>',
  'cache:enabled',
  'cache:disabled',
  'report:enabled',
  'report:disabled',
  'secret:<secret>:<key>:<ENV>',
  'annotation:<key>:<value>',
  'label:<key>:<value>',
  'requirements:<pkg>[,<pkg>…]',
  'timeout:<seconds>',
  'retries:<n>',
  'env:<NAME>=<value>',
];

/** The prefixes of every `prefix:value` tag: the one list the parser, the suggestions and `isKnownTag` read. */
const PREFIXES = ['step', 'block', 'notebook', 'prev', 'limit', 'image', 'cache', 'report', 'secret', 'annotation', 'label', 'requirements', 'timeout', 'retries', 'env'];

/** Whether a tag is one of cellpipe's (a role tag, or a known prefix and `:`), whatever its value says. */
export function isKnownTag(tag: string): boolean {
  if (Object.hasOwn(ROLE_TAGS, tag)) return true;
  const colon = tag.indexOf(':');
  return colon > 0 && PREFIXES.includes(tag.slice(0, colon));
}

/**
 * Reads a cell's tags. Tags that are not cellpipe's (any tag without a known prefix) are reported as
 * warnings with the nearest known tag, never dropped from the notebook.
 */
export function parseCellTags(cell: NotebookCell): { tags: CellTags; diagnostics: Diagnostic[] } {
  const tags: CellTags = { prev: [], limits: {}, secrets: [], annotations: {}, labels: {}, requirements: [], env: {} };
  const diagnostics: Diagnostic[] = [];
  const at = { cell: cell.index, ...(cell.id ? { cellId: cell.id } : {}) };
  const problem = (severity: Diagnostic['severity'], code: string, message: string, hint?: string) =>
    diagnostics.push({ severity, code, message, ...(hint ? { hint } : {}), ...at });
  // As in Kale, the cell's first role tag decides its role: later role tags and step names are ignored (and said so).
  const roleTag = cell.tags.map((t) => t.trim()).find((t) => Object.hasOwn(ROLE_TAGS, t));
  if (roleTag) tags.role = ROLE_TAGS[roleTag];
  const ignoredForRole = (tag: string) =>
    problem('warning', 'conflicting-tags', `tag '${tag}' is ignored: the cell is '${roleTag}' (its first role tag decides, as in Kale)`,
      'a cell has one role: remove one of the tags');
  const read: TagReading = { tags, problem, roleTag, ignoredForRole };

  for (const raw of cell.tags) {
    const tag = raw.trim();
    if (Object.hasOwn(ROLE_TAGS, tag)) {
      if (tag !== roleTag) ignoredForRole(tag);
      continue;
    }
    const colon = tag.indexOf(':');
    const prefix = colon < 0 ? tag : tag.slice(0, colon);
    const value = colon < 0 ? '' : tag.slice(colon + 1);
    if (!PREFIXES.includes(prefix)) {
      const near = nearestTag(tag);
      problem('warning', 'unknown-tag', `unknown tag '${tag}' is ignored`, near ? `did you mean '${near}'?` : `known tags: ${KNOWN_TAG_FORMS.join(', ')}`);
      continue;
    }
    if (prefix === 'step' || prefix === 'block' || prefix === 'notebook' || prefix === 'prev') readNameTag(read, prefix, tag, value);
    else readOptionTag(read, prefix, tag, value);
  }
  const stepOnly = tags.prev.length || Object.keys(tags.limits).length || tags.image || tags.cache !== undefined ||
    tags.secrets.length || Object.keys(tags.annotations).length || Object.keys(tags.labels).length ||
    tags.requirements.length || tags.timeout !== undefined || tags.retries !== undefined || Object.keys(tags.env).length;
  if (stepOnly && tags.role && tags.role !== 'step') {
    problem('warning', 'misplaced-tag', `step options on a '${tags.role}' cell are ignored`, 'put prev:/limit:/image:/… tags on the cell with the step: tag');
  }
  return { tags, diagnostics };
}

/** What reading one cell's tags shares: the tags so far, how a problem is said, and the cell's role tag. */
interface TagReading {
  tags: CellTags;
  problem: (severity: Diagnostic['severity'], code: string, message: string, hint?: string) => void;
  roleTag: string | undefined;
  ignoredForRole: (tag: string) => void;
}

/** `step:`, `block:`, `notebook:` and `prev:`: the tags that name a step or a notebook. */
function readNameTag({ tags, problem, roleTag, ignoredForRole }: TagReading, prefix: string, tag: string, value: string): void {
  switch (prefix) {
    case 'step':
    case 'block': {
      const name = value.trim();
      // A bare `block:` (what Kale's cell editor writes on continuation cells) means no step tag, as in Kale.
      if (!name) break;
      if (!STEP_NAME.test(name)) {
        problem('error', 'invalid-step-name', `'${tag}': step name '${name}' is not valid`,
          'a step name starts with a letter or _ and has only letters, digits, _ and -');
        break;
      }
      if (roleTag) {
        ignoredForRole(tag);
        break;
      }
      if (tags.notebook) {
        problem('error', 'conflicting-tags', `'${tag}': the cell is 'notebook:${tags.notebook}', which stands for another notebook`,
          'put the step\'s code in a cell of its own below the notebook: cell');
        break;
      }
      if (tags.step && tags.step !== name) {
        problem('error', 'conflicting-tags', `cell has two step names, '${tags.step}' and '${name}'`, 'a cell belongs to one step: remove one tag');
        break;
      }
      tags.role = 'step';
      tags.step = name;
      break;
    }
    case 'notebook': {
      // Kale 2.3: the cell stands for the steps of the notebook its `notebook_path` metadata names (src/core/compose.ts).
      const name = value.trim();
      if (!STEP_NAME.test(name)) {
        problem('error', 'invalid-step-name', `'${tag}': '${name}' is not a valid notebook reference name`,
          'write notebook:<name>, a name that starts with a letter or _ and has only letters, digits, _ and -');
      } else if (roleTag || tags.step) {
        problem('error', 'conflicting-tags', `'${tag}': a notebook: cell stands for another notebook and can't also be '${roleTag ?? `step:${tags.step}`}'`,
          'put the notebook: tag on a cell of its own');
      } else if (tags.notebook && tags.notebook !== name) {
        problem('error', 'conflicting-tags', `cell references two notebooks, '${tags.notebook}' and '${name}'`, 'one notebook: tag a cell');
      } else tags.notebook = name;
      break;
    }
    case 'prev': {
      const name = value.trim();
      if (!STEP_NAME.test(name)) problem('error', 'invalid-step-name', `'${tag}': '${name}' is not a valid step name`, 'write prev:<step name>');
      else if (!tags.prev.includes(name)) tags.prev.push(name);
      break;
    }
  }
}

/** The step options (`limit:`, `image:`, `cache:`, `secret:`, `env:` …): each read into `tags` or said wrong. */
function readOptionTag({ tags, problem }: TagReading, prefix: string, tag: string, value: string): void {
  switch (prefix) {
    case 'limit': {
      const cut = value.lastIndexOf(':');
      const resource = value.slice(0, cut);
      const amount = value.slice(cut + 1);
      const example = 'e.g. limit:memory:2Gi, limit:cpu:500m, limit:nvidia.com/gpu:1';
      if (cut <= 0 || !amount) {
        problem('error', 'invalid-tag-value', `'${tag}' is not a valid resource limit`, `write limit:<resource>:<Kubernetes quantity>, ${example}`);
      } else if (!isQuantity(amount)) {
        // Kale takes any [_a-zA-Z0-9.]+ here (and Kale 2.3 applies only GPU limits), so such a notebook compiles
        // there; Kubernetes would refuse the value, so it is left out and said so rather than failing the notebook.
        problem('warning', 'invalid-tag-value', `'${tag}' is ignored: '${amount}' is not a Kubernetes quantity, so Kubernetes would refuse it`,
          `write the amount as Kubernetes does, ${example}`);
      } else tags.limits[resource] = amount;
      break;
    }
    case 'image':
      if (!value) problem('error', 'invalid-tag-value', `'${tag}' has no image reference`, 'write image:<registry/repo:tag>');
      else tags.image = value;
      break;
    case 'report':
      // Kale's per-step HTML report of the cells' outputs: cellpipe records every cell's outputs in the run
      // record anyway, so the tag is read and has nothing to switch.
      if (value !== 'enabled' && value !== 'disabled') {
        problem('error', 'invalid-tag-value', `'${tag}': report must be 'enabled' or 'disabled'`, 'write report:enabled or report:disabled');
      }
      break;
    case 'cache':
      if (value === 'enabled' || value === 'disabled') tags.cache = value === 'enabled';
      else problem('error', 'invalid-tag-value', `'${tag}': cache must be 'enabled' or 'disabled'`, 'write cache:enabled or cache:disabled');
      break;
    case 'secret': {
      const parts = value.split(':');
      if (parts.length !== 3 || parts.some((p) => !p) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(parts[2])) {
        problem('error', 'invalid-tag-value', `'${tag}' is not a valid secret reference`, 'write secret:<secret name>:<key>:<ENV_VAR>');
      } else {
        tags.secrets.push({ secret: parts[0], key: parts[1], env: parts[2] });
        // Said on the cell, so a local run's missing variable is no surprise.
        problem('info', 'secret-outside-kubernetes',
          `'${tag}': on Kubeflow ${parts[2]} comes from the Kubernetes secret '${parts[0]}'; local and container runs don't read Kubernetes secrets`,
          `for those runs set ${parts[2]} in the environment cellpipe runs in, or point CELLPIPE_SECRETS_FILE at a JSON file {"${parts[0]}": {"${parts[1]}": "…"}}; the step's log says where it came from`);
      }
      break;
    }
    case 'annotation':
    case 'label': {
      const cut = value.indexOf(':');
      if (cut <= 0) {
        problem('error', 'invalid-tag-value', `'${tag}' needs a key and a value`, `write ${prefix}:<key>:<value>`);
        break;
      }
      (prefix === 'label' ? tags.labels : tags.annotations)[value.slice(0, cut)] = value.slice(cut + 1);
      break;
    }
    case 'requirements': {
      const pkgs = value.split(',').map((p) => p.trim()).filter(Boolean);
      if (!pkgs.length) problem('error', 'invalid-tag-value', `'${tag}' lists no packages`, 'write requirements:pandas==2.2,scikit-learn');
      for (const p of pkgs) if (!tags.requirements.includes(p)) tags.requirements.push(p);
      break;
    }
    case 'env': {
      const assignment = splitEnvAssignment(value);
      if (!assignment) {
        problem('error', 'invalid-tag-value', `'${tag}' is not an environment variable`, 'write env:<NAME>=<value>, e.g. env:DATASET_URL=https://example.com/data.csv');
        break;
      }
      const bad = checkEnvVar(assignment.name, assignment.value);
      if (bad) problem('error', bad.code, `'${tag}': ${bad.message}`, bad.hint);
      else tags.env[assignment.name] = assignment.value;
      break;
    }
    case 'timeout':
    case 'retries': {
      const n = Number(value);
      if (!/^[0-9]+$/.test(value) || (prefix === 'timeout' && n === 0)) {
        problem('error', 'invalid-tag-value', `'${tag}': ${prefix} must be a ${prefix === 'timeout' ? 'positive' : 'non-negative'} whole number`,
          prefix === 'timeout' ? 'write timeout:<seconds>, e.g. timeout:600' : 'write retries:<n>, e.g. retries:2');
      } else if (prefix === 'timeout') tags.timeout = n;
      else tags.retries = n;
      break;
    }
  }
}

/** The known tag form closest to a mistyped tag, when it is close enough to be a likely typo. */
export function nearestTag(tag: string): string | undefined {
  const colon = tag.indexOf(':');
  const head = colon < 0 ? tag : tag.slice(0, colon);
  const candidates = [...Object.keys(ROLE_TAGS), ...PREFIXES];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(head.toLowerCase(), c);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  if (best === undefined || bestDistance > Math.max(2, Math.floor(head.length / 3))) return undefined;
  return best in ROLE_TAGS ? best : `${best}:${colon < 0 ? '…' : tag.slice(colon + 1)}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
