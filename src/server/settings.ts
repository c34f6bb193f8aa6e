/**
 * The JupyterLab settings that shape what the backend does (schema/plugin.json), sent by the page with
 * `PUT /api/settings` whenever they load or change:
 *
 * - `profiles`: Kubeflow profiles in the profiles file's own format (name → settings, see kube/profile.ts), added to
 *   the file's profiles; on a name in both, the JupyterLab setting wins;
 * - `runsDir`: where run records and logs go ('' = next to each notebook, as the CLI does): a folder inside the
 *   Jupyter root, relative to it — never an absolute path nor one that leads out of the root with `..` (run records
 *   hold what the notebooks computed; the backend only ever writes inside the root it serves);
 * - `concurrency`: steps of a local run at once;
 * - `defaultBaseImage`: base image of notebooks that name none.
 *
 * Profiles hold no secrets (tokens are read from files or environment variables the profile names), so the backend
 * keeps the last settings in its state directory: a restarted backend can watch the runs of JupyterLab profiles
 * again before any page has connected.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from './http.js';
import { writeStateFile } from './state-file.js';

export interface LabSettings {
  /** Profile name → the profile's settings, unchecked (each is checked like a profile of the file). */
  profiles: Record<string, unknown>;
  runsDir: string;
  concurrency?: number;
  defaultBaseImage?: string;
}

export const NO_LAB_SETTINGS: LabSettings = { profiles: {}, runsDir: '' };

const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Reads a `PUT /api/settings` body; a 400 naming the field for anything out of shape. Unknown fields are refused. */
export function parseLabSettings(body: Record<string, unknown>): LabSettings {
  const known = ['profiles', 'runsDir', 'concurrency', 'defaultBaseImage'];
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) throw new HttpError(400, `settings: '${key}' is not a setting the backend knows (known: ${known.join(', ')})`);
  }
  const out: LabSettings = { profiles: {}, runsDir: '' };
  const profiles = body.profiles ?? {};
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles)) {
    throw new HttpError(400, "settings: 'profiles' must map profile names to their settings", 'Use the profiles file format: { "prod": { "namespace": "…", "registry": "…", "kfp": { "host": "…" } } }.');
  }
  for (const [name, value] of Object.entries(profiles)) {
    if (!NAME.test(name) || name === 'local') {
      throw new HttpError(400, `settings: profile name '${name}' is not allowed`, "Use letters, digits, '-' and '_', starting with a letter; 'local' is the local target.");
    }
    out.profiles[name] = value;
  }
  if (body.runsDir !== undefined && body.runsDir !== null) {
    if (typeof body.runsDir !== 'string') throw new HttpError(400, "settings: 'runsDir' must be a path (or empty for the default)");
    out.runsDir = checkRunsDir(body.runsDir.trim());
  }
  if (body.concurrency !== undefined && body.concurrency !== null) {
    const c = body.concurrency;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > 256) throw new HttpError(400, `settings: 'concurrency' must be a whole number from 1 to 256, got ${JSON.stringify(c)}`);
    out.concurrency = c;
  }
  if (body.defaultBaseImage !== undefined && body.defaultBaseImage !== null && body.defaultBaseImage !== '') {
    const image = body.defaultBaseImage;
    if (typeof image !== 'string' || /\s/.test(image.trim()) || !image.trim()) throw new HttpError(400, `settings: 'defaultBaseImage' must be an image reference, got ${JSON.stringify(image)}`);
    out.defaultBaseImage = image.trim();
  }
  return out;
}

/** A `runsDir` setting that stays inside the Jupyter root, or a 400 saying why it does not. */
function checkRunsDir(dir: string): string {
  if (!dir) return dir;
  const hint = "Give a folder relative to the Jupyter root, e.g. 'runs' or 'work/.cellpipe-runs', or leave it empty to keep runs next to each notebook.";
  const refuse = (why: string) => new HttpError(400, `settings: 'runsDir' '${dir}' is refused: ${why}`, hint);
  if (dir.includes('\0')) throw refuse('it contains a NUL byte');
  if (dir === '~' || dir.startsWith('~/')) throw refuse("'~' is not the home folder here: the path is relative to the Jupyter root");
  if (path.isAbsolute(dir) || /^[a-zA-Z]:[\\/]/.test(dir)) {
    throw refuse('it is an absolute path; run records must stay inside the Jupyter root, so the path is relative to it');
  }
  const norm = path.posix.normalize(dir.replace(/\\/g, '/'));
  if (norm === '..' || norm.startsWith('../')) throw refuse("it leads outside the Jupyter root ('..'); run records must stay inside it");
  return dir;
}

/** Where runs of a notebook go under these settings: `runsDir` (relative to the Jupyter root) or the default. */
export function runsDirFor(settings: LabSettings, root: string, notebookAbs: string, fallback: (abs: string) => string): string {
  if (!settings.runsDir) return fallback(notebookAbs);
  return path.resolve(root, settings.runsDir);
}

/**
 * The settings a previous backend kept, or none. A file that cannot be read counts as none (the page sends them
 * again); a setting that is refused now (a `runsDir` outside the root, kept by an older version or edited by hand)
 * is left out, the others kept, and `refused` says which and why.
 */
export async function readKeptSettings(file: string): Promise<{ settings: LabSettings; refused?: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return { settings: NO_LAB_SETTINGS };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { settings: NO_LAB_SETTINGS, refused: `the settings kept in ${file} are not a JSON object: ignored` };
  const body = raw as Record<string, unknown>;
  try {
    return { settings: parseLabSettings(body) };
  } catch (err) {
    const why = (err as Error).message;
    try {
      const settings = parseLabSettings({ ...body, runsDir: '' });
      return { settings, refused: `${why} (kept in ${file}); runs are kept next to each notebook until JupyterLab sends a runs folder inside the root` };
    } catch {
      return { settings: NO_LAB_SETTINGS, refused: `the settings kept in ${file} are refused: ${why}; none are used until JupyterLab sends them again` };
    }
  }
}

export function keepSettings(file: string, settings: LabSettings): Promise<void> {
  return writeStateFile(file, settings);
}
