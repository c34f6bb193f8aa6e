/**
 * S3's ListObjectsV2 answer (`<ListBucketResult>`) and error document (`<Error>`), read without an XML library: both
 * are flat documents of known elements with text content, which S3-compatible stores (SeaweedFS, MinIO, AWS) write
 * the same way. Only what the executor-log reader needs is taken: each object's key, time and size, and whether the
 * listing goes on. Text is unescaped as XML says (the five entities and character references); CDATA is read as is.
 */
import type { StoredObject } from './executor-logs.js';

export interface ObjectListing {
  objects: StoredObject[];
  /** Set when the listing is cut: ask again with this continuation token. */
  next?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Element text as XML means it: entities and character references resolved, CDATA sections taken literally. */
export function xmlText(raw: string): string {
  return raw.replace(/<!\[CDATA\[([\s\S]*?)\]\]>|&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, cdata: string | undefined, ref: string | undefined) => {
    if (cdata !== undefined) return cdata;
    if (ref!.startsWith('#x')) return String.fromCodePoint(parseInt(ref!.slice(2), 16));
    if (ref!.startsWith('#')) return String.fromCodePoint(parseInt(ref!.slice(1), 10));
    return ENTITIES[ref!] ?? whole;
  });
}

/** The text of each `<name>` element in `xml` (no nesting of the same name: true of S3's documents). */
function elements(xml: string, name: string): string[] {
  const out: string[] = [];
  // `<Key>` but not `<KeyCount>`; an element may carry attributes; `<Key/>` is empty.
  const re = new RegExp(`<${name}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${name}\\s*>)`, 'g');
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(m[1] ?? '');
  return out;
}

function first(xml: string, name: string): string | undefined {
  const [raw] = elements(xml, name);
  return raw === undefined ? undefined : xmlText(raw);
}

/** Reads a ListObjectsV2 answer; throws when the document is not one (a proxy's HTML page, say). */
export function parseListObjects(xml: string): ObjectListing {
  if (!/<ListBucketResult[\s>]/.test(xml)) throw new Error(`not an S3 object listing: ${xml.slice(0, 120).replace(/\s+/g, ' ')}`);
  const objects: StoredObject[] = [];
  for (const entry of elements(xml, 'Contents')) {
    const key = first(entry, 'Key');
    if (key === undefined) continue;
    const size = first(entry, 'Size');
    objects.push({ key, lastModified: first(entry, 'LastModified'), ...(size !== undefined && /^\d+$/.test(size.trim()) ? { size: Number(size) } : {}) });
  }
  const truncated = first(xml, 'IsTruncated')?.trim() === 'true';
  const next = first(xml, 'NextContinuationToken');
  return truncated && next ? { objects, next } : { objects };
}

/** An S3 error document's code and message (`SignatureDoesNotMatch`, `NoSuchBucket`, …), when the body is one. */
export function parseS3Error(xml: string): { code?: string; message?: string } | undefined {
  if (!/<Error[\s>]/.test(xml)) return undefined;
  return { code: first(xml, 'Code'), message: first(xml, 'Message') };
}
