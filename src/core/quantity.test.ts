import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isQuantity, quantityValue } from './quantity.js';
import { cpuCores, memoryGigabytes } from './ir.js';

test('quantities read as Kubernetes reads them: decimal and binary suffixes, exponents, bare fractions', () => {
  const cases: [string, number][] = [
    ['2', 2], ['500m', 0.5], ['.5', 0.5], ['1.', 1], ['250u', 0.00025], ['100n', 1e-7], ['2k', 2000], ['3M', 3e6],
    ['1G', 1e9], ['2Gi', 2 * 2 ** 30], ['1Ki', 1024], ['1e3', 1000], ['1E3', 1000], ['5e-1', 0.5], ['1E', 1e18],
  ];
  for (const [text, value] of cases) assert.equal(quantityValue(text), value, text);
  for (const bad of ['', '2GB', '2K', 'Gi', '1e', '1.2.3', '-1', '+1', ' 1']) {
    assert.equal(isQuantity(bad), false, bad);
    assert.equal(quantityValue(bad), undefined, bad);
  }
});

test('the IR\'s numeric limits come from the same reading', () => {
  assert.equal(cpuCores('500m'), 0.5);
  assert.equal(cpuCores('.25'), 0.25);
  assert.equal(memoryGigabytes('2Gi'), 2.147483648);
  assert.equal(memoryGigabytes('512M'), 0.512);
  assert.equal(memoryGigabytes('1e9'), 1);
});
