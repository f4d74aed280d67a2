// Every program Safehold starts (hooks, purge commands, command targets'
// programs, device adapter programs, alert commands, database dump and
// restore tools) runs through this module, one way:
//  - argv without a shell, the environment its caller built
//    (core/child-env.ts: an allow-list, no secrets), detached as the leader
//    of a process group of its own;
//  - one kill policy (core/process-group.ts): a timeout, the abort signal, a
//    capture over its limit, a failed stdin stream or a reader giving up send
//    SIGTERM to the whole group, SIGKILL to the group after the grace period
//    (default 5 s), then wait, within a bound, until the group is gone;
//  - output as whole UTF-8 lines (core/line-capture.ts: split characters
//    joined, CR LF, long lines cut), a captured string with a limit, a stderr
//    tail, or stdout as a Readable with backpressure that fails after its
//    last byte when the program failed (core/child-output-stream.ts);
//  - stdin from a string, a Buffer or a stream;
//  - a program that cannot start described once (`StartError`: ENOENT is a
//    missing program, EACCES permission denied).
// `runChild` never throws: the outcome says what happened, and each caller
// words it in its own terms.

export { DEFAULT_MAX_CAPTURE, DEFAULT_STDERR_TAIL, runChild, startErrorOf } from './child-supervisor.ts';
export type { ChildOptions, ChildOutcome, OutputName, RunOptions, StartError, StopReason } from './child-supervisor.ts';
export { streamChild } from './child-output-stream.ts';
export type { ChildStream, StreamOptions } from './child-output-stream.ts';
export { DEFAULT_GRACE_MS } from './process-group.ts';
