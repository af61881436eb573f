import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { EmptyState, ErrorState, Loading, PageHeader } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Card, CardHeader } from '@/components/ui/card';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { get } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import type { PhoneNumber, SipTrunk } from '@/lib/types';

export function PhoneNumbersPage() {
  const teamId = useTeamId();
  const numbers = useQuery({
    queryKey: [teamId, 'phone_numbers'],
    queryFn: ({ signal }) => get<{ phone_numbers: PhoneNumber[]; count: number }>('/phone_number', { limit: 50 }, { signal }),
  });
  const trunks = useQuery({
    queryKey: [teamId, 'sip_trunks'],
    queryFn: ({ signal }) => get<{ sip_trunks: SipTrunk[]; count: number }>('/sip_trunk', { limit: 50 }, { signal }),
  });
  const trunkName = (id: string | null) => trunks.data?.sip_trunks.find((t) => t.id === id)?.name ?? id ?? '—';

  return (
    <>
      <PageHeader
        title="Phone Numbers"
        description="The numbers your team calls from and answers on, and the SIP trunks that carry them. Sandbox numbers (+1 NPA 555 01xx) always ring the built-in sandbox network."
      />
      <div className="flex flex-col gap-6">
        <Card aria-labelledby="numbers-h">
          <CardHeader id="numbers-h" title="Numbers" description={numbers.data ? `${numbers.data.count} in all` : undefined} />
          {numbers.isPending ? (
            <Loading />
          ) : numbers.isError ? (
            <ErrorState error={numbers.error} onRetry={() => numbers.refetch()} />
          ) : numbers.data.phone_numbers.length === 0 ? (
            <EmptyState title="No phone numbers yet">
              Calls to sandbox numbers work without one. Add numbers with <code className="font-mono">POST /phone_number</code>.
            </EmptyState>
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
                      {n.inbound_interview_id ? (
                        <Link to="/agents/$agentId" params={{ agentId: n.inbound_interview_id }} className="text-indigo-700 hover:underline">
                          {n.inbound_interview_id}
                        </Link>
                      ) : (
                        <span className="text-slate-700">Inbound refused</span>
                      )}
                    </TD>
                    <TD>{n.default_outbound ? <Badge tone="green">Default caller id</Badge> : '—'}</TD>
                  </TR>
                ))}
              </TBody>
            </Table>
          )}
        </Card>
        <Card aria-labelledby="trunks-h">
          <CardHeader id="trunks-h" title="SIP trunks" description={trunks.data ? `${trunks.data.count} in all` : undefined} />
          {trunks.isPending ? (
            <Loading />
          ) : trunks.isError ? (
            <ErrorState error={trunks.error} onRetry={() => trunks.refetch()} />
          ) : trunks.data.sip_trunks.length === 0 ? (
            <EmptyState title="No SIP trunks">
              Connect a carrier with <code className="font-mono">POST /sip_trunk</code>.
            </EmptyState>
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
                  <TH>Created</TH>
                </TR>
              </THead>
              <TBody>
                {trunks.data.sip_trunks.map((t) => (
                  <TR key={t.id}>
                    <TD className="font-medium">{t.name}</TD>
                    <TD className="font-mono text-xs">
                      {t.host}:{t.port}
                    </TD>
                    <TD>{t.transport.toUpperCase()}</TD>
                    <TD>{t.username ? `${t.username}${t.has_password ? ' (password set)' : ''}` : 'None'}</TD>
                    <TD className="font-mono text-xs">{t.inbound_addresses.length ? t.inbound_addresses.join(', ') : `${t.host} only`}</TD>
                    <TD>{t.max_concurrent_calls ?? 'No limit'}</TD>
                    <TD className="whitespace-nowrap">{formatDateTime(t.created)}</TD>
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
