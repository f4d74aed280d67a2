// How far a copy between repositories has come (copy.ts runs it, copier.ts
// copies the blobs, copy-verify.ts reads the copy back): its own file so that
// copier.ts and copy-verify.ts need not import copy.ts, which imports them.

export interface CopyProgress {
  phase: 'copy' | 'verify';
  /** Source snapshot being worked on, its 1-based position and the number given. */
  snapshot: string;
  position: number;
  total: number;
  /** Over the whole run: blobs and sealed bytes stored in dst, source bytes read, bytes read back. */
  blobsCopied: number;
  bytesCopied: number;
  bytesRead: number;
  blobsVerified: number;
  bytesVerified: number;
}
