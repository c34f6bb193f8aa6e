/**
 * Raw streaming GETs against the API server with the connection's credentials, for what the generated client does
 * not stream well: pod logs (status bodies on failure, back-pressure, abort) — built on node:https, no extra deps.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { CellpipeError } from '../core/errors.js';

export class HttpStatusError extends CellpipeError {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 500)}`);
    this.name = 'HttpStatusError';
  }
}

/**
 * GET `path` (with query) on the current cluster; resolves with the response once the status is 200, rejects with
 * `HttpStatusError` (with the body, bounded to 64 KiB) otherwise, or with the network error.
 */
export async function streamGet(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  signal?: AbortSignal,
): Promise<IncomingMessage> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: '*/*' } };
  await kc.applyToHTTPSOptions(opts);
  // The agent it builds carries the TLS settings (and the kubeconfig's proxy-url); it only fits https.
  if (url.protocol === 'http:') delete opts.agent;
  const lib = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { ...opts, signal }, (res) => {
      if (res.statusCode === 200) {
        resolve(res);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 65536) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => reject(new HttpStatusError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
