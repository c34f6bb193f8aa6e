/**
 * `planNotebookFiles` on a real folder: the files the steps read that exist are packaged (patterns and folders
 * expanded), in notebook order up to the size limit; what is missing, too big, excluded, absolute or outside the
 * folder stays out with a warning on the reading cell. Declared files always travel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileNotebook } from '../core/compile.js';
import { planNotebookFiles } from './files.js';

function notebook(steps: string[], cellpipe: Record<string, unknown> = {}): string {
  const cells = [['imports', 'import numpy as np\nimport pandas as pd\nfrom PIL import Image'], ...steps.map((s, i) => [`step:s${i}`, s])];
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: { cellpipe },
    cells: cells.map(([tag, source], i) => ({ cell_type: 'code', id: `c${i}`, metadata: { tags: [tag] }, source, outputs: [], execution_count: null })),
  });
}

describe('planNotebookFiles', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cellpipe-files-'));
    await mkdir(join(dir, 'data/table.parquet'), { recursive: true });
    await mkdir(join(dir, 'images/cats'), { recursive: true });
    await mkdir(join(dir, '.cellpipe'), { recursive: true });
    await writeFile(join(dir, 'data/train.csv'), 'a,b\n1,2\n');
    await writeFile(join(dir, 'data/table.parquet/part-0.parquet'), Buffer.alloc(100));
    await writeFile(join(dir, 'data/table.parquet/part-1.parquet'), Buffer.alloc(100));
    await writeFile(join(dir, 'images/cats/1.png'), Buffer.alloc(10));
    await writeFile(join(dir, 'images/2.png'), Buffer.alloc(10));
    await writeFile(join(dir, 'images/notes.txt'), 'not an image');
    await writeFile(join(dir, 'big.npy'), Buffer.alloc(2 * 1024 * 1024));
    await writeFile(join(dir, 'extra.json'), '{}');
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const plan = (steps: string[], cellpipe: Record<string, unknown> = {}) => {
    const compiled = compileNotebook(notebook(steps, cellpipe), { graphOnly: true });
    assert.ok(compiled.ok, JSON.stringify(compiled.diagnostics));
    return planNotebookFiles(compiled, dir);
  };

  it('packages a file that exists, a folder whole, and the files a pattern matches', async () => {
    const p = await plan([
      "df = pd.read_csv('data/train.csv')",
      "t = pd.read_parquet('data/table.parquet')",
      "imgs = [Image.open(f'images/{n}.png') for n in names]",
    ]);
    assert.deepEqual(p.paths, ['data/train.csv', 'data/table.parquet/part-0.parquet', 'data/table.parquet/part-1.parquet', 'images/2.png', 'images/cats/1.png']);
    assert.deepEqual(p.outcomes.map((o) => [o.path, o.travels, o.steps]), [
      ['data/train.csv', true, ['s0']], ['data/table.parquet', true, ['s1']], ['images/*.png', true, ['s2']],
    ]);
    assert.equal(p.bytes, 8 + 200 + 20);
    assert.deepEqual(p.diagnostics, []);
  });

  it('a missing file is a warning on the reading cell that says steps in images share no folder', async () => {
    const p = await plan(["x = 1", "df = pd.read_csv('data/made_by_a_step.csv')"]);
    assert.deepEqual(p.paths, []);
    assert.deepEqual(p.outcomes.map((o) => [o.path, o.why]), [['data/made_by_a_step.csv', 'missing']]);
    assert.deepEqual(p.diagnostics.map((d) => [d.severity, d.code, d.cell, d.line]), [['warning', 'file-missing', 2, 1]]);
    assert.match(p.diagnostics[0].hint!, /pass the data between steps as a variable/);
  });

  it('files past the size limit stay out with a warning naming volumes and object storage; declared files always travel', async () => {
    const p = await plan(["a = pd.read_csv('data/train.csv')", "b = np.load('big.npy')", "c = open('extra.json').read()"], { files_limit_mb: 1, files: ['extra.json'] });
    assert.deepEqual(p.paths, ['extra.json', 'data/train.csv']);
    assert.deepEqual(p.outcomes.map((o) => [o.path, o.travels, o.why]), [['data/train.csv', true, undefined], ['big.npy', false, 'over-limit'], ['extra.json', true, undefined]]);
    const [warning] = p.diagnostics;
    assert.equal(warning.code, 'file-over-limit');
    assert.match(warning.message, /'big\.npy' \(2\.0 MB\).*1\.0 MB limit/);
    assert.match(warning.hint!, /volume.*object storage.*files_limit_mb/);
  });

  it('excluded, absolute and outside paths are not packaged; the run store is never searched by a pattern', async () => {
    const p = await plan(["a = pd.read_csv('data/train.csv')\nb = open('/etc/hostname').read()\nc = open('../x.txt').read()\nd = [open(f'.cellpipe/{r}') for r in runs]"], { files: ['!data/train.csv'] });
    assert.deepEqual(p.paths, []);
    assert.deepEqual(p.outcomes.map((o) => [o.path, o.why]), [['data/train.csv', 'excluded'], ['/etc/hostname', 'absolute'], ['../x.txt', 'outside'], ['.cellpipe/*', 'missing']]);
  });
});

const elyra = fileURLToPath(new URL('../../../shared/corpus/elyra', import.meta.url));
it('the corpus\'s Elyra data-cleaning notebook: the CSV its first cell reads is found, and its absence (load_data.ipynb downloads it) is a warning on that cell', { skip: !existsSync(elyra) && 'no ../shared/corpus' }, async () => {
  const compiled = compileNotebook(readFileSync(join(elyra, 'part1_data_cleaning.ipynb'), 'utf8'), { graphOnly: true });
  assert.deepEqual(compiled.graph!.steps.map((s) => s.files!.map((f) => [f.reader, f.path, f.cell, f.line])),
    [[['pandas.read_csv', 'data/noaa-weather-data-jfk-airport/jfk_weather.csv', 4, 1]]]);
  const p = await planNotebookFiles(compiled, elyra);
  assert.deepEqual(p.diagnostics.map((d) => [d.code, d.cell, d.line]), [['file-missing', 4, 1]]);
  // load_data.ipynb only downloads and writes: nothing it reads is a local file.
  const load = compileNotebook(readFileSync(join(elyra, 'load_data.ipynb'), 'utf8'), { graphOnly: true });
  assert.deepEqual(load.graph!.steps.flatMap((s) => s.files), []);
  assert.deepEqual(load.diagnostics.filter((d) => d.code.startsWith('file-')), []);
});
