/**
 * Stopping a lab while a keep-alive OPTIONS is on the wire: the Mediation
 * Server waits for the answer before closing the connection, so the device
 * sees a clean close (FIN), never a reset (SIPp 3.6.1 quits on a reset).
 * The device is a raw TCP socket that answers OPTIONS 150 ms late.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { startQuickLab, until } from './lab-test-support.ts';

interface Device {
  port: number;
  options: number;
  answered: number;
  ended: boolean;
  reset: boolean;
  close(): Promise<void>;
}

async function lateAnsweringDevice(delayMs: number): Promise<Device> {
  const sockets = new Set<Socket>();
  const device: Device = { port: 0, options: 0, answered: 0, ended: false, reset: false, close: async () => undefined };
  const server = createServer((socket) => {
    sockets.add(socket);
    let buffered = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4); // OPTIONS carry no body
        if (!head.startsWith('OPTIONS ')) continue;
        device.options++;
        const copy = (name: string): string => head.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name}:`)).join('\r\n');
        const response = ['SIP/2.0 200 OK', copy('via'), copy('from'), `${copy('to')};tag=dev`, copy('call-id'), copy('cseq'), 'Content-Length: 0', '', ''].join('\r\n');
        setTimeout(() => {
          if (socket.destroyed) return;
          socket.write(response, () => device.answered++);
        }, delayMs);
      }
    });
    socket.on('end', () => {
      device.ended = true;
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') device.reset = true;
    });
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  device.port = (server.address() as { port: number }).port;
  device.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return device;
}

test('a lab stopped with an OPTIONS answer in flight closes the connection after the answer: FIN, no reset', { timeout: 30_000 }, async () => {
  const device = await lateAnsweringDevice(150);
  try {
    const { lab } = await startQuickLab(
      'ip-pbx.json',
      (input) => {
        for (const t of input.trunks ?? []) t.configuration = { ...t.configuration, optionsIntervalMs: 5_000, optionsTimeoutMs: 2_000 };
      },
      [`pbx=127.0.0.1:${device.port}/tcp`],
    );
    // The first probe goes out at start; stop while its answer is still 150 ms away.
    await until(() => device.options >= 1, 10_000, 'the first OPTIONS');
    assert.equal(device.answered, 0);
    await lab.stop();
    await until(() => device.ended || device.reset, 5_000, 'the connection to close');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(device.answered, 1, 'the answer went out before the close');
    assert.equal(device.reset, false, 'no reset under the device');
    assert.equal(device.ended, true, 'a clean close (FIN)');
  } finally {
    await device.close();
  }
});
