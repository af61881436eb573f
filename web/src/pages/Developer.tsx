import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { CopyField, DefinitionList, EmptyState, ErrorState, Field, InlineError, Loading, PageHeader, StatusBadge } from '@/components/common';
import { Button } from '@/components/ui/button';
import { Card, CardHeader } from '@/components/ui/card';
import { Dialog, DialogClose, DialogContent } from '@/components/ui/dialog';
import { Input, Select } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { del, get, post } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import { SpeechKeysCard } from './SpeechKeysCard';
import { useCurrentTeam, useTeamId } from '@/lib/session';
import { WEBHOOK_TYPES, type ApiToken, type Delivery, type InterviewPage, type NewApiToken, type TeamInfo, type Webhook, type WebhookType } from '@/lib/types';

function TeamCard() {
  const team = useCurrentTeam();
  const teamId = useTeamId();
  const info = useQuery({
    queryKey: [teamId, 'team'],
    queryFn: ({ signal }) => get<TeamInfo>('/team', undefined, { signal }),
  });
  return (
    <Card aria-labelledby="team-h">
      <CardHeader
        id="team-h"
        title="Team"
        description={
          <>
            API requests carry two headers: <code className="font-mono">x-api-token</code> and{' '}
            <code className="font-mono">team_id</code>.
          </>
        }
      />
      <DefinitionList
        items={[
          ['Name', info.data?.name ?? team?.name ?? '—'],
          ['Team id', <CopyField key="id" value={teamId} what="team id" />],
          ['Your role', team?.role ?? '—'],
        ]}
      />
      {info.isError ? (
        <div className="mt-3">
          <InlineError error={info.error} />
        </div>
      ) : null}
    </Card>
  );
}

function NewTokenShown({ token, onDone }: { token: NewApiToken; onDone: () => void }) {
  return (
    <div role="status" className="mb-4 rounded-lg border border-amber-300 bg-amber-50 p-4">
      <p className="text-sm font-semibold text-amber-950">Token “{token.name}” created. Copy it now: it is shown only once.</p>
      <div className="mt-2">
        <CopyField value={token.token} what="API token" />
      </div>
      <Button variant="secondary" size="sm" className="mt-3" onClick={onDone}>
        I have copied it
      </Button>
    </div>
  );
}

function TokensCard() {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const key = [teamId, 'api_tokens'];
  const [name, setName] = useState('');
  const [created, setCreated] = useState<NewApiToken | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const tokens = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => get<{ tokens: ApiToken[] }>('/team/api_tokens', undefined, { signal }),
  });
  const create = useMutation({
    mutationFn: (n: string) => post<NewApiToken>('/team/api_tokens', { name: n }),
    onSuccess: (t) => {
      setCreated(t);
      setName('');
      void qc.invalidateQueries({ queryKey: key });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => del<unknown>(`/team/api_tokens/${encodeURIComponent(id)}`),
    onSuccess: () => {
      setRevoking(null);
      void qc.invalidateQueries({ queryKey: key });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate(name.trim());
  };
  return (
    <Card aria-labelledby="tokens-h">
      <CardHeader id="tokens-h" title="API tokens" description="For integrations and scripts. Tokens are stored hashed: the full token is shown once, when created." />
      {created ? <NewTokenShown token={created} onDone={() => setCreated(null)} /> : null}
      <form onSubmit={submit} className="mb-4 flex items-end gap-2">
        <div className="w-72">
          <Field label="New token name">
            {(id) => <Input id={id} value={name} onChange={(e) => setName(e.target.value)} maxLength={100} placeholder="e.g. CRM sync" />}
          </Field>
        </div>
        <Button type="submit" disabled={!name.trim() || create.isPending}>
          {create.isPending ? 'Creating…' : 'Create token'}
        </Button>
      </form>
      <InlineError error={create.error} />
      {tokens.isPending ? (
        <Loading />
      ) : tokens.isError ? (
        <ErrorState error={tokens.error} onRetry={() => tokens.refetch()} />
      ) : tokens.data.tokens.length === 0 ? (
        <EmptyState title="No API tokens" />
      ) : (
        <Table aria-label="API tokens">
          <THead>
            <TR>
              <TH>Name</TH>
              <TH>Token</TH>
              <TH>Created</TH>
              <TH>State</TH>
              <TH>
                <span className="sr-only">Actions</span>
              </TH>
            </TR>
          </THead>
          <TBody>
            {tokens.data.tokens.map((t) => (
              <TR key={t.id}>
                <TD className="font-medium">{t.name || <span className="font-normal text-slate-700">(unnamed)</span>}</TD>
                <TD className="font-mono text-xs">{t.prefix}…</TD>
                <TD className="whitespace-nowrap">{formatDateTime(t.created)}</TD>
                <TD>{t.revoked ? `Revoked ${formatDateTime(t.revoked)}` : 'Active'}</TD>
                <TD className="text-right">
                  {t.revoked ? null : (
                    <Button variant="secondary" size="sm" className="text-red-800" onClick={() => setRevoking(t)} aria-label={`Revoke token ${t.name || t.prefix}`}>
                      Revoke
                    </Button>
                  )}
                </TD>
              </TR>
            ))}
          </TBody>
        </Table>
      )}
      {revoking ? (
        <Dialog open onOpenChange={(o) => !o && (setRevoking(null), revoke.reset())}>
          <DialogContent
            title={`Revoke “${revoking.name || `${revoking.prefix}…`}”?`}
            description="Requests with this token are refused from now on. This cannot be undone."
          >
            <InlineError error={revoke.error} />
            <div className="flex justify-end gap-2">
              <DialogClose asChild>
                <Button variant="secondary">Cancel</Button>
              </DialogClose>
              <Button variant="danger" disabled={revoke.isPending} onClick={() => revoke.mutate(revoking.id)}>
                {revoke.isPending ? 'Revoking…' : 'Revoke token'}
              </Button>
            </div>
          </DialogContent>
        </Dialog>
      ) : null}
    </Card>
  );
}

function SigningSecretCard() {
  const teamId = useTeamId();
  const [shown, setShown] = useState(false);
  const info = useQuery({
    queryKey: [teamId, 'team'],
    queryFn: ({ signal }) => get<TeamInfo>('/team', undefined, { signal }),
  });
  const secret = useQuery({
    queryKey: [teamId, 'signing_secret'],
    queryFn: ({ signal }) => get<{ signing_secret: string }>('/webhooks/signing_secret', undefined, { signal }),
    enabled: shown,
    staleTime: 0,
    gcTime: 0,
  });
  return (
    <Card aria-labelledby="secret-h">
      <CardHeader
        id="secret-h"
        title="Webhook signing secret"
        description={
          <>
            Each delivery carries <code className="font-mono">X-Parley-Signature: t=…,v1=…</code>, an HMAC-SHA256 of{' '}
            <code className="font-mono">{'"<t>.<body>"'}</code> with this secret.
          </>
        }
        actions={
          <Button variant="secondary" size="sm" onClick={() => setShown((s) => !s)} aria-expanded={shown}>
            {shown ? 'Hide' : 'Reveal'}
          </Button>
        }
      />
      {!shown ? (
        <p className="font-mono text-sm text-slate-800">{info.data?.signing_secret_hint ? `${info.data.signing_secret_hint}…` : '••••••••••••••••'}</p>
      ) : secret.isPending ? (
        <Loading />
      ) : secret.isError ? (
        <InlineError error={secret.error} />
      ) : (
        <CopyField value={secret.data.signing_secret} what="signing secret" />
      )}
    </Card>
  );
}

function WebhooksCard() {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const key = [teamId, 'webhooks'];
  const [type, setType] = useState<WebhookType>('NEW_RESPONSE');
  const [url, setUrl] = useState('');
  const [agent, setAgent] = useState('');
  const hooks = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => get<Webhook[]>('/webhooks', undefined, { signal }),
  });
  const agents = useQuery({
    queryKey: [teamId, 'interviews', 'all-for-filter'],
    queryFn: ({ signal }) => get<InterviewPage>('/interview', { limit: 50, sort: 'title_asc' }, { signal }),
    staleTime: 60_000,
  });
  const title = (id: string) => agents.data?.interviews.find((a) => a.id === id)?.title ?? id;
  const add = useMutation({
    mutationFn: () => post<Webhook>('/webhooks/subscribe', { type, url: url.trim(), ...(agent ? { data: agent } : {}) }),
    onSuccess: () => {
      setUrl('');
      void qc.invalidateQueries({ queryKey: key });
    },
  });
  const remove = useMutation({
    mutationFn: (w: Webhook) => del<null>('/webhooks/unsubscribe', { type: w.type, url: w.url, data: w.data }),
    onSuccess: () => qc.invalidateQueries({ queryKey: key }),
  });
  return (
    <Card aria-labelledby="hooks-h">
      <CardHeader id="hooks-h" title="Webhook subscriptions" description="Parley POSTs each event to these URLs, retrying failures for at least 24 hours." />
      <form
        className="mb-4 flex flex-wrap items-end gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          if (url.trim()) add.mutate();
        }}
      >
        <div className="w-48">
          <Field label="Event">
            {(id) => (
              <Select id={id} value={type} onChange={(e) => setType(e.target.value as WebhookType)}>
                {WEBHOOK_TYPES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </Select>
            )}
          </Field>
        </div>
        <div className="min-w-72 flex-1">
          <Field label="URL">
            {(id) => <Input id={id} type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/hooks/parley" />}
          </Field>
        </div>
        <div className="w-52">
          <Field label="Agent">
            {(id) => (
              <Select id={id} value={agent} onChange={(e) => setAgent(e.target.value)}>
                <option value="">All agents</option>
                {agents.data?.interviews.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.title || a.id}
                  </option>
                ))}
              </Select>
            )}
          </Field>
        </div>
        <Button type="submit" disabled={!url.trim() || add.isPending}>
          {add.isPending ? 'Adding…' : 'Add subscription'}
        </Button>
      </form>
      <InlineError error={add.error ?? remove.error} />
      {hooks.isPending ? (
        <Loading />
      ) : hooks.isError ? (
        <ErrorState error={hooks.error} onRetry={() => hooks.refetch()} />
      ) : hooks.data.length === 0 ? (
        <EmptyState title="No subscriptions" />
      ) : (
        <Table aria-label="Webhook subscriptions">
          <THead>
            <TR>
              <TH>Event</TH>
              <TH>URL</TH>
              <TH>Agent</TH>
              <TH>Created</TH>
              <TH>
                <span className="sr-only">Actions</span>
              </TH>
            </TR>
          </THead>
          <TBody>
            {hooks.data.map((w) => (
              <TR key={w.id}>
                <TD className="font-mono text-xs">{w.type}</TD>
                <TD className="max-w-md font-mono text-xs break-all">{w.url}</TD>
                <TD>{w.data ? title(w.data) : 'All agents'}</TD>
                <TD className="whitespace-nowrap">{formatDateTime(w.created)}</TD>
                <TD className="text-right">
                  <Button
                    variant="secondary"
                    size="sm"
                    disabled={remove.isPending}
                    onClick={() => remove.mutate(w)}
                    aria-label={`Remove ${w.type} subscription to ${w.url}`}
                  >
                    Remove
                  </Button>
                </TD>
              </TR>
            ))}
          </TBody>
        </Table>
      )}
    </Card>
  );
}

function DeliveriesCard() {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const list = useQuery({
    queryKey: [teamId, 'deliveries'],
    queryFn: ({ signal }) => get<Delivery[]>('/webhooks/deliveries', { limit: 50 }, { signal }),
  });
  // Resend: a new delivery of the same event, queued at once (the list shows it on top).
  const resend = useMutation({
    mutationFn: (id: string) => post<{ delivery_id: string }>(`/webhooks/deliveries/${id}/resend`, {}),
    onSettled: () => qc.invalidateQueries({ queryKey: [teamId, 'deliveries'] }),
  });
  return (
    <Card aria-labelledby="deliv-h">
      <CardHeader
        id="deliv-h"
        title="Recent deliveries"
        description="The last 50 webhook deliveries, newest first."
        actions={
          <Button variant="secondary" size="sm" onClick={() => list.refetch()} disabled={list.isFetching}>
            {list.isFetching ? 'Refreshing…' : 'Refresh'}
          </Button>
        }
      />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.length === 0 ? (
        <EmptyState title="No deliveries yet" />
      ) : (
        <>
        <InlineError error={resend.error} />
        <Table aria-label="Webhook deliveries">
          <THead>
            <TR>
              <TH>When</TH>
              <TH>Event</TH>
              <TH>URL</TH>
              <TH>Status</TH>
              <TH>Attempts</TH>
              <TH>Last response</TH>
              <TH>Next attempt</TH>
              <TH>
                <span className="sr-only">Actions</span>
              </TH>
            </TR>
          </THead>
          <TBody>
            {list.data.map((d) => (
              <TR key={d.id}>
                <TD className="whitespace-nowrap">{formatDateTime(d.created)}</TD>
                <TD className="font-mono text-xs">{d.type}</TD>
                <TD className="max-w-xs font-mono text-xs break-all">{d.url}</TD>
                <TD>
                  <StatusBadge value={d.status} />
                </TD>
                <TD>{d.attempts}</TD>
                <TD className="max-w-xs break-words">
                  {d.last_status_code ?? ''}
                  {d.last_error ? <span className="block text-xs text-red-800">{d.last_error}</span> : d.last_status_code === null ? '—' : null}
                </TD>
                <TD className="whitespace-nowrap">{d.next_attempt ? formatDateTime(d.next_attempt) : '—'}</TD>
                <TD>
                  <Button
                    variant="secondary"
                    size="sm"
                    aria-label={`Resend the ${d.type} delivery of ${formatDateTime(d.created)}`}
                    disabled={resend.isPending && resend.variables === d.id}
                    onClick={() => resend.mutate(d.id)}
                  >
                    Resend
                  </Button>
                </TD>
              </TR>
            ))}
          </TBody>
        </Table>
        </>
      )}
    </Card>
  );
}

export function DeveloperPage() {
  return (
    <>
      <PageHeader title="Developer" description="Credentials and webhooks for integrations with the Parley API." />
      <div className="flex flex-col gap-6">
        <TeamCard />
        <TokensCard />
        <SigningSecretCard />
        <SpeechKeysCard />
        <WebhooksCard />
        <DeliveriesCard />
      </div>
    </>
  );
}
