/**
 * An executed notebook (`cellpipe export`, or Export in the sidebar) opened in the page, no DOM: its metadata says
 * which run made it and of which notebook it is a copy, so the sidebar shows it as that copy, not as a pipeline to
 * run (running it would run the copy's code under another name, with a run's outputs saved in it).
 */

/** What an executed copy's notebook metadata (`cellpipe_run`) says. */
export interface ExecutedCopy {
  run: string;
  state?: string;
  /** The notebook's path, relative to the copy's folder (the copy is written beside it); absent in older copies. */
  notebook?: string;
}

/** The executed copy the notebook metadata `cellpipe_run` describes, or undefined for a notebook of one's own. */
export function executedCopyOf(meta: unknown): ExecutedCopy | undefined {
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return undefined;
  const m = meta as Record<string, unknown>;
  if (typeof m.run !== 'string' || !m.run) return undefined;
  return {
    run: m.run,
    ...(typeof m.state === 'string' ? { state: m.state } : {}),
    ...(typeof m.notebook === 'string' && m.notebook && !m.notebook.includes('/') ? { notebook: m.notebook } : {}),
  };
}

/** The notebook a copy at `copyPath` (server-relative, `/`-separated) was made from, beside it. */
export function sourceNotebookPath(copyPath: string, copy: ExecutedCopy): string | undefined {
  if (!copy.notebook) return undefined;
  const slash = copyPath.lastIndexOf('/');
  return slash < 0 ? copy.notebook : `${copyPath.slice(0, slash + 1)}${copy.notebook}`;
}
