/** Content hashes that are the same in the browser and in Node (pure JS sha256), and the one canonical JSON. */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export function sha256Hex(data: string | Uint8Array): string {
  return bytesToHex(sha256(typeof data === 'string' ? utf8ToBytes(data) : data));
}

/**
 * `value` as JSON with object keys sorted, so equal values give equal text whatever order their keys were made in.
 * Keys whose value is `undefined` are left out, as `JSON.stringify` leaves them out, so a record has one form before
 * and after a round trip through a file. `undefined` itself (a missing value, or an array element) is the empty
 * text, which no JSON value has. Step cache keys hash this text: changing the form invalidates every cache entry.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  // Functions and symbols have no JSON form either: JSON.stringify gives undefined, the empty text as for undefined.
  return JSON.stringify(value) ?? '';
}

/** sha256 (hex) of `value`'s canonical JSON. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
