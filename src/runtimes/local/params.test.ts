import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParameterValueError, paramText, resolveParameters } from './params.js';
import type { Parameter } from '../../core/model.js';

const declared: Parameter[] = [
  { name: 'N', type: 'int', default: 3, cell: 2, line: 1 },
  { name: 'RATE', type: 'float', default: 0.5, cell: 2, line: 2 },
  { name: 'ON', type: 'bool', default: true, cell: 2, line: 3 },
  { name: 'NAME', type: 'str', default: 'x', cell: 2, line: 4 },
  { name: 'IDS', type: 'list', default: [1], cell: 2, line: 5 },
  { name: 'CFG', type: 'dict', default: {}, cell: 2, line: 6 },
];

test('--param values are parsed by the declared type; the rest keep their defaults', () => {
  assert.deepEqual(resolveParameters(declared, ['N=10', 'RATE=1e-3', 'ON=False', 'NAME=a=b c', 'IDS=[1, "two"]', 'CFG={"k": {"v": 1}}']), {
    N: 10, RATE: 0.001, ON: false, NAME: 'a=b c', IDS: [1, 'two'], CFG: { k: { v: 1 } },
  });
  assert.deepEqual(resolveParameters(declared, []), { N: 3, RATE: 0.5, ON: true, NAME: 'x', IDS: [1], CFG: {} });
  assert.deepEqual(resolveParameters(declared, ['NAME=']), { N: 3, RATE: 0.5, ON: true, NAME: '', IDS: [1], CFG: {} });
});

test('bad values and unknown names are errors that say which parameter, where it is declared and what to give', () => {
  const err = (args: string[]) => {
    try {
      resolveParameters(declared, args);
    } catch (e) {
      assert.ok(e instanceof ParameterValueError);
      return (e as Error).message;
    }
    assert.fail('expected an error');
  };
  assert.equal(err(['N=1.5']), "--param N=1.5: N is an int parameter (declared in cell 3, line 1); '1.5' is not an integer");
  assert.match(err(['RATE=fast']), /RATE is a float parameter .*'fast' is not a number/);
  assert.match(err(['ON=maybe']), /'maybe' is not true or false/);
  assert.match(err(['IDS={"a": 1}']), /give it as a JSON array/);
  assert.match(err(['CFG=[1]']), /give it as a JSON object/);
  assert.match(err(['CFG=nope']), /give it as a JSON object, e\.g\. \{"a": 1\}/);
  assert.match(err(['M=1']), /no pipeline parameter 'M' \(its parameters are: N, RATE, ON, NAME, IDS, CFG\)/);
  assert.match(err(['N']), /write it as NAME=VALUE/);
  assert.match(resolveParametersError([], ['X=1']), /declares none; tag a cell pipeline-parameters/);
});

function resolveParametersError(d: Parameter[], args: string[]): string {
  try {
    resolveParameters(d, args);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

test('values are handed to the step runtime as text: str raw, numbers decimal, bool true/false, list/dict JSON', () => {
  assert.equal(paramText('str', 'a b'), 'a b');
  assert.equal(paramText('int', 10), '10');
  assert.equal(paramText('float', 0.001), '0.001');
  assert.equal(paramText('bool', false), 'false');
  assert.equal(paramText('list', [1, 'two']), '[1,"two"]');
  assert.equal(paramText('dict', { a: 1 }), '{"a":1}');
});
