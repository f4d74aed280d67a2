// The console's shell: finds the current session (GET /api/session) or shows
// the login page, then the navigation and the page the path names.

import { useEffect, useState } from 'react';
import { currentSession, logout, setCsrf, setUnauthorizedHandler } from './api.ts';
import type { Session } from './types.ts';
import { Link, navigate, useLocation } from './router.tsx';
import { LoginPage } from './pages/login.tsx';
import { DashboardPage } from './pages/dashboard.tsx';
import { PlansPage } from './pages/plans.tsx';
import { RunsPage } from './pages/runs.tsx';
import { RunPage } from './pages/run.tsx';
import { SnapshotsPage } from './pages/snapshots.tsx';
import { BrowsePage } from './pages/browse.tsx';
import { RestorePage } from './pages/restore.tsx';
import { AlertsPage, DrillsPage } from './pages/events.tsx';
import { ChartsPage } from './pages/charts.tsx';
import { ProtectionPage } from './pages/protection.tsx';
import { RunbooksPage } from './pages/runbooks.tsx';
import { RunbookRunPage } from './pages/runbook-run.tsx';

const NAV: [string, string][] = [
  ['/', 'Dashboard'],
  ['/plans', 'Plans'],
  ['/runs', 'Runs'],
  ['/snapshots', 'Snapshots'],
  ['/restore', 'Restore'],
  ['/runbooks', 'Runbooks'],
  ['/protection', 'Protection'],
  ['/drills', 'Drills'],
  ['/alerts', 'Alerts'],
  ['/charts', 'Charts'],
];

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checked, setChecked] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);
  const { path } = useLocation();

  const use = (s: Session | null) => {
    setCsrf(s?.csrf ?? '');
    setSession(s);
  };

  useEffect(() => {
    setUnauthorizedHandler(() => use(null));
    currentSession()
      .then(use, () => use(null))
      .finally(() => setChecked(true));
  }, []);
  useEffect(() => setMenuOpen(false), [path]);

  if (!checked) return <p className="muted center">Loading…</p>;
  if (!session)
    return (
      <LoginPage
        onLogin={(s) => {
          use(s);
          if (path === '/login') navigate('/', { replace: true });
        }}
      />
    );

  const signOut = async () => {
    try {
      await logout();
    } finally {
      use(null);
      navigate('/', { replace: true });
    }
  };
  const active = (to: string) =>
    to === '/' ? path === '/' : path === to || path.startsWith(`${to}/`) || (to === '/snapshots' && path === '/browse');

  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="logo" aria-hidden="true" />
          Safehold
        </Link>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-label="menu"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          ☰
        </button>
        <nav className={menuOpen ? 'open' : ''}>
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} className={active(to) ? 'active' : ''}>
              {label}
            </Link>
          ))}
        </nav>
        <div className="who">
          <span title={`role: ${session.role}`}>
            {session.user} <span className="muted small">({session.role})</span>
          </span>
          <button type="button" className="secondary small" onClick={signOut}>
            Log out
          </button>
        </div>
      </header>
      <main className="content">{page(path, session)}</main>
    </div>
  );
}

function page(path: string, s: Session) {
  const run = /^\/runs\/([^/]+)$/.exec(path);
  if (run) return <RunPage id={decodeURIComponent(run[1]!)} />;
  const runbookRun = /^\/runbooks\/runs\/([^/]+)$/.exec(path);
  if (runbookRun) return <RunbookRunPage id={decodeURIComponent(runbookRun[1]!)} role={s.role} />;
  switch (path) {
    case '/':
    case '/login':
      return <DashboardPage />;
    case '/plans':
      return <PlansPage role={s.role} />;
    case '/runs':
      return <RunsPage />;
    case '/snapshots':
      return <SnapshotsPage />;
    case '/browse':
      return <BrowsePage role={s.role} />;
    case '/restore':
      return <RestorePage role={s.role} />;
    case '/protection':
      return <ProtectionPage />;
    case '/drills':
      return <DrillsPage />;
    case '/alerts':
      return <AlertsPage />;
    case '/charts':
      return <ChartsPage />;
    case '/runbooks':
      return <RunbooksPage role={s.role} />;
    default:
      return (
        <>
          <h1>Not found</h1>
          <p>
            No page at {path}. <Link to="/">Dashboard</Link>
          </p>
        </>
      );
  }
}
