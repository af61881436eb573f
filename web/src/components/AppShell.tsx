import { Link, Outlet, useNavigate, useRouter } from '@tanstack/react-router';
import { useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { post } from '@/lib/api';
import { useSession } from '@/lib/session';
import { Button } from './ui/button';

const nav = [
  { to: '/agents', label: 'Voice Agents' },
  { to: '/automations', label: 'Automations' },
  { to: '/contacts', label: 'Contacts' },
  { to: '/calls', label: 'Calls' },
  { to: '/phone-numbers', label: 'Phone Numbers' },
  { to: '/analytics', label: 'Analytics' },
] as const;

const linkClass =
  'block rounded-md px-3 py-2 text-sm font-medium text-slate-200 hover:bg-slate-800 hover:text-white ' +
  'focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-white';
const activeClass = 'bg-slate-800 text-white';

function TeamSwitcher() {
  const id = useId();
  const user = useSession((s) => s.user);
  const teamId = useSession((s) => s.teamId);
  const selectTeam = useSession((s) => s.selectTeam);
  const qc = useQueryClient();
  const router = useRouter();
  if (!user || user.teams.length === 0) return null;
  return (
    <div className="px-3">
      <label htmlFor={id} className="mb-1 block text-xs font-medium tracking-wide text-slate-300 uppercase">
        Team
      </label>
      <select
        id={id}
        value={teamId ?? ''}
        onChange={(e) => {
          selectTeam(e.target.value);
          qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'user' });
          // A detail page shows an object of the previous team: back to its list.
          const path = router.state.location.pathname;
          const m = /^\/(agents|calls)\/[^/]+$/.exec(path);
          if (m) void router.navigate({ to: m[1] === 'agents' ? '/agents' : '/calls' });
        }}
        className="h-9 w-full rounded-md border border-slate-500 bg-slate-800 px-2 text-sm text-white focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-white"
      >
        {user.teams.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name}
            {t.role === 'owner' ? ' (owner)' : ''}
          </option>
        ))}
      </select>
    </div>
  );
}

function SignOut() {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const setUser = useSession((s) => s.setUser);
  const [busy, setBusy] = useState(false);
  return (
    <Button
      variant="secondary"
      size="sm"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          await post('/auth/logout', {}, { noTeam: true, noAuthRedirect: true });
        } catch {
          /* the session may already be gone; sign out locally all the same */
        }
        qc.clear();
        setUser(null);
        await navigate({ to: '/signin', search: {} });
      }}
    >
      Sign out
    </Button>
  );
}

export function AppShell() {
  const user = useSession((s) => s.user);
  return (
    <div className="flex min-h-screen bg-slate-50">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:fixed focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-slate-900"
      >
        Skip to content
      </a>
      <aside className="flex w-60 shrink-0 flex-col gap-6 bg-slate-900 py-5">
        <div className="px-6 text-lg font-bold tracking-tight text-white">Parley</div>
        <TeamSwitcher />
        <nav aria-label="Main" className="flex-1 px-3">
          <ul className="flex flex-col gap-0.5">
            {nav.map((n) => (
              <li key={n.to}>
                <Link to={n.to} className={linkClass} activeProps={{ className: activeClass, 'aria-current': 'page' }}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
          <p className="mt-6 mb-1 px-3 text-xs font-medium tracking-wide text-slate-300 uppercase">Settings</p>
          <ul className="flex flex-col gap-0.5">
            <li>
              <Link
                to="/settings/developer"
                className={linkClass}
                activeProps={{ className: activeClass, 'aria-current': 'page' }}
              >
                Developer
              </Link>
            </li>
            <li>
              <Link to="/settings/team" className={linkClass} activeProps={{ className: activeClass, 'aria-current': 'page' }}>
                Team members
              </Link>
            </li>
          </ul>
        </nav>
        <div className="border-t border-slate-700 px-6 pt-4">
          <p className="truncate text-sm text-slate-200" title={user?.email}>
            {user?.email}
          </p>
          <div className="mt-2">
            <SignOut />
          </div>
        </div>
      </aside>
      <main id="main" tabIndex={-1} className="min-w-0 flex-1 px-8 py-6 focus:outline-none">
        <Outlet />
      </main>
    </div>
  );
}
