/**
 * Kubernetes resource quantities (`500m`, `2Gi`, `1e3`, `.5`), the values `limit:` tags take. Checked against the
 * grammar Kubernetes itself accepts, so a limit the cluster would refuse is reported on its cell at compile time;
 * converted to plain numbers for the IR's numeric limit fields.
 */

const QUANTITY = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/** Decimal suffixes as powers of ten (negative ones divide, which keeps `500m` exactly 0.5). */
const DECIMAL_POWER: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_POWER: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/** Whether `text` is a quantity Kubernetes accepts (unsigned: a limit is never negative). */
export function isQuantity(text: string): boolean {
  return QUANTITY.test(text);
}

/** The quantity's value in base units (cores, bytes, devices), or undefined when it is not a quantity. */
export function quantityValue(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const [, digits, exponent, suffix] = match;
  const base = Number(digits);
  const power = exponent !== undefined ? Number(exponent) : suffix ? DECIMAL_POWER[suffix] : 0;
  if (suffix && suffix in BINARY_POWER) return base * 2 ** BINARY_POWER[suffix];
  return power < 0 ? base / 10 ** -power : base * 10 ** power;
}
