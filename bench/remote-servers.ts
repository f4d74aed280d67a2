// The servers of bench/remote.sh: Ceph radosgw (with its request log on) and
// a private sshd, started with the test fixtures (test/helpers/radosgw.ts and
// sshd.ts). Prints their endpoints and credentials as shell assignments on
// stdout, the last line `READY=1`, then runs until SIGTERM, SIGINT or the end
// of stdin, and stops both servers. Run as root (sshd's chroot).
//
//   node bench/remote-servers.ts > servers.env &   # then: . servers.env

import { startRadosgw } from '../test/helpers/radosgw.ts';
import type { Radosgw } from '../test/helpers/radosgw.ts';
import { startSshd } from '../test/helpers/sshd.ts';
import type { Sshd } from '../test/helpers/sshd.ts';

const BUCKET = 'safehold-bench';

/** A value quoted for the shell. */
function sh(v: string | number): string {
  return `'${String(v).replaceAll("'", `'\\''`)}'`;
}

async function main(): Promise<void> {
  let rgw: Radosgw | undefined;
  let sshd: Sshd | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (code: number) => {
    stopping ??= (async () => {
      await Promise.allSettled([rgw?.stop(), sshd?.stop()]);
      process.exit(code);
    })();
    return stopping;
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  try {
    const [r, s] = await Promise.allSettled([startRadosgw(BUCKET, { requestLog: true }), startSshd()]);
    if (r.status === 'fulfilled') rgw = r.value;
    if (s.status === 'fulfilled') sshd = s.value;
    for (const res of [r, s]) if (res.status === 'rejected') throw res.reason;
  } catch (e) {
    process.stderr.write(`remote-servers: ${e instanceof Error ? e.message : String(e)}\n`);
    await stop(1);
    return;
  }
  const lines = {
    RGW_ENDPOINT: rgw!.endpoint,
    RGW_BUCKET: rgw!.bucket,
    RGW_ACCESS_KEY: rgw!.accessKeyId,
    RGW_SECRET_KEY: rgw!.secretAccessKey,
    RGW_REGION: rgw!.region,
    RGW_LOG: rgw!.logFile,
    RGW_START_MS: rgw!.startMs,
    SFTP_HOST: sshd!.host,
    SFTP_PORT: sshd!.port,
    SFTP_USER: sshd!.user,
    SFTP_KEY: sshd!.clientKey,
    SFTP_KNOWN_HOSTS: sshd!.knownHosts,
    // The writable directory: `/data` as the chrooted user sees it, SFTP_DATA_LOCAL on this machine.
    SFTP_DATA: '/data',
    SFTP_DATA_LOCAL: sshd!.dataDir,
    READY: 1,
  };
  process.stdout.write(
    `${Object.entries(lines)
      .map(([k, v]) => `${k}=${sh(v)}`)
      .join('\n')}\n`,
  );
  process.stdin.on('end', () => void stop(0));
  process.stdin.resume();
}

await main();
