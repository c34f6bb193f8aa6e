import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSEParser } from './sse.js';

test('events split across arbitrary chunks are dispatched once complete, with id and type', () => {
  const p = new SSEParser();
  const stream = 'id: 0\nevent: line\ndata: {"text":"hello"}\n\n: keep-alive\n\nid: 1\r\nevent: line\r\ndata: a\r\ndata: b\r\n\r\nevent: end\ndata: {}\n\n';
  const events = [];
  for (let i = 0; i < stream.length; i += 3) events.push(...p.push(stream.slice(i, i + 3)));
  assert.deepEqual(events, [
    { event: 'line', data: '{"text":"hello"}', id: '0' },
    { event: 'line', data: 'a\nb', id: '1' },
    { event: 'end', data: '{}' },
  ]);
  assert.equal(p.lastId, '1');
});

test('an event without a type is a message; an incomplete event is held back', () => {
  const p = new SSEParser();
  assert.deepEqual(p.push('data: x\n'), []);
  assert.deepEqual(p.push('\n'), [{ event: 'message', data: 'x' }]);
});
