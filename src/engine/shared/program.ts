// The program name and version recorded in snapshots and printed by --version.
export const VERSION = '0.1.0';
export const PROGRAM = `safehold ${VERSION}`;
