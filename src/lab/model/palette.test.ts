/**
 * The run-state colours the page ships (style/base.css), checked as a reader needs them: text readable on every
 * state (WCAG AA, 4.5:1), each state its own colour, and the warning orange for no state (none of them is a warning).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const css = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../style/base.css'), 'utf8');
const STATES = ['pending', 'running', 'succeeded', 'cached', 'failed', 'skipped', 'cancelled'] as const;

function variable(name: string): string {
  const m = new RegExp(`--${name}:\\s*(#[0-9a-fA-F]{6})\\s*;`).exec(css);
  assert.ok(m, `style/base.css sets --${name} to a #rrggbb colour`);
  return m[1];
}

function rgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number];
}

/** WCAG 2 relative luminance. */
function luminance(hex: string): number {
  const [r, g, b] = rgb(hex).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2 contrast ratio of two colours. */
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Hue in degrees and saturation (HSL) of a colour. */
function hueSat(hex: string): { hue: number; sat: number } {
  const [r, g, b] = rgb(hex);
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  if (d === 0) return { hue: 0, sat: 0 };
  const l = (max + min) / 2;
  const sat = d / (1 - Math.abs(2 * l - 1));
  const hue = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return { hue: (hue * 60 + 360) % 360, sat };
}

test('the text on every state colour has at least 4.5:1 contrast (WCAG AA), on the pills and the graph\'s nodes alike', () => {
  for (const s of STATES) {
    const ratio = contrast(variable(`cp-state-${s}`), variable(`cp-state-${s}-text`));
    assert.ok(ratio >= 4.5, `${s}: ${ratio.toFixed(2)}:1`);
    assert.match(css, new RegExp(`\\.cp-state-${s}[^{]*\\{[^}]*background: var\\(--cp-state-${s}\\); color: var\\(--cp-state-${s}-text\\)`), `the ${s} pill uses both`);
    assert.match(css, new RegExp(`\\.cp-dag-node\\.cp-state-${s} rect[^{]*\\{ fill: var\\(--cp-state-${s}\\)`), `the ${s} node is filled with it`);
    assert.match(css, new RegExp(`\\.cp-dag-node\\.cp-state-${s} text[^{]*\\{ fill: var\\(--cp-state-${s}-text\\)`), `the ${s} node's label uses its text colour`);
  }
});

test('each state has its own colour: coloured ones 25° of hue apart or more, greys clearly lighter or darker than each other', () => {
  for (const a of STATES) for (const b of STATES) {
    if (a >= b) continue;
    const [x, y] = [hueSat(variable(`cp-state-${a}`)), hueSat(variable(`cp-state-${b}`))];
    if (x.sat > 0.2 && y.sat > 0.2) {
      const d = Math.abs(x.hue - y.hue);
      assert.ok(Math.min(d, 360 - d) >= 25, `${a} and ${b}: hues ${x.hue.toFixed(0)}° and ${y.hue.toFixed(0)}°`);
    } else if (x.sat <= 0.2 && y.sat <= 0.2) {
      assert.ok(contrast(variable(`cp-state-${a}`), variable(`cp-state-${b}`)) >= 1.5, `${a} and ${b}, both grey, tell apart by lightness`);
    } else {
      assert.ok(Math.abs(x.sat - y.sat) >= 0.4, `${a} and ${b}: a colour and a grey`);
    }
  }
});

test('no state is painted in the warning orange: only a failure is a warning sign, and it is red', () => {
  for (const s of STATES) {
    const { hue, sat } = hueSat(variable(`cp-state-${s}`));
    assert.ok(sat < 0.2 || hue < 15 || hue > 60, `${s} (${hue.toFixed(0)}°) is not orange or amber`);
  }
  const failed = hueSat(variable('cp-state-failed'));
  assert.ok(failed.sat > 0.5 && (failed.hue < 10 || failed.hue > 350), 'failed is red');
});
