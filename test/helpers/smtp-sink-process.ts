// The SMTP sink's server process (started by smtp-sink.ts with the test's
// own Node): a real SMTP server (smtp-server) on 127.0.0.1 and a free port
// that reports on stdout, one JSON line each: `listening` with its port, each
// `auth` attempt (user and whether it passed, never the password), each
// `reject`ion it was told to make, each `message` (envelope, the
// authenticated user, the raw message), and each connection `closed`. Settings come as JSON in
// SMTP_SINK_CONFIG (see SmtpSinkOptions in smtp-sink.ts).

import { SMTPServer } from 'smtp-server';

interface Config {
  user?: string;
  password?: string;
  reject?: { stage: 'mail' | 'rcpt' | 'data'; code: number; message: string; times?: number };
  rejectRecipients?: string[];
}

const cfg = JSON.parse(process.env.SMTP_SINK_CONFIG ?? '{}') as Config;
let rejections = 0;

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

/** The configured rejection for `stage`, while it has rejections left. */
function rejection(stage: 'mail' | 'rcpt' | 'data'): Error | null {
  const r = cfg.reject;
  if (!r || r.stage !== stage || (r.times !== undefined && rejections >= r.times)) return null;
  rejections++;
  emit({ type: 'reject', stage, code: r.code });
  return Object.assign(new Error(r.message), { responseCode: r.code });
}

const server = new SMTPServer({
  logger: false,
  banner: 'safehold test sink',
  // No reverse DNS of the client: on a machine without a resolver it can stall a session for seconds.
  disableReverseLookup: true,
  disabledCommands: cfg.user === undefined ? ['STARTTLS', 'AUTH'] : ['STARTTLS'],
  allowInsecureAuth: true,
  authOptional: cfg.user === undefined,
  onAuth(auth, _session, cb) {
    const ok = auth.username === cfg.user && auth.password === cfg.password;
    emit({ type: 'auth', user: auth.username ?? null, method: auth.method, ok });
    if (ok) cb(null, { user: auth.username });
    else cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
  },
  onMailFrom(_address, _session, cb) {
    cb(rejection('mail'));
  },
  onRcptTo(address, _session, cb) {
    if (cfg.rejectRecipients?.includes(address.address)) {
      emit({ type: 'reject', stage: 'rcpt', code: 550, recipient: address.address });
      cb(Object.assign(new Error(`no such mailbox ${address.address}`), { responseCode: 550 }));
      return;
    }
    cb(rejection('rcpt'));
  },
  onClose() {
    emit({ type: 'closed' });
  },
  onData(stream, session, cb) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const refused = rejection('data');
      if (refused) {
        cb(refused);
        return;
      }
      const env = session.envelope;
      emit({
        type: 'message',
        from: env.mailFrom ? env.mailFrom.address : null,
        to: env.rcptTo.map((r) => r.address),
        user: session.user ?? null,
        raw: Buffer.concat(chunks).toString('utf8'),
      });
      cb(null, 'queued by the safehold test sink');
    });
  },
});

server.on('error', (e) => {
  process.stderr.write(`smtp sink: ${e.message}\n`);
});
process.on('SIGTERM', () => process.exit(0));
server.listen(0, '127.0.0.1', () => {
  const addr = server.server.address();
  emit({ type: 'listening', port: typeof addr === 'object' && addr ? addr.port : 0 });
});
