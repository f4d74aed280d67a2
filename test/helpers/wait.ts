// Waiting in tests: poll a condition (real time) until it holds, or fail
// naming what was awaited.

export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 15_000,
  everyMs = 5,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
