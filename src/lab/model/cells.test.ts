import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { chipLabel, diagnosticsByCell, diagnosticTooltip, filesLabel, firstCells, logAnchors, MIN_NEIGHBOUR_HUE_GAP, placeCells, stepColor, stepNames, stepPalette, worstSeverity, type CellInfo } from './cells.js';
import type { StepFile } from '../../core/model.js';

const code = (...tags: string[]): CellInfo => ({ type: 'code', tags });
const md: CellInfo = { type: 'markdown', tags: [] };

test('untagged cells join the step above; skip excludes only its own cell; markdown belongs to nothing', () => {
  const cells = [code('imports'), code(), code('step:a'), code(), md, code('skip'), code(), code('step:b', 'prev:a')];
  const places = placeCells(cells);
  assert.deepEqual(places.map(chipLabel), ['imports', undefined, 'a', '↳ a', undefined, 'skip', '↳ a', 'b']);
  assert.deepEqual(places[7].prev, ['a']);
  assert.deepEqual(stepNames(cells), ['a', 'b']);
  assert.deepEqual([...logAnchors(cells)], [['a', 6], ['b', 7]]);
  assert.deepEqual([...firstCells(cells)], [['a', 2], ['b', 7]]);
});

test('log anchors follow the compiled graph when there is one', () => {
  const graph = { steps: [{ name: 'a', cells: [2, 3, 9] }] } as never;
  assert.deepEqual([...logAnchors([], graph)], [['a', 9]]);
  assert.deepEqual([...firstCells([], graph)], [['a', 2]]);
});

test('a step colour is stable per name and differs between names', () => {
  assert.equal(stepColor('sack'), stepColor('sack'));
  assert.match(stepColor('sack'), /^hsl\(\d+, 65%, 48%\)$/);
  const hues = new Set(['sack', 'kid1', 'kid2', 'kid3'].map(stepColor));
  assert.equal(hues.size, 4);
});

test('diagnostics land on the cell their id names, else their index; the rest under -1', () => {
  const cells: CellInfo[] = [{ type: 'code', tags: [], id: 'x1' }, { type: 'code', tags: [], id: 'x2' }];
  const diags = [
    { severity: 'error' as const, code: 'c', message: 'by id', cell: 0, cellId: 'x2' },
    { severity: 'warning' as const, code: 'c', message: 'by index', cell: 0, line: 3, hint: 'fix it' },
    { severity: 'info' as const, code: 'c', message: 'about the notebook' },
    { severity: 'info' as const, code: 'c', message: 'stale index', cell: 7 },
  ];
  const map = diagnosticsByCell(diags, cells);
  assert.deepEqual(map.get(1)!.map((d) => d.message), ['by id']);
  assert.deepEqual(map.get(0)!.map((d) => d.message), ['by index']);
  assert.deepEqual(map.get(-1)!.map((d) => d.message), ['about the notebook', 'stale index']);
  assert.equal(worstSeverity([...map.get(0)!, ...map.get(1)!]), 'error');
  assert.equal(diagnosticTooltip(map.get(0)!), 'warning (line 3): by index — fix it');
});

test('on a cell, errors come before warnings and warnings before infos, so the chip never shows an info over a warning', () => {
  const cells: CellInfo[] = [{ type: 'code', tags: [], id: 'a' }];
  const diags = [
    { severity: 'info' as const, code: 'c', message: "reads 'logreg' … added the edge", cell: 0 },
    { severity: 'warning' as const, code: 'c', message: 'star import', cell: 0 },
    { severity: 'info' as const, code: 'c', message: 'second info', cell: 0 },
    { severity: 'error' as const, code: 'c', message: 'syntax error', cell: 0 },
    { severity: 'warning' as const, code: 'c', message: 'second warning', cell: 0 },
  ];
  assert.deepEqual(diagnosticsByCell(diags, cells).get(0)!.map((d) => d.message),
    ['syntax error', 'star import', 'second warning', "reads 'logreg' … added the edge", 'second info']);
});

const corpus = '/work/shared/corpus/kale/candies_sharing.ipynb';
test('the Kale candies notebook places its four steps from tags alone', { skip: !existsSync(corpus) && 'corpus not present' }, () => {
  const nb = JSON.parse(readFileSync(corpus, 'utf8')) as { cells: { cell_type: CellInfo['type']; metadata: { tags?: string[] } }[] };
  const cells = nb.cells.map((c) => ({ type: c.cell_type, tags: c.metadata.tags ?? [] }));
  assert.deepEqual(stepNames(cells), ['sack', 'kid1', 'kid2', 'kid3']);
});

test('steps next to each other, in the notebook or in the graph, get hues at least 60° apart; the others keep their own', () => {
  const order = ['load', 'clean', 'features', 'split', 'train_a', 'train_b', 'train_c', 'eval_a', 'eval_b', 'eval_c', 'report', 'publish'];
  const edges: [string, string][] = [['load', 'clean'], ['clean', 'features'], ['features', 'split'], ['split', 'train_a'], ['split', 'train_b'], ['split', 'train_c'],
    ['train_a', 'eval_a'], ['train_b', 'eval_b'], ['train_c', 'eval_c'], ['eval_a', 'report'], ['eval_b', 'report'], ['eval_c', 'report'], ['report', 'publish']];
  const palette = stepPalette(order, edges);
  const hue = (s: string) => Number(/^hsl\((\d+),/.exec(palette.get(s)!)![1]);
  const gap = (a: string, b: string) => {
    const d = Math.abs(hue(a) - hue(b)) % 360;
    return Math.min(d, 360 - d);
  };
  const pairs = [...order.slice(1).map((s, i) => [order[i], s] as [string, string]), ...edges];
  for (const [a, b] of pairs) assert.ok(gap(a, b) >= MIN_NEIGHBOUR_HUE_GAP, `${a} (${hue(a)}) and ${b} (${hue(b)}) are only ${gap(a, b)}° apart`);
  // The first step has no coloured neighbour yet: it keeps the colour its name always has.
  assert.equal(palette.get('load'), stepColor('load'));
  // The same notebook gets the same colours.
  assert.deepEqual(stepPalette(order, edges), palette);
});

test('a step that reads files says so on its chip row: the first path, how many more, and per file whether it travels', () => {
  const files: StepFile[] = [
    { path: 'data/weather.csv', reader: 'open', cell: 4, line: 1, status: 'travels' },
    { path: 'images/*', pattern: true, reader: 'PIL.Image.open', cell: 4, line: 3, status: 'travels' },
    { path: '/srv/big.parquet', reader: 'pandas.read_parquet', cell: 5, line: 2, status: 'absolute' },
  ];
  assert.equal(filesLabel([]), undefined);
  assert.equal(filesLabel(files.slice(0, 1))!.text, 'reads data/weather.csv');
  const label = filesLabel(files)!;
  assert.equal(label.text, '▲ reads data/weather.csv, +2', 'a file that stays here marks the row');
  assert.deepEqual(label.title.split('\n').slice(1), [
    'data/weather.csv — travels into the step images (open, cell 5, line 1)',
    'images/* — travels into the step images (every file that matches) (PIL.Image.open, cell 5, line 3)',
    '/srv/big.parquet — stays here: absolute path (use a volume or object storage) (pandas.read_parquet, cell 6, line 2)',
  ]);
});
