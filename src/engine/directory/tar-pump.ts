// Feeds the tar writer's output buffers into the zstd compressor: at most
// `ahead` bytes beyond what the compressor has consumed (so the walker keeps
// reading while zstd works, with bounded memory), handing each buffer back
// once zstd is done with it so that it can be reused. The compressor is the
// stream the consumer reads: an error of the walker destroys it with that
// error, and when the consumer destroys it the walk is stopped (its open file
// closed).

import type { Writable } from 'node:stream';

export async function pump(
  source: AsyncGenerator<Buffer>,
  sink: Writable,
  ahead: number,
  consumed: (b: Buffer) => void,
): Promise<void> {
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const onClose = (): void => wake?.();
  sink.on('close', onClose);
  try {
    while (!sink.destroyed) {
      const r = await source.next();
      if (r.done || sink.destroyed) break;
      const b = r.value;
      inFlight += b.length;
      sink.write(b, (err) => {
        inFlight -= b.length;
        if (!err) consumed(b);
        wake?.();
      });
      while (inFlight > ahead && !sink.destroyed)
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      wake = undefined;
    }
    if (!sink.destroyed) sink.end();
  } catch (e) {
    sink.destroy(e instanceof Error ? e : new Error(String(e)));
  } finally {
    sink.off('close', onClose);
    await source.return(undefined).catch(() => {}); // when stopped early: runs the walker's finally blocks
  }
}
