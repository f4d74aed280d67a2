// Writing to a stream with backpressure: each write waits for 'drain' when
// the stream's buffer is full, and fails when the stream fails or closes.

import type { Writable } from 'node:stream';
import { SafeholdError } from '../../core/errors.ts';

export async function put(out: Writable, b: Uint8Array): Promise<void> {
  if (out.destroyed || out.writableEnded) throw new SafeholdError('IO', 'the output was closed');
  if (out.write(b)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (e?: unknown) => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (e: Error) => done(e);
    const onClose = () => done(new SafeholdError('IO', 'the output was closed'));
    out.on('drain', onDrain);
    out.on('error', onError);
    out.on('close', onClose);
  });
}
