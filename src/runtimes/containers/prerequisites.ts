/**
 * What this machine needs to run steps in containers (`cellpipe run --in-images`, the sidebar's "This machine, in
 * containers"), piece by piece with the Debian package that provides it: the one list behind the runtime's refusal
 * and `cellpipe doctor`'s report, so the two never disagree.
 */
import { MissingToolError, findTool } from './tools.js';

export interface Prerequisite {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it is missing (the Debian package to install). */
  fix?: string;
  /** False for a piece only some notebooks need (buildah: `requirements:` steps). */
  required: boolean;
  /** The runtime's error when this required piece is missing. */
  error?: string;
}

const TOOLS: { tool: string; pkg: string; why: string; required: boolean }[] = [
  { tool: 'runc', pkg: 'runc', why: 'runs each step as a container', required: true },
  { tool: 'skopeo', pkg: 'skopeo', why: 'pulls the step images', required: true },
  { tool: 'tar', pkg: 'tar', why: 'unpacks image layers', required: true },
  { tool: 'docker-registry', pkg: 'docker-registry', why: 'the private registry used without --registry and by the sidebar', required: true },
  { tool: 'buildah', pkg: 'buildah', why: 'builds the requirements image of `requirements:` steps', required: false },
];

/** Each piece, checked on this machine now. */
export function containerPrerequisites(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): Prerequisite[] {
  const root = uid === undefined || uid === 0;
  const out: Prerequisite[] = [root
    ? { name: 'root', ok: true, detail: 'running as root', required: true }
    : {
        name: 'root', ok: false, required: true,
        detail: `running as uid ${uid}: runc here needs root (no user-namespace set-up)`,
        fix: 'run cellpipe (or the JupyterLab server) as root',
        error: 'running steps in containers needs root here (runc without a user namespace set-up)',
      }];
  for (const t of TOOLS) {
    const at = findTool(t.tool, env);
    out.push(at
      ? { name: t.tool, ok: true, detail: `${at} (${t.why})`, required: t.required }
      : {
          name: t.tool, ok: false, required: t.required,
          detail: `not installed (${t.why})`,
          fix: `apt-get install ${t.pkg}`,
          error: new MissingToolError(t.tool, t.pkg).message,
        });
  }
  return out;
}

/** Why steps cannot run in containers here (the first required piece missing), or undefined when they can. */
export function firstMissing(prerequisites: Prerequisite[] = containerPrerequisites()): string | undefined {
  return prerequisites.find((p) => p.required && !p.ok)?.error;
}
