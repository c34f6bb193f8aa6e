/**
 * A small S3 stand-in for tests of what reads KFP's object store without a SeaweedFS: ListObjectsV2 and GetObject,
 * path-style, one bucket (`mlpipeline`), objects by bucket-relative key. It checks only that each request is signed
 * with the expected access key (SigV4's `Credential=`); the signatures themselves are checked against the real store
 * in ../object-store.test.ts. Every request is kept, to count or look at.
 */
import http from 'node:http';

export class S3StandIn {
  readonly objects = new Map<string, string | Buffer>();
  readonly requests: { path: string; prefix?: string; authorization?: string }[] = [];
  /** Keys whose GetObject answers 500: a store that fails half-way through. */
  readonly failing = new Set<string>();
  private server?: http.Server;
  url = '';
  /** Milliseconds each answer waits: a slow store. */
  delayMs = 0;

  constructor(readonly accessKey: string, readonly bucket = 'mlpipeline') {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void setTimeout(() => this.answer(req, res), this.delayMs));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url!, 'http://x');
    const authorization = req.headers.authorization;
    this.requests.push({ path: decodeURIComponent(url.pathname), prefix: url.searchParams.get('prefix') ?? undefined, authorization });
    if (!authorization?.startsWith(`AWS4-HMAC-SHA256 Credential=${this.accessKey}/`)) {
      res.writeHead(403).end('<Error><Code>InvalidAccessKeyId</Code><Message>unknown key</Message></Error>');
      return;
    }
    const [, bucket, ...rest] = url.pathname.split('/');
    if (bucket !== this.bucket) {
      res.writeHead(404).end('<Error><Code>NoSuchBucket</Code></Error>');
      return;
    }
    if (!rest.length && url.searchParams.get('list-type') === '2') {
      const prefix = url.searchParams.get('prefix') ?? '';
      const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
      const contents = keys.map((k) => `<Contents><Key>${k.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Key><LastModified>2026-12-07T10:00:00.000Z</LastModified><Size>${Buffer.byteLength(this.objects.get(k)!)}</Size></Contents>`);
      res.writeHead(200, { 'content-type': 'application/xml' }).end(`<ListBucketResult><IsTruncated>false</IsTruncated>${contents.join('')}</ListBucketResult>`);
      return;
    }
    const key = rest.map(decodeURIComponent).join('/');
    if (this.failing.has(key)) {
      res.writeHead(500).end('<Error><Code>InternalError</Code><Message>disk gone</Message></Error>');
      return;
    }
    const body = this.objects.get(key);
    if (body === undefined) res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
    else res.writeHead(200).end(body);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }
}
