// Buffers that can be transferred (moved, not copied) to a worker thread.

/** `b` itself when it owns its whole ArrayBuffer, else a copy that does. */
export function ownBuffer(b: Buffer): Uint8Array {
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length && !(b.buffer instanceof SharedArrayBuffer)) return b;
  const copy = new Uint8Array(new ArrayBuffer(b.length));
  copy.set(b);
  return copy;
}
