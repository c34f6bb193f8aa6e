/**
 * What went into the step images, for a terminal: the files the steps read that were packaged (with their size and
 * the steps that read them), the declared ones, and those that stayed out with the reason. Empty when the notebook
 * reads no file and declares none.
 */
import type { FilesPlan, NotTravelling } from '../images/files.js';
import { formatBytes } from '../core/bytes.js';

const WHY: Record<NotTravelling, string> = {
  missing: 'not found in the notebook\'s folder',
  'over-limit': 'over the size limit',
  excluded: 'excluded in metadata.cellpipe.files',
  absolute: 'absolute path',
  outside: 'outside the notebook\'s folder',
  volume: 'on a mounted volume',
};

export function filesReport(plan: FilesPlan): string {
  const lines: string[] = [];
  const packaged = plan.outcomes.filter((o) => o.travels);
  if (packaged.length || plan.declared.length) {
    lines.push(`files packaged into the images (${formatBytes(plan.bytes)} of the ${formatBytes(plan.limitBytes)} limit, declared files not counted):`);
    for (const o of packaged) {
      const size = o.bytes !== undefined ? `  ${formatBytes(o.bytes)}` : '';
      const many = o.matches && o.matches.length !== 1 ? `  (${o.matches.length} files)` : '';
      lines.push(`  ${o.path}${size}${many}  ${o.declared ? 'declared, ' : ''}read by ${o.steps.join(', ')}`);
    }
    for (const d of plan.declared) if (!packaged.some((o) => o.path === d)) lines.push(`  ${d}  declared`);
  }
  const left = plan.outcomes.filter((o) => !o.travels);
  if (left.length) {
    lines.push('files the steps read that do not travel:');
    for (const o of left) lines.push(`  ${o.path}  ${WHY[o.why!]}  read by ${o.steps.join(', ')}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
