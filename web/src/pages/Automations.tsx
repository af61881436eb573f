import { useQuery } from '@tanstack/react-query';
import { EmptyState, ErrorState, Loading, PageHeader } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { get } from '@/lib/api';
import { formatDateTime, humanize } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import type { Automation } from '@/lib/types';

export function AutomationsPage() {
  const teamId = useTeamId();
  const list = useQuery({
    queryKey: [teamId, 'automations'],
    queryFn: ({ signal }) => get<Automation[]>('/automation', undefined, { signal }),
  });
  return (
    <>
      <PageHeader
        title="Automations"
        description="Triggers and the steps they run. The visual builder is not built yet: automations are created and edited through the API (POST /automation)."
      />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.length === 0 ? (
        <EmptyState title="No automations yet" />
      ) : (
        <Table aria-label="Automations">
          <THead>
            <TR>
              <TH>Name</TH>
              <TH>Mode</TH>
              <TH>Trigger</TH>
              <TH>Steps</TH>
              <TH>Webhook URL</TH>
              <TH>Version</TH>
              <TH>Updated</TH>
            </TR>
          </THead>
          <TBody>
            {list.data.map((a) => (
              <TR key={a.id}>
                <TD className="font-medium">{a.name}</TD>
                <TD>
                  <Badge tone={a.mode === 'live' ? 'green' : 'neutral'}>{humanize(a.mode ?? 'draft')}</Badge>
                </TD>
                <TD>{humanize(a.trigger?.type)}</TD>
                <TD>{a.steps?.length ?? 0}</TD>
                <TD className="font-mono text-xs">{a.webhook_path ?? '—'}</TD>
                <TD>{a.version}</TD>
                <TD className="whitespace-nowrap">{formatDateTime(a.updated)}</TD>
              </TR>
            ))}
          </TBody>
        </Table>
      )}
    </>
  );
}
