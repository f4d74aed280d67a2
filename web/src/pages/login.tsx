// The login page: name and password → POST /api/login (the server sets the
// HttpOnly session cookie; the page keeps only the CSRF token in memory).

import { useState } from 'react';
import type { FormEvent } from 'react';
import { type ApiError, login } from '../api.ts';
import type { Session } from '../types.ts';

export function LoginPage({ onLogin }: { onLogin: (s: Session) => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await login(name, password);
      setPassword('');
      onLogin({ user: s.user, role: s.role, csrf: s.csrf });
    } catch (err) {
      const ae = err as ApiError;
      setError(
        ae.status === 401
          ? 'Wrong user name or password.'
          : ae.status === 429
            ? `Too many failed logins. ${ae.message}`
            : ae.message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="card login-card" onSubmit={submit}>
        <h1>
          <span className="logo" aria-hidden="true" />
          Safehold
        </h1>
        <label>
          User name
          <input
            name="name"
            autoComplete="username"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            // biome-ignore lint/a11y/noAutofocus: the login page has one thing to do
            autoFocus
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
