/**
 * A Kubeflow step's cell outputs, carried in its pod's log: the step runtime (`--cell-outputs-log stderr`, see
 * python/cellpipe_runtime/outputs.py) writes the outputs document as numbered lines
 * `[cellpipe] cell-outputs I/N <base64 of zlib(JSON)>` when the step ends; whoever follows the log reassembles them
 * into the file a local step writes (`cell-outputs.json`). The lines are short because a kubelet splits long ones.
 * Pure: feed lines, get the document once the last chunk came.
 */
import { inflateSync } from 'node:zlib';

export const CELL_OUTPUTS_LOG_PREFIX = '[cellpipe] cell-outputs ';

const CHUNK = /^\[cellpipe\] cell-outputs (\d+)\/(\d+) ([A-Za-z0-9+/=]*)$/;

/** Whether a log line is one of the chunks (it belongs to the outputs, not to the step's log). */
export function isCellOutputsLine(text: string): boolean {
  return text.startsWith(CELL_OUTPUTS_LOG_PREFIX);
}

/** Collects one step's chunks; `accept` returns the document's JSON text when the set is complete and whole. */
export class CellOutputsAssembler {
  private parts: string[] = [];
  private total = 0;

  accept(text: string): string | undefined {
    const m = CHUNK.exec(text.trimEnd());
    if (!m) return undefined;
    const [i, n] = [Number(m[1]), Number(m[2])];
    // A new set (the step ran again, or a re-read from the start) starts over.
    if (i === 1 || n !== this.total) {
      this.parts = [];
      this.total = n;
    }
    if (i !== this.parts.length + 1) return undefined;
    this.parts.push(m[3]);
    if (this.parts.length < this.total) return undefined;
    const data = this.parts.join('');
    this.parts = [];
    this.total = 0;
    try {
      const json = inflateSync(Buffer.from(data, 'base64')).toString('utf8');
      JSON.parse(json);
      return json;
    } catch {
      return undefined;
    }
  }
}
