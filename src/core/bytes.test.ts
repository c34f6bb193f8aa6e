import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes } from './bytes.js';

test('text sizes: bytes bare, then KB and MB with one decimal; past a GB still in MB', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.0 KB');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(1024 * 1024 - 1), '1024.0 KB');
  assert.equal(formatBytes(1.25 * 1024 * 1024), '1.3 MB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3072.0 MB');
});

test('compact sizes for a table column: no space, one letter, up to G', () => {
  assert.equal(formatBytes(512, 'compact'), '512B');
  assert.equal(formatBytes(2048, 'compact'), '2.0K');
  assert.equal(formatBytes(5.5 * 1024 * 1024, 'compact'), '5.5M');
  assert.equal(formatBytes(1.1 * 1024 ** 3, 'compact'), '1.1G');
  assert.equal(formatBytes(5 * 1024 ** 4, 'compact'), '5120.0G');
});

test('limit sizes read as they are configured: IEC units, whole numbers without a decimal', () => {
  assert.equal(formatBytes(100, 'limit'), '100 bytes');
  assert.equal(formatBytes(64 * 1024, 'limit'), '64 KiB');
  assert.equal(formatBytes(10 * 1024 * 1024, 'limit'), '10 MiB');
  assert.equal(formatBytes(1.5 * 1024 * 1024, 'limit'), '1.5 MiB');
  assert.equal(formatBytes(2 * 1024 ** 3, 'limit'), '2 GiB');
});
