// How far a copy between repositories has come (copy.ts copies,
// copy-verify.ts reads the copy back): its own file so that the two do not
// import each other.

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
