import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { chipLabel, diagnosticsByCell, diagnosticTooltip, firstCells, logAnchors, placeCells, stepColor, stepNames, worstSeverity, type CellInfo } from './cells.js';

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

const corpus = '/work/shared/corpus/kale/candies_sharing.ipynb';
test('the Kale candies notebook places its four steps from tags alone', { skip: !existsSync(corpus) && 'corpus not present' }, () => {
  const nb = JSON.parse(readFileSync(corpus, 'utf8')) as { cells: { cell_type: CellInfo['type']; metadata: { tags?: string[] } }[] };
  const cells = nb.cells.map((c) => ({ type: c.cell_type, tags: c.metadata.tags ?? [] }));
  assert.deepEqual(stepNames(cells), ['sack', 'kid1', 'kid2', 'kid3']);
});
