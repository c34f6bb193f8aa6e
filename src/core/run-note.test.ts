import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNote, NOTE_MAX_CHARS } from './run-note.js';

test('a note is kept as one line of plain text, spaces collapsed', () => {
  assert.deepEqual(checkNote('  baseline\n  run  '), { note: 'baseline run' });
  assert.deepEqual(checkNote('<b>C=0.1</b> & "overfits"'), { note: '<b>C=0.1</b> & "overfits"' });
});

test('an empty note removes it', () => {
  assert.deepEqual(checkNote('   '), { note: '' });
});

test('a note is at most NOTE_MAX_CHARS characters (counted as people count them), and the error says how many', () => {
  assert.deepEqual(checkNote('é'.repeat(NOTE_MAX_CHARS)), { note: 'é'.repeat(NOTE_MAX_CHARS) });
  assert.deepEqual(checkNote('🙂'.repeat(NOTE_MAX_CHARS)), { note: '🙂'.repeat(NOTE_MAX_CHARS) });
  assert.deepEqual(checkNote('x'.repeat(NOTE_MAX_CHARS + 1)), { error: `note: ${NOTE_MAX_CHARS + 1} characters, at most ${NOTE_MAX_CHARS}; shorten it` });
});

test('control characters and non-text are refused, naming the note', () => {
  assert.deepEqual(checkNote('a\u0007b'), { error: 'note: control characters are not allowed; type plain text' });
  assert.deepEqual(checkNote(3), { error: 'note: expected text' });
});
