import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { CopyField, EmptyState, ErrorState, Field, InlineError, Loading, PageHeader } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card, CardHeader } from '@/components/ui/card';
import { Input, Select } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { get, post } from '@/lib/api';
import { useCurrentTeam, useSession, useTeamId } from '@/lib/session';

interface Member {
  user_id: string;
  email: string;
  name: string | null;
  role: 'owner' | 'member';
}

/** An invite URL as the server gives it, made absolute for pasting into an email. */
export function absoluteInviteUrl(url: string, origin: string): string {
  return /^https?:\/\//i.test(url) ? url : new URL(url, origin).toString();
}

function Invite() {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<'member' | 'owner'>('member');
  const [link, setLink] = useState<{ email: string; url: string } | null>(null);
  const invite = useMutation({
    mutationFn: () => post<{ url: string }>('/team/invites', { email: email.trim(), role }),
    onSuccess: (d) => {
      setLink({ email: email.trim(), url: absoluteInviteUrl(d.url, window.location.origin) });
      setEmail('');
      void qc.invalidateQueries({ queryKey: [teamId, 'members'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (email.trim()) invite.mutate();
  };
  return (
    <Card aria-labelledby="invite-h">
      <CardHeader id="invite-h" title="Invite someone" description="Parley sends no email: copy the one-time link and send it yourself." />
      {link ? (
        <div role="status" className="mb-4 rounded-lg border border-amber-300 bg-amber-50 p-4">
          <p className="text-sm font-semibold text-amber-950">Invitation link for {link.email} (works once):</p>
          <div className="mt-2">
            <CopyField value={link.url} what="invitation link" />
          </div>
        </div>
      ) : null}
      <form onSubmit={submit} className="flex flex-wrap items-end gap-3">
        <div className="w-72">
          <Field label="Email">
            {(id) => <Input id={id} type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" />}
          </Field>
        </div>
        <div className="w-40">
          <Field label="Role">
            {(id) => (
              <Select id={id} value={role} onChange={(e) => setRole(e.target.value as 'member' | 'owner')}>
                <option value="member">Member</option>
                <option value="owner">Owner</option>
              </Select>
            )}
          </Field>
        </div>
        <Button type="submit" disabled={!email.trim() || invite.isPending}>
          {invite.isPending ? 'Creating…' : 'Create invitation link'}
        </Button>
      </form>
      <div className="mt-2">
        <InlineError error={invite.error} />
      </div>
    </Card>
  );
}

export function MembersPage() {
  const teamId = useTeamId();
  const team = useCurrentTeam();
  const me = useSession((s) => s.user?.id);
  const members = useQuery({
    queryKey: [teamId, 'members'],
    queryFn: ({ signal }) => get<{ members: Member[] }>('/team/members', undefined, { signal }),
  });
  return (
    <>
      <PageHeader title="Team members" description={team ? `Who can sign in to ${team.name}.` : undefined} />
      <div className="flex flex-col gap-6">
        {team?.role === 'owner' ? <Invite /> : null}
        <Card aria-labelledby="members-h">
          <CardHeader id="members-h" title="Members" />
          {members.isPending ? (
            <Loading />
          ) : members.isError ? (
            <ErrorState error={members.error} onRetry={() => members.refetch()} />
          ) : members.data.members.length === 0 ? (
            <EmptyState title="No members" />
          ) : (
            <Table aria-label="Team members">
              <THead>
                <TR>
                  <TH>Name</TH>
                  <TH>Email</TH>
                  <TH>Role</TH>
                </TR>
              </THead>
              <TBody>
                {members.data.members.map((m) => (
                  <TR key={m.user_id}>
                    <TD className="font-medium">
                      {m.name || '—'}
                      {m.user_id === me ? <span className="ml-2 text-xs text-slate-700">(you)</span> : null}
                    </TD>
                    <TD>{m.email}</TD>
                    <TD>
                      <Badge tone={m.role === 'owner' ? 'blue' : 'neutral'}>{m.role}</Badge>
                    </TD>
                  </TR>
                ))}
              </TBody>
            </Table>
          )}
        </Card>
      </div>
    </>
  );
}
