// A cron expression in words for the common forms ("every day at 02:00",
// "every 5 minutes", "every Monday to Friday at 22:30"); null for anything
// else, and the console shows the expression alone. Five fields (minute hour
// day-of-month month day-of-week) and the @-macros croner accepts.

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const NUM = /^\d{1,2}$/;
const pad = (n: string) => n.padStart(2, '0');

/** "02:00", or "02:00 and 14:00" for a list of hours. */
function clock(hours: string, minute: string): string | null {
  const hs = hours.split(',');
  if (!hs.every((h) => NUM.test(h) && Number(h) < 24) || !(NUM.test(minute) && Number(minute) < 60)) return null;
  const times = hs.map((h) => `${pad(h)}:${pad(minute)}`);
  return times.length === 1 ? times[0]! : `${times.slice(0, -1).join(', ')} and ${times.at(-1)}`;
}

/** "Monday to Friday", "Saturday and Sunday", "Monday" — or null. */
function days(field: string): string | null {
  const day = (d: string) => (NUM.test(d) && Number(d) <= 7 ? DAYS[Number(d) % 7]! : null);
  const range = /^(\d)-(\d)$/.exec(field);
  if (range) {
    const [a, b] = [day(range[1]!), day(range[2]!)];
    return a && b ? `${a} to ${b}` : null;
  }
  const list = field.split(',').map(day);
  if (list.some((d) => d === null)) return null;
  return list.length === 1 ? list[0]! : `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`;
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${s}`;
}

/** The expression in words, or null when it is not one of the common forms. */
export function cronWords(expression: string): string | null {
  const expr = MACROS[expression.trim().toLowerCase()] ?? expression.trim();
  const f = expr.split(/\s+/);
  if (f.length !== 5) return null;
  const [min, hour, dom, mon, dow] = f as [string, string, string, string, string];
  if (mon !== '*') return null;
  const step = /^\*\/(\d+)$/;
  if (dom === '*' && dow === '*') {
    if (min === '*' && hour === '*') return 'every minute';
    const ms = step.exec(min);
    if (ms && hour === '*') return Number(ms[1]) === 1 ? 'every minute' : `every ${Number(ms[1])} minutes`;
    if (NUM.test(min) && hour === '*') return min === '0' ? 'every hour' : `every hour at minute ${Number(min)}`;
    const hs = step.exec(hour);
    if (NUM.test(min) && hs) return `every ${Number(hs[1])} hours at minute ${Number(min)}`;
    const at = clock(hour, min);
    return at ? `every day at ${at}` : null;
  }
  const at = clock(hour, min);
  if (!at) return null;
  if (dom === '*') {
    const d = days(dow);
    return d ? `every ${d} at ${at}` : null;
  }
  if (dow === '*' && NUM.test(dom) && Number(dom) >= 1 && Number(dom) <= 31)
    return `on the ${ordinal(Number(dom))} of every month at ${at}`;
  return null;
}
