// Loading data in a page: the value, the error, a reload function, and
// optional polling while a condition holds.

import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from './api.ts';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload(): void;
}

export function useApi<T>(
  path: string | null,
  opts: { pollMs?: number; pollWhile?: (d: T) => boolean } = {},
): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const pollWhile = useRef(opts.pollWhile);
  pollWhile.current = opts.pollWhile;

  useEffect(() => {
    if (path === null) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const d = await api<T>(path);
        if (!live) return;
        setData(d);
        setError(null);
        if (opts.pollMs && (!pollWhile.current || pollWhile.current(d))) timer = setTimeout(load, opts.pollMs);
      } catch (e) {
        if (live) setError((e as Error).message);
      } finally {
        if (live) setLoading(false);
      }
    };
    setLoading(true);
    void load();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [path, tick, opts.pollMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
