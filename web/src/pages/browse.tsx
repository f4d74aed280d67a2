// The file browser of one snapshot (/browse?destination=D&snapshot=ID&path=P):
// directories one at a time with a path of links back up, a search by name,
// a download link per file (GET …/download: an attachment), and, for
// operators, the restore of the ticked entries into a new or empty
// directory outside live data (the server refuses anything else).

import { useState } from 'react';
import type { FormEvent } from 'react';
import { api, qs, roleAllows } from '../api.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { bytes, time } from '../format.ts';
import type {
  BrowseDir,
  BrowseEntry,
  BrowseSearch,
  Role,
  SelectionRestoreRequest,
  SelectionRestoreResult,
} from '../types.ts';
import { Empty, ErrorNote, Loading, PageHeader } from '../components/status.tsx';

export function BrowsePage({ role }: { role: Role }) {
  const { query } = useLocation();
  const destination = query.get('destination') ?? '';
  const snapshot = query.get('snapshot') ?? '';
  const dir = query.get('path') || '/';
  const q = query.get('q') ?? '';
  const base = `/api/snapshots/${encodeURIComponent(snapshot)}`;
  const listing = useApi<BrowseDir>(
    destination && snapshot && !q ? `${base}/files${qs({ destination, path: dir })}` : null,
  );
  const found = useApi<BrowseSearch>(destination && snapshot && q ? `${base}/search${qs({ destination, q })}` : null);
  const [selected, setSelected] = useState<string[]>([]);
  const [text, setText] = useState(q);
  const canRestore = roleAllows(role, 'operator');

  const href = (p: { path?: string; q?: string }) =>
    `/browse${qs({ destination, snapshot, path: p.path ?? dir, q: p.q })}`;
  const go = (p: { path?: string; q?: string }) => navigate(href(p));
  const search = (e: FormEvent) => {
    e.preventDefault();
    go({ q: text.trim() });
  };
  const toggle = (p: string) => setSelected((s) => (s.includes(p) ? s.filter((x) => x !== p) : [...s, p]));
  const items = q ? found.data?.items : listing.data?.items;
  const loading = q ? found.loading : listing.loading;

  if (!destination || !snapshot)
    return (
      <>
        <PageHeader title="Browse a snapshot" />
        <p>
          Open a snapshot from the <Link to="/snapshots">snapshots</Link> or a run's tasks.
        </p>
      </>
    );
  return (
    <div className="browser">
      <PageHeader title="Browse a snapshot">
        <Link to="/snapshots">Snapshots →</Link>
      </PageHeader>
      <p className="muted">
        Snapshot <span className="mono">{snapshot.slice(0, 12)}</span> of {destination}
      </p>
      <Crumbs dir={dir} href={(p) => href({ path: p })} />
      <form className="browser-tools" onSubmit={search}>
        <input
          type="search"
          aria-label="search by name"
          placeholder="search by name"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" className="secondary">
          Search
        </button>
        {q ? (
          <button type="button" className="secondary" onClick={() => go({ path: dir })}>
            Back to {dir}
          </button>
        ) : null}
      </form>
      <ErrorNote error={q ? found.error : listing.error} />
      <Loading when={loading && !items} />
      {q && found.data?.truncated ? <p className="muted small">More entries match: showing the first ones.</p> : null}
      <Entries
        items={items ?? []}
        selectable={canRestore}
        selected={selected}
        toggle={toggle}
        open={(p) => href({ path: p })}
        download={(p) => `${base}/download${qs({ destination, path: p })}`}
        showPath={q !== ''}
      />
      <Empty when={items !== undefined && items.length === 0}>{q ? 'Nothing matches.' : 'Empty directory.'}</Empty>
      {canRestore ? (
        <RestoreSelection
          destination={destination}
          snapshot={snapshot}
          selected={selected}
          clear={() => setSelected([])}
        />
      ) : null}
    </div>
  );
}

function Crumbs({ dir, href }: { dir: string; href: (p: string) => string }) {
  const parts = dir.split('/').filter(Boolean);
  return (
    <nav className="crumbs" aria-label="path">
      <Link to={href('/')}>/</Link>
      {parts.map((name, i) => {
        const p = `/${parts.slice(0, i + 1).join('/')}`;
        return (
          <span key={p}>
            {i > 0 ? '/' : null}
            <Link to={href(p)}>{name}</Link>
          </span>
        );
      })}
    </nav>
  );
}

function Entries(props: {
  items: BrowseEntry[];
  selectable: boolean;
  selected: string[];
  toggle: (p: string) => void;
  /** The page of directory `p`. */
  open: (p: string) => string;
  download: (p: string) => string;
  showPath: boolean;
}) {
  if (props.items.length === 0) return null;
  return (
    <div className="table-wrap">
      <table id="entries">
        <thead>
          <tr>
            {props.selectable ? <th aria-label="select" /> : null}
            <th>Name</th>
            <th>Size</th>
            <th>Modified</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {props.items.map((e) => (
            <tr key={e.path} data-path={e.path} data-type={e.type}>
              {props.selectable ? (
                <td>
                  <input
                    type="checkbox"
                    aria-label={`select ${e.path}`}
                    checked={props.selected.includes(e.path)}
                    onChange={() => props.toggle(e.path)}
                  />
                </td>
              ) : null}
              <td className="name">
                {e.type === 'dir' ? (
                  <Link to={props.open(e.path)} className="dir">
                    {props.showPath ? e.path : e.name}/
                  </Link>
                ) : (
                  <span>{props.showPath ? e.path : e.name}</span>
                )}
                {e.linkTarget !== null ? <span className="muted small"> → {e.linkTarget}</span> : null}
              </td>
              <td>{e.type === 'file' ? bytes(e.size) : e.type === 'dir' ? '' : e.type}</td>
              <td>{time(e.mtime)}</td>
              <td>
                {e.type === 'file' ? (
                  <a className="download" href={props.download(e.path)} download={e.name}>
                    Download
                  </a>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RestoreSelection(props: { destination: string; snapshot: string; selected: string[]; clear: () => void }) {
  const [target, setTarget] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<SelectionRestoreResult | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const body: SelectionRestoreRequest = {
        destination: props.destination,
        paths: props.selected,
        target: target.trim(),
      };
      const r = await api<SelectionRestoreResult>(
        `/api/snapshots/${encodeURIComponent(props.snapshot)}/restore-selection`,
        { method: 'POST', body },
      );
      setDone(r);
      props.clear();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card restore-selection">
      <h2>Restore the selection</h2>
      <p className="muted small">
        Into a new or empty directory outside live data (the configured places, the repositories): nothing that exists
        is overwritten. {props.selected.length} selected.
      </p>
      {props.selected.length > 0 ? (
        <ul className="small mono">
          {props.selected.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      ) : null}
      <form className="browser-tools" onSubmit={submit}>
        <input
          type="text"
          aria-label="restore into directory"
          placeholder="/absolute/new/directory"
          value={target}
          onChange={(e) => setTarget(e.target.value)}
        />
        <button type="submit" disabled={busy || props.selected.length === 0 || target.trim() === ''}>
          {busy ? 'Restoring…' : 'Restore selection'}
        </button>
      </form>
      <ErrorNote error={error} />
      {done ? (
        <p className="restored" role="status">
          Restored {done.files} file(s), {bytes(done.bytes)} into <span className="mono">{done.into}</span>.
        </p>
      ) : null}
    </section>
  );
}
