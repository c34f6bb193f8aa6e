/** A notebook of `n` steps for size and scale tests: one base step, the `n - 1` others each reading its value. */
export function manySteps(n: number): string {
  const cell = (tags: string[], source: string) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
  const cells = [cell(['pipeline-parameters'], 'SCALE = 3'), cell(['step:base'], 'base = SCALE * 2\nprint(f"base {base}")')];
  for (let i = 1; i < n; i++) cells.push(cell([`step:s${i}`, 'prev:base'], `v${i} = base + ${i}\nprint(f"step ${i}: {v${i}}")`));
  return JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, cells });
}

