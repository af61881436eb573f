import { useQueryClient } from '@tanstack/react-query';
import { getRouteApi, useRouter } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { Field } from '@/components/common';
import { Button } from '@/components/ui/button';
import { Input } from '@/components/ui/input';
import { ApiError, errorMessage, post } from '@/lib/api';
import { userQuery } from '@/lib/queries';
import { useSession } from '@/lib/session';
import type { User } from '@/lib/types';

const route = getRouteApi('/signin');

export function AuthLayout({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <main className="flex min-h-screen items-center justify-center bg-slate-100 px-4">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
        <p className="text-lg font-bold tracking-tight text-slate-900">Parley</p>
        <h1 className="mt-4 text-xl font-semibold text-slate-900">{title}</h1>
        {children}
      </div>
    </main>
  );
}

export function SignInPage() {
  const { redirect } = route.useSearch();
  const router = useRouter();
  const qc = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await post<{ user: unknown }>('/auth/login', { email: email.trim(), password }, { noTeam: true, noAuthRedirect: true });
      // The CSRF token and the teams come with GET /user.
      const user = await qc.fetchQuery({ ...userQuery, staleTime: 0 });
      useSession.getState().setUser(user as User);
      await router.navigate({ href: redirect ?? '/agents', replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) {
        setError(
          err.retryAfter !== undefined
            ? `Too many attempts. Try again in ${err.retryAfter} seconds.`
            : 'Too many attempts. Try again later.',
        );
      } else {
        setError(errorMessage(err));
      }
      setBusy(false);
    }
  }

  return (
    <AuthLayout title="Sign in">
      <form className="mt-6 flex flex-col gap-4" onSubmit={submit} noValidate>
        <Field label="Email">
          {(id) => (
            <Input
              id={id}
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? 'signin-error' : undefined}
            />
          )}
        </Field>
        <Field label="Password">
          {(id) => (
            <Input
              id={id}
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? 'signin-error' : undefined}
            />
          )}
        </Field>
        {error ? (
          <p id="signin-error" role="alert" className="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900">
            {error}
          </p>
        ) : null}
        <Button type="submit" disabled={busy || !email || !password}>
          {busy ? 'Signing in…' : 'Sign in'}
        </Button>
      </form>
      <p className="mt-6 text-xs text-slate-700">
        No account? An owner of your team can send you an invitation link.
      </p>
    </AuthLayout>
  );
}
