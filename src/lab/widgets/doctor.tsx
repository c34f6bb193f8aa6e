/**
 * "Check set-up": what `cellpipe doctor` checks — each profile (or the kubeconfig's context), then this machine in
 * containers — shown in the sidebar with each check's state and fix. The backend runs the CLI's own checks
 * (`GET /api/doctor`, cli/doctor-checks.ts), so the page and the terminal never disagree.
 */
import React, { useEffect, useState } from 'react';
import { ResponseError, type CellpipeAPI, type DoctorCheck, type DoctorReport, type DoctorTarget } from '../api.js';
import { ErrorNote } from './errorNote.js';

/** The target's title, as the CLI prints it. */
export function doctorTitle(r: DoctorTarget): string {
  if (r.machine === 'containers') return 'This machine, in containers';
  if (r.profile !== undefined) return `profile '${r.profile}'`;
  if (r.context !== undefined) return `kubeconfig context '${r.context}' (no cellpipe profile configured)`;
  return 'cluster set-up';
}

/** A check's state in one word: ok, warning, skipped, failed. */
export function checkState(c: DoctorCheck): 'ok' | 'warning' | 'skipped' | 'failed' {
  return c.ok ? 'ok' : c.warning ? 'warning' : c.skipped ? 'skipped' : 'failed';
}

const MARK = { ok: '✔', warning: '⚠', skipped: '–', failed: '✖' } as const;

function Target(props: { report: DoctorTarget }) {
  const r = props.report;
  const name = r.machine ?? r.profile ?? r.context ?? '';
  return (
    <li className={`cp-doctor-target ${r.ok ? 'cp-doctor-ok' : 'cp-doctor-failed'}`} data-target={name}>
      <div className="cp-doctor-title">{r.ok ? '✔' : '✖'} {doctorTitle(r)}</div>
      <ul className="cp-doctor-checks">
        {r.checks.map((c, i) => {
          const state = checkState(c);
          return (
            <li key={i} className={`cp-doctor-check cp-doctor-${state}`} data-check={c.name} data-state={state}>
              <span className="cp-doctor-mark" aria-label={state}>{MARK[state]}</span> <b>{c.name}</b> {c.detail}
              {c.fix ? <div className="cp-doctor-fix">fix: {c.fix}</div> : null}
            </li>
          );
        })}
      </ul>
      <div className="cp-doctor-next">next: {r.next}</div>
    </li>
  );
}

/** The report, fetched when shown and again on "check again". */
export function DoctorPanel(props: { api: CellpipeAPI; onClose(): void }) {
  const [report, setReport] = useState<DoctorReport | null>(null);
  const [failure, setFailure] = useState<{ text: string; hint?: string } | null>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let gone = false;
    setReport(null);
    setFailure(null);
    props.api.doctor().then(
      (r) => !gone && setReport(r),
      (err: unknown) => {
        const e = ResponseError.from(err);
        if (!gone) setFailure({ text: e.message, hint: e.hint });
      },
    );
    return () => void (gone = true);
  }, [round]);
  return (
    <div className="cp-doctor" role="region" aria-label="Check set-up" aria-busy={!report && !failure}>
      <div className="cp-doctor-bar">
        <h4>Set-up (cellpipe doctor)</h4>
        <button className="cp-link-button cp-doctor-again" disabled={!report && !failure} onClick={() => setRound(round + 1)}>check again</button>
        <button className="cp-link-button cp-doctor-close" onClick={props.onClose}>close</button>
      </div>
      {failure ? (
        <ErrorNote error={failure} />
      ) : !report ? (
        <div className="cp-doctor-running">checking the profiles, their clusters and registries, and this machine…</div>
      ) : (
        <>
          <div className={`cp-doctor-summary ${report.ok ? 'cp-doctor-ok' : 'cp-doctor-failed'}`}>
            {report.ok ? 'Everything a run needs works.' : `${report.targets.filter((t) => !t.ok).length} of ${report.targets.length} Kubeflow target(s) need fixing.`}
          </div>
          <ul className="cp-doctor-targets">
            {[...report.targets, report.containers].map((t, i) => <Target key={i} report={t} />)}
          </ul>
        </>
      )}
    </div>
  );
}
