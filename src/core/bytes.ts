/** Sizes in bytes written for people, in the three forms cellpipe shows: one place that knows the units. */

const STYLES = {
  /** `512 B`, `1.2 KB`, `3.4 MB` (larger sizes stay in MB): progress lines and reports. */
  text: { units: ['B', 'KB', 'MB'], space: ' ', wholeBare: false },
  /** `512B`, `1.2K`, `3.4M`, `1.1G`: a table column (`cellpipe status`). */
  compact: { units: ['B', 'K', 'M', 'G'], space: '', wholeBare: false },
  /** `512 bytes`, `10 MiB`, `1.5 GiB`: a configured limit, as it is written in settings (whole numbers bare). */
  limit: { units: ['bytes', 'KiB', 'MiB', 'GiB'], space: ' ', wholeBare: true },
} as const;

export type ByteStyle = keyof typeof STYLES;

/** `bytes` in binary multiples (1 KB = 1024 B) with one decimal, in the largest unit of `style` it reaches. */
export function formatBytes(bytes: number, style: ByteStyle = 'text'): string {
  const { units, space, wholeBare } = STYLES[style];
  let i = 0;
  while (i < units.length - 1 && bytes >= 1024 ** (i + 1)) i++;
  if (i === 0) return `${bytes}${space}${units[0]}`;
  const v = bytes / 1024 ** i;
  return `${wholeBare && Number.isInteger(v) ? v : v.toFixed(1)}${space}${units[i]}`;
}
