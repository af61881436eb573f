// Phone numbers and SIP trunks (API.md "Phone numbers and SIP trunks"): list, add, bind a number
// to the agent that answers it, delete; trunks added, edited and deleted (a trunk in use is a
// 409 whose message says which number holds it). Secrets are write-only: a trunk's password and
// a Twilio auth token are sent, never shown.
//
// A sandbox number is bound to an agent through the team's sandbox list (`POST /sandbox/numbers`),
// not through `inbound_interview_id` (the server refuses that for the sandbox network): the page
// does that for the person and shows the binding from `GET /sandbox/numbers`.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { EmptyState, ErrorState, Field, InlineError, Loading, PageHeader } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card, CardHeader } from '@/components/ui/card';
import { Dialog, DialogClose, DialogContent } from '@/components/ui/dialog';
import { Input, Select, Textarea } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { del, errorMessage, get, post } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import type { InterviewPage, PhoneNumber, SipTrunk } from '@/lib/types';

interface SandboxBinding {
  phone_number: string;
  interview_id: string | null;
  persona_id: string | null;
}

/** `+1 NPA 555 01xx`: the built-in personas' range (cannot be bound to an agent). */
export const isBuiltinSandbox = (n: string) => /^\+1[2-9]\d{2}55501\d{2}$/.test(n.replace(/[\s().-]/g, ''));

function usePhoneData() {
  const teamId = useTeamId();
  const numbers = useQuery({
    queryKey: [teamId, 'phone_numbers'],
    queryFn: ({ signal }) => get<{ phone_numbers: PhoneNumber[]; count: number }>('/phone_number', { limit: 50 }, { signal }),
  });
  const trunks = useQuery({
    queryKey: [teamId, 'sip_trunks'],
    queryFn: ({ signal }) => get<{ sip_trunks: SipTrunk[]; count: number }>('/sip_trunk', { limit: 50 }, { signal }),
  });
  const sandbox = useQuery({
    queryKey: [teamId, 'sandbox_numbers'],
    queryFn: ({ signal }) => get<{ numbers: SandboxBinding[]; count: number }>('/sandbox/numbers', undefined, { signal }),
  });
  const agents = useQuery({
    queryKey: [teamId, 'interviews', 'all-for-filter'],
    queryFn: ({ signal }) => get<InterviewPage>('/interview', { limit: 50, sort: 'title_asc' }, { signal }),
    staleTime: 60_000,
  });
  return { numbers, trunks, sandbox, agents };
}

function useInvalidate() {
  const qc = useQueryClient();
  const teamId = useTeamId();
  return () =>
    Promise.all([
      qc.invalidateQueries({ queryKey: [teamId, 'phone_numbers'] }),
      qc.invalidateQueries({ queryKey: [teamId, 'sip_trunks'] }),
      qc.invalidateQueries({ queryKey: [teamId, 'sandbox_numbers'] }),
    ]);
}

function AgentOptions({ agents }: { agents: InterviewPage | undefined }) {
  return (
    <>
      <option value="">No agent: refuse calls</option>
      {agents?.interviews
        .filter((a) => a.status === 'ACTIVE')
        .map((a) => (
          <option key={a.id} value={a.id}>
            {a.title || a.id}
          </option>
        ))}
    </>
  );
}

// ---- Numbers ----------------------------------------------------------------------------------

interface NumberForm {
  phone_number: string;
  network: PhoneNumber['network'];
  sip_trunk_id: string;
  account_sid: string;
  auth_token: string;
  inbound_interview_id: string;
  label: string;
  default_outbound: boolean;
}

const emptyNumber: NumberForm = {
  phone_number: '',
  network: 'sandbox',
  sip_trunk_id: '',
  account_sid: '',
  auth_token: '',
  inbound_interview_id: '',
  label: '',
  default_outbound: false,
};

function AddNumber({ trunks, agents }: { trunks: SipTrunk[]; agents: InterviewPage | undefined }) {
  const [open, setOpen] = useState(false);
  const [f, setF] = useState<NumberForm>(emptyNumber);
  const invalidate = useInvalidate();
  const add = useMutation({
    mutationFn: async (f: NumberForm) => {
      const phone = f.phone_number.trim();
      if (f.network === 'sandbox' && f.inbound_interview_id) {
        await post('/sandbox/numbers', { phone_number: phone, interview_id: f.inbound_interview_id });
      }
      return post<PhoneNumber>('/phone_number', {
        phone_number: phone,
        network: f.network,
        sip_trunk_id: f.network === 'sip' ? f.sip_trunk_id || undefined : undefined,
        twilio: f.network === 'twilio' ? { account_sid: f.account_sid.trim(), auth_token: f.auth_token } : undefined,
        inbound_interview_id: f.network !== 'sandbox' && f.inbound_interview_id ? f.inbound_interview_id : undefined,
        label: f.label.trim() || undefined,
        default_outbound: f.default_outbound,
      });
    },
    onSuccess: async () => {
      await invalidate();
      setOpen(false);
      setF(emptyNumber);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(f);
  };
  const builtin = f.network === 'sandbox' && isBuiltinSandbox(f.phone_number) && !!f.inbound_interview_id;
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (!o) add.reset();
      }}
    >
      <Button size="sm" onClick={() => setOpen(true)}>
        Add number
      </Button>
      <DialogContent title="Add a phone number" description="A number your team owns, the network that carries it and the agent that answers it.">
        <form onSubmit={submit} className="flex flex-col gap-4">
          <Field label="Network">
            {(id) => (
              <Select id={id} value={f.network} onChange={(e) => setF({ ...f, network: e.target.value as NumberForm['network'] })}>
                <option value="sandbox">Sandbox (fictional numbers, no carrier)</option>
                <option value="sip">SIP trunk</option>
                <option value="twilio">Twilio</option>
              </Select>
            )}
          </Field>
          <Field
            label="Phone number"
            hint={
              f.network === 'sandbox'
                ? 'A fictional number, e.g. +12025550200. The range +1 NPA 555 01xx is the built-in personas’: it cannot answer for an agent.'
                : 'E.164: + and the country code.'
            }
          >
            {(id, hintId) => (
              <Input
                id={id}
                type="tel"
                required
                aria-describedby={hintId}
                aria-invalid={builtin || undefined}
                value={f.phone_number}
                onChange={(e) => setF({ ...f, phone_number: e.target.value })}
                placeholder={f.network === 'sandbox' ? '+12025550200' : '+14155550123'}
              />
            )}
          </Field>
          {f.network === 'sip' ? (
            <Field label="SIP trunk" hint={trunks.length ? undefined : 'Add a SIP trunk first (below).'}>
              {(id, hintId) => (
                <Select id={id} required aria-describedby={hintId} value={f.sip_trunk_id} onChange={(e) => setF({ ...f, sip_trunk_id: e.target.value })}>
                  <option value="">Choose a trunk</option>
                  {trunks.map((t) => (
                    <option key={t.id} value={t.id}>
                      {t.name} ({t.host})
                    </option>
                  ))}
                </Select>
              )}
            </Field>
          ) : null}
          {f.network === 'twilio' ? (
            <>
              <Field label="Twilio account SID" hint="AC followed by 32 hexadecimal digits.">
                {(id, hintId) => (
                  <Input id={id} required aria-describedby={hintId} autoComplete="off" value={f.account_sid} onChange={(e) => setF({ ...f, account_sid: e.target.value })} />
                )}
              </Field>
              <Field label="Twilio auth token" hint="Stored encrypted; never shown again.">
                {(id, hintId) => (
                  <Input
                    id={id}
                    type="password"
                    required
                    aria-describedby={hintId}
                    autoComplete="new-password"
                    value={f.auth_token}
                    onChange={(e) => setF({ ...f, auth_token: e.target.value })}
                  />
                )}
              </Field>
            </>
          ) : null}
          <Field label="Answered by" hint="The voice agent that answers calls to this number.">
            {(id, hintId) => (
              <Select id={id} aria-describedby={hintId} value={f.inbound_interview_id} onChange={(e) => setF({ ...f, inbound_interview_id: e.target.value })}>
                <AgentOptions agents={agents} />
              </Select>
            )}
          </Field>
          <Field label="Label">
            {(id) => <Input id={id} value={f.label} onChange={(e) => setF({ ...f, label: e.target.value })} placeholder="Main line" />}
          </Field>
          <label className="flex items-center gap-2 text-sm text-slate-900">
            <input type="checkbox" checked={f.default_outbound} onChange={(e) => setF({ ...f, default_outbound: e.target.checked })} className="size-4" />
            Use as the caller id of this team’s outbound calls
          </label>
          {builtin ? (
            <p role="alert" className="text-sm text-red-800">
              This number is in the built-in persona range (+1 NPA 555 01xx): pick another fictional number to bind it to an agent.
            </p>
          ) : null}
          <InlineError error={add.error} />
          <div className="flex justify-end gap-2">
            <DialogClose asChild>
              <Button variant="secondary">Cancel</Button>
            </DialogClose>
            <Button type="submit" disabled={!f.phone_number.trim() || add.isPending || builtin}>
              {add.isPending ? 'Adding…' : 'Add number'}
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

function BindAgent({ n, current, agents }: { n: PhoneNumber; current: string | null; agents: InterviewPage | undefined }) {
  const invalidate = useInvalidate();
  const bind = useMutation({
    mutationFn: async (agentId: string) => {
      if (n.network === 'sandbox') {
        if (agentId) return post('/sandbox/numbers', { phone_number: n.phone_number, interview_id: agentId });
        return del('/sandbox/numbers', { phone_number: n.phone_number });
      }
      return post<PhoneNumber>(`/phone_number/${n.id}/update`, { inbound_interview_id: agentId });
    },
    onSettled: () => invalidate(),
  });
  const known = !current || agents?.interviews.some((a) => a.id === current);
  return (
    <div className="flex flex-col gap-1">
      <Select
        aria-label={`Agent answering ${n.phone_number}`}
        className="w-52"
        value={current ?? ''}
        disabled={bind.isPending}
        onChange={(e) => bind.mutate(e.target.value)}
      >
        <AgentOptions agents={agents} />
        {!known && current ? <option value={current}>{current}</option> : null}
      </Select>
      {current ? (
        <Link to="/agents/$agentId" params={{ agentId: current }} className="text-xs text-indigo-700 hover:underline">
          Open agent
        </Link>
      ) : null}
      <InlineError error={bind.error} />
    </div>
  );
}

function ConfirmDelete({
  title,
  description,
  action,
  onDelete,
}: {
  title: string;
  description: string;
  action: string;
  onDelete: () => Promise<unknown>;
}) {
  const [open, setOpen] = useState(false);
  const remove = useMutation({ mutationFn: onDelete, onSuccess: () => setOpen(false) });
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (!o) remove.reset();
      }}
    >
      <Button variant="ghost" size="sm" className="text-red-800" onClick={() => setOpen(true)} aria-label={action}>
        Delete
      </Button>
      <DialogContent title={title} description={description}>
        {remove.error ? (
          <p role="alert" className="mb-3 rounded border border-red-300 bg-red-50 p-2 text-sm text-red-900">
            {errorMessage(remove.error)}
          </p>
        ) : null}
        <div className="flex justify-end gap-2">
          <DialogClose asChild>
            <Button variant="secondary">Cancel</Button>
          </DialogClose>
          <Button variant="danger" disabled={remove.isPending} onClick={() => remove.mutate()}>
            {remove.isPending ? 'Deleting…' : 'Delete'}
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}

// ---- Trunks -----------------------------------------------------------------------------------

interface TrunkForm {
  name: string;
  host: string;
  port: string;
  transport: SipTrunk['transport'];
  username: string;
  password: string;
  from_domain: string;
  inbound_addresses: string;
  max_concurrent_calls: string;
}

const trunkForm = (t?: SipTrunk): TrunkForm => ({
  name: t?.name ?? '',
  host: t?.host ?? '',
  port: String(t?.port ?? 5060),
  transport: t?.transport ?? 'udp',
  username: t?.username ?? '',
  password: '',
  from_domain: t?.from_domain ?? '',
  inbound_addresses: (t?.inbound_addresses ?? []).join('\n'),
  max_concurrent_calls: t?.max_concurrent_calls != null ? String(t.max_concurrent_calls) : '',
});

/** The body of `POST /sip_trunk` (or its update) from the form; an empty password keeps the stored one. */
export function trunkBody(f: TrunkForm): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: f.name.trim(),
    host: f.host.trim(),
    port: Number(f.port) || 5060,
    transport: f.transport,
    username: f.username.trim() || null,
    from_domain: f.from_domain.trim() || null,
    inbound_addresses: f.inbound_addresses
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean),
    max_concurrent_calls: f.max_concurrent_calls.trim() ? Number(f.max_concurrent_calls) : null,
  };
  if (f.password) body.password = f.password;
  return body;
}

function TrunkDialog({ trunk }: { trunk?: SipTrunk }) {
  const [open, setOpen] = useState(false);
  const [f, setF] = useState<TrunkForm>(() => trunkForm(trunk));
  const invalidate = useInvalidate();
  const save = useMutation({
    mutationFn: (f: TrunkForm) => post<SipTrunk>(trunk ? `/sip_trunk/${trunk.id}/update` : '/sip_trunk', trunkBody(f)),
    onSuccess: async () => {
      await invalidate();
      setOpen(false);
    },
  });
  const text = (key: keyof TrunkForm, label: string, extra: Record<string, unknown> = {}, hint?: string) => (
    <Field label={label} hint={hint}>
      {(id, hintId) => (
        <Input id={id} aria-describedby={hintId} value={f[key]} onChange={(e) => setF({ ...f, [key]: e.target.value })} {...extra} />
      )}
    </Field>
  );
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (o) setF(trunkForm(trunk));
        else save.reset();
      }}
    >
      {trunk ? (
        <Button variant="secondary" size="sm" onClick={() => setOpen(true)} aria-label={`Edit trunk ${trunk.name}`}>
          Edit
        </Button>
      ) : (
        <Button size="sm" onClick={() => setOpen(true)}>
          Add SIP trunk
        </Button>
      )}
      <DialogContent title={trunk ? `Edit trunk ${trunk.name}` : 'Add a SIP trunk'} description="Your carrier’s SIP endpoint; the password is used for digest authentication and never shown again.">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate(f);
          }}
          className="flex flex-col gap-4"
        >
          {text('name', 'Name', { required: true })}
          <div className="grid grid-cols-[1fr_6rem_7rem] gap-3">
            {text('host', 'Host', { required: true, placeholder: 'sip.carrier.example' })}
            {text('port', 'Port', { type: 'number', min: 1, max: 65535 })}
            <Field label="Transport">
              {(id) => (
                <Select id={id} value={f.transport} onChange={(e) => setF({ ...f, transport: e.target.value as TrunkForm['transport'] })}>
                  <option value="udp">UDP</option>
                  <option value="tcp">TCP</option>
                  <option value="tls">TLS</option>
                </Select>
              )}
            </Field>
          </div>
          <div className="grid grid-cols-2 gap-3">
            {text('username', 'Username', { autoComplete: 'off' })}
            {text(
              'password',
              'Password',
              { type: 'password', autoComplete: 'new-password' },
              trunk?.has_password ? 'Set; leave empty to keep it.' : 'Write-only.',
            )}
          </div>
          {text('from_domain', 'From domain', { placeholder: 'Optional' })}
          <Field label="Inbound addresses" hint="CIDRs allowed to send calls in, one per line; empty means the host only.">
            {(id, hintId) => (
              <Textarea id={id} aria-describedby={hintId} rows={2} value={f.inbound_addresses} onChange={(e) => setF({ ...f, inbound_addresses: e.target.value })} />
            )}
          </Field>
          {text('max_concurrent_calls', 'Max concurrent calls', { type: 'number', min: 1, placeholder: 'No limit' })}
          <InlineError error={save.error} />
          <div className="flex justify-end gap-2">
            <DialogClose asChild>
              <Button variant="secondary">Cancel</Button>
            </DialogClose>
            <Button type="submit" disabled={!f.name.trim() || !f.host.trim() || save.isPending}>
              {save.isPending ? 'Saving…' : trunk ? 'Save trunk' : 'Add trunk'}
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

// ---- The page ---------------------------------------------------------------------------------

export function PhoneNumbersPage() {
  const { numbers, trunks, sandbox, agents } = usePhoneData();
  const invalidate = useInvalidate();
  const trunkName = (id: string | null) => trunks.data?.sip_trunks.find((t) => t.id === id)?.name ?? id ?? '—';
  const answeredBy = (n: PhoneNumber) =>
    n.network === 'sandbox' ? (sandbox.data?.numbers.find((s) => s.phone_number === n.phone_number)?.interview_id ?? null) : n.inbound_interview_id;

  return (
    <>
      <PageHeader
        title="Phone Numbers"
        description="The numbers your team calls from and answers on, and the SIP trunks that carry them. Sandbox numbers (+1 NPA 555 01xx) always ring the built-in sandbox network."
      />
      <div className="flex flex-col gap-6">
        <Card aria-labelledby="numbers-h">
          <CardHeader
            id="numbers-h"
            title="Numbers"
            description={numbers.data ? `${numbers.data.count} in all` : undefined}
            actions={<AddNumber trunks={trunks.data?.sip_trunks ?? []} agents={agents.data} />}
          />
          {numbers.isPending ? (
            <Loading />
          ) : numbers.isError ? (
            <ErrorState error={numbers.error} onRetry={() => numbers.refetch()} />
          ) : numbers.data.phone_numbers.length === 0 ? (
            <EmptyState title="No phone numbers yet">Calls to sandbox numbers work without one. Add a number to answer calls with an agent.</EmptyState>
          ) : (
            <Table aria-label="Phone numbers">
              <THead>
                <TR>
                  <TH>Number</TH>
                  <TH>Label</TH>
                  <TH>Network</TH>
                  <TH>Carried by</TH>
                  <TH>Answered by</TH>
                  <TH>Outbound</TH>
                  <TH>
                    <span className="sr-only">Actions</span>
                  </TH>
                </TR>
              </THead>
              <TBody>
                {numbers.data.phone_numbers.map((n) => (
                  <TR key={n.id}>
                    <TD className="font-mono whitespace-nowrap">{n.phone_number}</TD>
                    <TD>{n.label || '—'}</TD>
                    <TD>
                      <Badge tone="blue">{n.network}</Badge>
                    </TD>
                    <TD>
                      {n.network === 'sip' ? trunkName(n.sip_trunk_id) : n.network === 'twilio' ? `Twilio ${n.twilio?.account_sid ?? ''}` : 'Sandbox'}
                    </TD>
                    <TD>
                      <BindAgent n={n} current={answeredBy(n)} agents={agents.data} />
                    </TD>
                    <TD>{n.default_outbound ? <Badge tone="green">Default caller id</Badge> : '—'}</TD>
                    <TD className="text-right">
                      <ConfirmDelete
                        title={`Delete ${n.phone_number}?`}
                        description="Calls to it are refused from now on; past calls keep their record."
                        action={`Delete number ${n.phone_number}`}
                        onDelete={async () => {
                          await del(`/phone_number/${n.id}`);
                          if (n.network === 'sandbox' && answeredBy(n)) await del('/sandbox/numbers', { phone_number: n.phone_number }).catch(() => {});
                          await invalidate();
                        }}
                      />
                    </TD>
                  </TR>
                ))}
              </TBody>
            </Table>
          )}
        </Card>
        <Card aria-labelledby="trunks-h">
          <CardHeader id="trunks-h" title="SIP trunks" description={trunks.data ? `${trunks.data.count} in all` : undefined} actions={<TrunkDialog />} />
          {trunks.isPending ? (
            <Loading />
          ) : trunks.isError ? (
            <ErrorState error={trunks.error} onRetry={() => trunks.refetch()} />
          ) : trunks.data.sip_trunks.length === 0 ? (
            <EmptyState title="No SIP trunks">Connect a carrier with “Add SIP trunk”.</EmptyState>
          ) : (
            <Table aria-label="SIP trunks">
              <THead>
                <TR>
                  <TH>Name</TH>
                  <TH>Host</TH>
                  <TH>Transport</TH>
                  <TH>Auth</TH>
                  <TH>Inbound from</TH>
                  <TH>Call limit</TH>
                  <TH>
                    <span className="sr-only">Actions</span>
                  </TH>
                </TR>
              </THead>
              <TBody>
                {trunks.data.sip_trunks.map((t) => (
                  <TR key={t.id}>
                    <TD className="font-medium">
                      {t.name}
                      <span className="block text-xs font-normal text-slate-700">added {formatDateTime(t.created)}</span>
                    </TD>
                    <TD className="font-mono text-xs">
                      {t.host}:{t.port}
                    </TD>
                    <TD>{t.transport.toUpperCase()}</TD>
                    <TD>
                      {t.username ? (
                        <>
                          {t.username}
                          {t.has_password ? <span className="block text-xs text-slate-700">password set</span> : null}
                        </>
                      ) : (
                        'None'
                      )}
                    </TD>
                    <TD className="font-mono text-xs">{t.inbound_addresses.length ? t.inbound_addresses.join(', ') : `${t.host} only`}</TD>
                    <TD>{t.max_concurrent_calls ?? 'No limit'}</TD>
                    <TD className="text-right whitespace-nowrap">
                      <TrunkDialog trunk={t} />{' '}
                      <ConfirmDelete
                        title={`Delete trunk ${t.name}?`}
                        description="A trunk that still carries a number cannot be deleted: move or delete the number first."
                        action={`Delete trunk ${t.name}`}
                        onDelete={async () => {
                          await del(`/sip_trunk/${t.id}`);
                          await invalidate();
                        }}
                      />
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
