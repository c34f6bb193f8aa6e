/**
 * Run records as text for a terminal: the `cellpipe runs` table, the `cellpipe status` view, the progress line
 * of `cellpipe run`. Pure functions of a record (plus "now" for runs still going).
 */
import type { RunRecord, StepRecord } from './types.js';
import { cellLabel } from '../core/notebook.js';
import { formatBytes } from '../core/bytes.js';
import { showValue } from './compare.js';

/** `1.2s`, `3m04s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function elapsed(from?: string, to?: string, now = Date.now()): string {
  if (!from) return '-';
  return formatDuration((to ? Date.parse(to) : now) - Date.parse(from));
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** Counts of steps by outcome. */
export function stepCounts(rec: RunRecord): { total: number; done: number; running: string[]; failed: number; cached: number } {
  const by = (pred: (s: StepRecord) => boolean) => rec.steps.filter(pred);
  return {
    total: rec.steps.length,
    done: by((s) => s.state === 'succeeded' || s.state === 'cached').length,
    running: by((s) => s.state === 'running').map((s) => s.name),
    failed: by((s) => s.state === 'failed').length,
    cached: by((s) => s.state === 'cached').length,
  };
}

/** The table printed by `cellpipe runs`. */
export function formatRunsTable(runs: RunRecord[], now = Date.now()): string {
  if (runs.length === 0) return 'no runs yet';
  // A NOTE column (a person's note on the run, core/run-note.ts) only when some run has one.
  const notes = runs.some((r) => r.note);
  const rows = [['RUN', 'STATE', 'STEPS', 'WHERE', 'CREATED', 'DURATION', 'NOTEBOOK', ...(notes ? ['NOTE'] : [])]];
  for (const r of runs) {
    const c = stepCounts(r);
    const state = r.reason && r.state === 'failed' && r.reason === 'interrupted' ? 'interrupted' : r.state;
    rows.push([
      r.id,
      state,
      `${c.done}/${c.total}${c.failed ? ` (${c.failed} failed)` : ''}`,
      // Where it ran: this machine, or the Kubeflow profile it was submitted with.
      r.runtime === 'kubeflow' ? `kubeflow:${r.profile ?? '?'}` : r.runtime,
      r.createdAt.replace('T', ' ').slice(0, 19),
      elapsed(r.startedAt ?? r.createdAt, r.finishedAt, now),
      r.notebook,
      ...(notes ? [r.note ?? ''] : []),
    ]);
  }
  return table(rows);
}

/** The view printed by `cellpipe status RUN`. */
export function formatStatus(r: RunRecord, now = Date.now()): string {
  const lines: string[] = [];
  lines.push(`run       ${r.id}`);
  lines.push(`notebook  ${r.notebook}`);
  lines.push(`state     ${r.state}${r.reason && r.reason !== r.state ? ` (${r.reason})` : ''}`);
  lines.push(`runtime   ${r.runtime}${r.profile ? ` (profile ${r.profile})` : ''}`);
  lines.push(`created   ${r.createdAt}`);
  if (r.note) lines.push(`note      ${r.note}`);
  if (r.startedAt) lines.push(`duration  ${elapsed(r.startedAt, r.finishedAt, now)}${r.finishedAt ? '' : ' (running)'}`);
  const params = Object.entries(r.parameters);
  // Strings quoted (a value with spaces stays one), the rest as the notebook writes them (showValue: 14.0 for a float).
  const shown = (k: string, v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : showValue(v, r.parameterTypes?.[k]));
  if (params.length) lines.push(`params    ${params.map(([k, v]) => `${k}=${shown(k, v)}`).join(' ')}`);
  if (r.url) lines.push(`url       ${r.url}`);
  lines.push('');
  const rows = [['STEP', 'STATE', 'DURATION', 'TRIES', 'OUTPUTS', 'METRICS']];
  for (const s of r.steps) {
    rows.push([
      s.name,
      s.state + (s.state === 'cached' && s.cachedFrom ? ` (${s.reused ? 'reused ' : ''}from ${s.cachedFrom})` : ''),
      s.state === 'cached' ? '-' : elapsed(s.startedAt, s.finishedAt, now),
      String(s.attempts),
      s.outputs.map((o) => `${o.name} ${formatBytes(o.bytes, 'compact')}`).join(', ') || '-',
      Object.entries(s.metrics).map(([k, v]) => `${k}=${v}`).join(' ') || '-',
    ]);
  }
  lines.push(table(rows));
  for (const s of r.steps) {
    if (!s.error) continue;
    const where = s.error.cell !== undefined ? cellLabel(s.error.cell, s.error.line) : s.error.line !== undefined ? `line ${s.error.line}` : '';
    lines.push('');
    lines.push(`step ${s.name} ${s.state === 'failed' ? 'failed' : 'error'}${where ? ` at ${where}` : ''}${s.error.cellFirstLine ? ` (${s.error.cellFirstLine.trim()})` : ''}:`);
    lines.push(`  ${s.error.type && !s.error.message.startsWith(s.error.type) ? `${s.error.type}: ` : ''}${s.error.message}`);
  }
  return lines.join('\n');
}

/** The live line of `cellpipe run` on a terminal: `3/5 done · running: train, eval · 1 failed · 12.3s`. */
export function formatProgress(r: RunRecord, now = Date.now()): string {
  const c = stepCounts(r);
  const parts = [`${c.done}/${c.total} done`];
  if (c.cached) parts.push(`${c.cached} cached`);
  if (c.running.length) parts.push(`running: ${c.running.join(', ')}`);
  if (c.failed) parts.push(`${c.failed} failed`);
  parts.push(elapsed(r.startedAt ?? r.createdAt, r.finishedAt, now));
  return parts.join(' · ');
}
