/**
 * The backend's own small state files (remembered Kubeflow runs, JupyterLab's last settings): JSON written whole to a
 * temporary file and renamed over the old one, so a reader never sees half a file; readable by the user only.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function writeStateFile(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 1) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}
