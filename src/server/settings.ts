/**
 * The JupyterLab settings that shape what the backend does (schema/plugin.json), sent by the page with
 * `PUT /api/settings` whenever they load or change:
 *
 * - `profiles`: Kubeflow profiles in the profiles file's own format (name → settings, see kube/profile.ts), added to
 *   the file's profiles; on a name in both, the JupyterLab setting wins;
 * - `runsDir`: where run records and logs go ('' = next to each notebook, as the CLI does);
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
    out.runsDir = body.runsDir.trim();
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

/** Where runs of a notebook go under these settings: `runsDir` (relative to the Jupyter root) or the default. */
export function runsDirFor(settings: LabSettings, root: string, notebookAbs: string, fallback: (abs: string) => string): string {
  if (!settings.runsDir) return fallback(notebookAbs);
  return path.resolve(root, settings.runsDir);
}

/** The settings a previous backend kept, or none. A damaged file counts as none (the page sends them again). */
export async function readKeptSettings(file: string): Promise<LabSettings> {
  try {
    return parseLabSettings(JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>);
  } catch {
    return NO_LAB_SETTINGS;
  }
}

export function keepSettings(file: string, settings: LabSettings): Promise<void> {
  return writeStateFile(file, settings);
}
