/**
 * The notebooks a composing notebook's `notebook:` cells reference (Kale 2.3), as the page reads them: the compiler is
 * synchronous and pure, Jupyter's contents API is not, so each referenced notebook is fetched once into this cache
 * and the notebook recompiles when it arrives; a referenced notebook saved again is fetched again (and recompiles).
 */
import type { NotebookReader } from '../../core/compose.js';
import { normalizePath } from '../../core/compose.js';

/** Fetches a notebook's JSON by its server path (the contents API); rejects when there is none. */
export type FetchNotebook = (serverPath: string) => Promise<object>;

type Entry = { state: 'loading' } | { state: 'loaded'; content: object } | { state: 'failed'; why: string };

export class ReferencedNotebooks {
  private readonly entries = new Map<string, Entry>();

  /** `onChange` runs when a fetched notebook arrives or changes: the caller recompiles. */
  constructor(private readonly fetch: FetchNotebook, private readonly onChange: () => void) {}

  /** The reader for a notebook at `notebookPath` (a server path): paths are relative to its folder. */
  reader(notebookPath: string): NotebookReader {
    return (path) => {
      const serverPath = referencedPath(notebookPath, path);
      const entry = this.entries.get(serverPath);
      if (!entry) {
        this.load(serverPath);
        throw new Error('it is being read (a moment)');
      }
      if (entry.state === 'loading') throw new Error('it is being read (a moment)');
      if (entry.state === 'failed') throw new Error(entry.why);
      return entry.content;
    };
  }

  /** Whether `serverPath` is a notebook this cache holds (so a save of it matters). */
  has(serverPath: string): boolean {
    return this.entries.has(normalizePath(serverPath));
  }

  /** A referenced notebook was saved, renamed or deleted: read it again. */
  refresh(serverPath: string): void {
    const key = normalizePath(serverPath);
    if (this.entries.has(key)) this.load(key);
  }

  private load(serverPath: string): void {
    this.entries.set(serverPath, { state: 'loading' });
    this.fetch(serverPath).then(
      (content) => this.entries.set(serverPath, { state: 'loaded', content }),
      (err: unknown) => this.entries.set(serverPath, { state: 'failed', why: notFound(err) ? 'there is no such file' : String((err as Error)?.message ?? err) }),
    ).then(() => this.onChange());
  }
}

/** The server path of `path` (relative to the folder of the notebook at server path `notebookPath`). */
export function referencedPath(notebookPath: string, path: string): string {
  const folder = notebookPath.includes('/') ? notebookPath.slice(0, notebookPath.lastIndexOf('/')) : '';
  return normalizePath(folder ? `${folder}/${path}` : path);
}

/** The contents API answers a missing file with a 404. */
function notFound(err: unknown): boolean {
  const status = (err as { response?: { status?: number } })?.response?.status;
  return status === 404 || /\b404\b|not found/i.test(String((err as Error)?.message ?? ''));
}
