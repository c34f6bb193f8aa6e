import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseDocument } from 'yaml';
import { emitYaml, scalar } from './yaml-emit.js';

const roundTrip = (value: unknown) => {
  const text = emitYaml(value as never);
  const v11 = parseDocument(text, { version: '1.1' });
  assert.deepEqual(v11.errors, [], text);
  assert.deepEqual(v11.toJS(), value, text);
  assert.deepEqual(parse(text), value, text);
  return text;
};

test('strings that YAML 1.1 or 1.2 would read as something else are quoted', () => {
  for (const s of ['yes', 'No', 'on', 'OFF', 'y', 'n', 'true', 'null', '~', '1', '-2', '3.5', '1e3', '.5', '0x1F', '0o17', '1_000', '12:30',
    '2024-01-02', '.inf', '.NaN', '', ' lead', 'trail ', 'a: b', 'a #b', '- x', '? x', '*ref', '&a', '!tag', '%x', '@x', '`x', '|', '>', "'", '"', '{a}', '[a]', 'a,b', 'line\nbreak', 'tab\t', 'ünï', '\u0000', '=', '<<']) {
    const text = scalar(s);
    assert.ok(text.startsWith('"'), `${JSON.stringify(s)} was written plain as ${text}`);
    roundTrip({ key: s });
  }
});

test('ordinary names stay plain and readable', () => {
  for (const s of ['exec-kid1', 'system.Artifact', '0.0.1', '2.1.0', 'NUMBER_INTEGER', 'cellpipe_runtime', 'python3', '/cellpipe/steps/a.json', 'a b c']) {
    assert.equal(scalar(s), s);
  }
});

test('nested maps and lists of every kind round-trip exactly, keys sorted', () => {
  const value = {
    z: 1, a: [1, 'two', { k: [], m: {}, n: null }, [3, [4]], true, -0.25, 1e21],
    deep: { list: [{ a: 1, b: [{ c: 'x: y' }] }], empty: [], nothing: {} },
    code: 'def f(x):\n    return {"k": x}  # comment\n\t"quoted" \\ back\u2028',
    '{{$.inputs.parameters[\'x\']}}': 'placeholder key',
  };
  const text = roundTrip(value);
  assert.ok(text.indexOf('a:') < text.indexOf('z:'));
});

test('a compiled-spec-sized document round-trips (speed is measured in bench/compile.mjs, not here)', () => {
  const doc = { tasks: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`task-${i}`, { args: ['run', '--program', 'x'.repeat(300) + i], n: i }])) };
  assert.deepEqual(parse(emitYaml(doc)), doc);
});
