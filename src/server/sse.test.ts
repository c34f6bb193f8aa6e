/**
 * EventStream over a real socket whose client reads nothing: a producer that waits (`drained()`) is held at the
 * socket's pace; one that keeps sending is cut off past the bound, its client told why in a last `dropped` event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { EventStream } from './sse.js';

/** A server whose one request gets an EventStream, and a client socket that does not read (until told to). */
async function stalledClient(): Promise<{ stream: EventStream; res: ServerResponse; readAll: () => Promise<string>; close: () => void }> {
  let got!: (v: { stream: EventStream; res: ServerResponse }) => void;
  const ready = new Promise<{ stream: EventStream; res: ServerResponse }>((r) => (got = r));
  const server = createServer((_req, res) => got({ stream: new EventStream(res, 60_000, 1024 * 1024), res }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  socket.pause();
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const { stream, res } = await ready;
  const readAll = () =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.resume();
    });
  return { stream, res, readAll, close: () => (socket.destroy(), server.close()) };
}

const payload = 'x'.repeat(16 * 1024);

test('a producer that awaits drained() waits while the client takes nothing, and goes on once it reads', async () => {
  const { stream, res, readAll, close } = await stalledClient();
  try {
    let sent = 0;
    // Send until the socket is full: drained() then stays pending.
    while (!res.writableNeedDrain) {
      assert.ok(stream.send('line', payload, sent++));
    }
    let drained = false;
    const waiting = stream.drained().then((ok) => (drained = ok));
    assert.ok(res.writableLength < 1024 * 1024, 'nothing piles up in the backend beyond what one write put there');
    assert.equal(drained, false);
    const all = readAll();
    await waiting;
    assert.equal(drained, true);
    stream.close();
    assert.equal((await all).split('event: line\n').length - 1, sent);
  } finally {
    close();
  }
});

test('a producer that keeps sending to a client that takes nothing is cut off past the bound, with a dropped event', async () => {
  const { stream, readAll, close } = await stalledClient();
  try {
    let sent = 0;
    while (stream.send('line', payload, sent)) {
      sent++;
      assert.ok(sent < 1000, 'the stream must be dropped long before 16 MB were sent');
    }
    assert.equal(stream.closed, true);
    assert.equal(stream.send('line', payload), false);
    const text = await readAll();
    assert.match(text, /event: dropped\ndata: \{"reason":"the client read too slowly: \d+ bytes waited for it in the backend"/);
    assert.ok(text.lastIndexOf('event: dropped') > text.lastIndexOf('event: line'), 'the dropped event is the last one sent');
  } finally {
    close();
  }
});
