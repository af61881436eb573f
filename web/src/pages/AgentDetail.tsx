import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { DefinitionList, EmptyState, ErrorState, Loading, PageHeader, StatusBadge } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Card, CardHeader } from '@/components/ui/card';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { get } from '@/lib/api';
import { formatDateTime, formatDuration } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import type { Call, FlowEdge, FlowNode, Interview } from '@/lib/types';

const route = getRouteApi('/_auth/agents/$agentId');

/** One line saying what a node does (API.md "Flow node data"). */
export function nodeSummary(n: FlowNode): string {
  const d = n.data ?? {};
  const s = (k: string) => (typeof d[k] === 'string' ? (d[k] as string) : '');
  switch (n.type) {
    case 'start':
      return 'Call starts';
    case 'speak':
      return s('message') ? `Says: “${s('message')}”` : s('prompt') ? `Prompt: ${s('prompt')}` : 'Speaks';
    case 'question': {
      const kind = s('kind') || 'text';
      return `Asks: “${s('question')}” → {{variables.${s('variable')}}} (${kind.replace('_', '/')})`;
    }
    case 'branch': {
      const c = Array.isArray(d.conditions) ? d.conditions.length : 0;
      return `Branches on ${c} condition${c === 1 ? '' : 's'}`;
    }
    case 'transfer':
      return `Transfers to ${s('phone_number')}`;
    case 'webhook':
      return `${(s('method') || 'POST').toUpperCase()} ${s('url')}`;
    case 'end':
      return s('outcome') ? `Ends with outcome “${s('outcome')}”` : 'Ends the call';
    default:
      return '';
  }
}

function outgoing(edges: FlowEdge[], nodeId: string, nodes: FlowNode[]): string {
  const out = edges.filter((e) => e.source === nodeId);
  if (out.length === 0) return '—';
  return out
    .map((e) => {
      const target = nodes.find((n) => n.id === e.target);
      return `${e.sourceHandle ?? 'next'} → ${target ? `${target.type} ${target.id}` : e.target}`;
    })
    .join(', ');
}

export function AgentDetailPage() {
  const { agentId } = route.useParams();
  const teamId = useTeamId();
  const agent = useQuery({
    queryKey: [teamId, 'interview', agentId],
    queryFn: ({ signal }) => get<Interview>(`/interview/${encodeURIComponent(agentId)}`, undefined, { signal }),
  });
  const calls = useQuery({
    queryKey: [teamId, 'interview', agentId, 'responses'],
    queryFn: ({ signal }) =>
      get<{ responses: Call[]; count: number }>(`/interview/${encodeURIComponent(agentId)}/responses`, { limit: 10 }, { signal }),
  });

  if (agent.isPending) return <Loading />;
  if (agent.isError)
    return (
      <>
        <PageHeader title="Voice agent" />
        <ErrorState error={agent.error} title="Could not load this agent" />
      </>
    );
  const a = agent.data;
  const nodes = a.flow?.nodes ?? [];
  const edges = a.flow?.edges ?? [];
  return (
    <>
      <p className="mb-2 text-sm">
        <Link to="/agents" className="text-indigo-700 hover:underline">
          ← Voice Agents
        </Link>
      </p>
      <PageHeader
        title={a.title || a.id}
        description={
          <>
            Agent id <code className="font-mono">{a.id}</code> · version {a.version}
          </>
        }
        actions={<StatusBadge value={a.status} />}
      />
      <div className="grid gap-6">
        <Card aria-labelledby="settings-h">
          <CardHeader id="settings-h" title="Settings" description="Read-only here for now; agents are edited through the API (POST /interview/{id}/update)." />
          <DefinitionList
            items={[
              ['Agent name', a.ai_name],
              ['Language', a.lang],
              ['Records calls', a.should_record ? 'Yes' : 'No'],
              ['Leaves voicemail', a.should_leave_voicemail ? 'Yes' : 'No'],
              ['Voicemail message', a.voicemail_message || '—'],
              ['Silence timeout', a.silence_timeout_ms !== undefined ? `${a.silence_timeout_ms / 1000} s` : '—'],
              ['Re-prompts after silence', a.silence_reprompts ?? '—'],
              [
                'Response tags',
                a.response_tags.length ? (
                  <span className="flex flex-wrap gap-1">
                    {a.response_tags.map((t) => (
                      <Badge key={t}>{t}</Badge>
                    ))}
                  </span>
                ) : (
                  '—'
                ),
              ],
              ['Created', formatDateTime(a.created)],
              ['Updated', formatDateTime(a.updated)],
            ]}
          />
        </Card>
        <Card aria-labelledby="flow-h">
          <CardHeader id="flow-h" title="Flow" description={`${nodes.length} nodes, ${edges.length} connections. The visual flow editor comes in a later release.`} />
          {nodes.length === 0 ? (
            <EmptyState title="The flow has no nodes" />
          ) : (
            <Table aria-label="Flow nodes">
              <THead>
                <TR>
                  <TH>Node</TH>
                  <TH>Type</TH>
                  <TH>What it does</TH>
                  <TH>Goes to</TH>
                </TR>
              </THead>
              <TBody>
                {nodes.map((n) => (
                  <TR key={n.id}>
                    <TD className="font-mono text-xs">{n.id}</TD>
                    <TD>
                      <Badge tone="blue">{n.type}</Badge>
                    </TD>
                    <TD className="max-w-md break-words">{nodeSummary(n)}</TD>
                    <TD className="text-xs text-slate-700">{outgoing(edges, n.id, nodes)}</TD>
                  </TR>
                ))}
              </TBody>
            </Table>
          )}
        </Card>
        <Card aria-labelledby="calls-h">
          <CardHeader
            id="calls-h"
            title="Recent calls"
            actions={
              <Link to="/calls" search={{ agent: a.id }} className="text-sm text-indigo-700 hover:underline">
                All calls of this agent
              </Link>
            }
          />
          {calls.isPending ? (
            <Loading />
          ) : calls.isError ? (
            <ErrorState error={calls.error} />
          ) : calls.data.responses.length === 0 ? (
            <EmptyState title="No calls yet" />
          ) : (
            <Table aria-label="Recent calls">
              <THead>
                <TR>
                  <TH>When</TH>
                  <TH>Number</TH>
                  <TH>Status</TH>
                  <TH>Duration</TH>
                  <TH>Outcome</TH>
                </TR>
              </THead>
              <TBody>
                {calls.data.responses.map((c) => (
                  <TR key={c.id}>
                    <TD>
                      <Link to="/calls/$callId" params={{ callId: c.id }} className="text-indigo-700 hover:underline">
                        {formatDateTime(c.created)}
                      </Link>
                    </TD>
                    <TD className="font-mono text-xs">{c.phone_number}</TD>
                    <TD>
                      <StatusBadge value={c.status} />
                    </TD>
                    <TD>{formatDuration(c.duration_ms)}</TD>
                    <TD>{c.outcome ?? '—'}</TD>
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
