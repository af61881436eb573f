import { useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link, useRouter } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { Field } from '@/components/common';
import { Button } from '@/components/ui/button';
import { Input } from '@/components/ui/input';
import { errorMessage, post } from '@/lib/api';
import { userQuery } from '@/lib/queries';
import { useSession } from '@/lib/session';
import { AuthLayout } from './SignIn';

const route = getRouteApi('/welcome');
const MIN_PASSWORD = 8;

export function WelcomePage() {
  const { token } = route.useSearch();
  const router = useRouter();
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (!token) {
    return (
      <AuthLayout title="Invitation link incomplete">
        <p className="mt-4 text-sm text-slate-700">
          This link has no token. Open the full link you were sent, or ask for a new one.
        </p>
        <p className="mt-4 text-sm">
          <Link to="/signin" className="text-indigo-700 underline">
            Sign in instead
          </Link>
        </p>
      </AuthLayout>
    );
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (password.length < MIN_PASSWORD) return setError(`The password needs at least ${MIN_PASSWORD} characters.`);
    if (password !== confirm) return setError('The two passwords differ.');
    setError(null);
    setBusy(true);
    try {
      const body: Record<string, string> = { token: token!, password };
      if (name.trim()) body.name = name.trim();
      await post('/auth/redeem', body, { noTeam: true, noAuthRedirect: true });
      const user = await qc.fetchQuery({ ...userQuery, staleTime: 0 });
      useSession.getState().setUser(user);
      await router.navigate({ to: '/agents', replace: true });
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }

  return (
    <AuthLayout title="Welcome to Parley">
      <p className="mt-2 text-sm text-slate-700">Choose a password to finish setting up your account.</p>
      <form className="mt-6 flex flex-col gap-4" onSubmit={submit} noValidate>
        <Field label="Your name (optional)">
          {(id) => <Input id={id} autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="New password" hint={`At least ${MIN_PASSWORD} characters.`}>
          {(id, hintId) => (
            <Input
              id={id}
              type="password"
              autoComplete="new-password"
              required
              aria-describedby={hintId}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <Field label="Repeat the password">
          {(id) => (
            <Input
              id={id}
              type="password"
              autoComplete="new-password"
              required
              value={confirm}
              onChange={(e) => setConfirm(e.target.value)}
            />
          )}
        </Field>
        {error ? (
          <p role="alert" className="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900">
            {error}
          </p>
        ) : null}
        <Button type="submit" disabled={busy || !password || !confirm}>
          {busy ? 'Setting up…' : 'Set password and sign in'}
        </Button>
      </form>
    </AuthLayout>
  );
}
