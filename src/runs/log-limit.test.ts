import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LOG_LIMITS, humanBytes, logLimitsFromEnv, parseSize } from './log-limit.js';

test('log limits come from CELLPIPE_LOG_LIMIT (a size) and CELLPIPE_LOG_LINE_LIMIT (characters), 0 for none', () => {
  assert.deepEqual(logLimitsFromEnv({}), DEFAULT_LOG_LIMITS);
  assert.deepEqual(logLimitsFromEnv({ CELLPIPE_LOG_LIMIT: '20M', CELLPIPE_LOG_LINE_LIMIT: '1000' }), { bytes: 20 * 1024 * 1024, lineChars: 1000 });
  assert.deepEqual(logLimitsFromEnv({ CELLPIPE_LOG_LIMIT: '0', CELLPIPE_LOG_LINE_LIMIT: '0' }), { bytes: 0, lineChars: 0 });
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize('1.5G'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('2048'), 2048);
  assert.equal(parseSize('lots'), undefined);
  assert.throws(() => logLimitsFromEnv({ CELLPIPE_LOG_LIMIT: 'lots' }), /CELLPIPE_LOG_LIMIT must be a size like 10M, 512K or 2048 \(0 for no limit\), got 'lots'/);
  assert.equal(humanBytes(10 * 1024 * 1024), '10 MiB');
});
