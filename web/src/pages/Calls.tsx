import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { EmptyState, ErrorState, Field, Loading, PageHeader, Pagination, StatusBadge } from '@/components/common';
import { Button } from '@/components/ui/button';
import { Input, Select } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { ApiError, get } from '@/lib/api';
import { direction, formatDateTime, formatDuration, humanize } from '@/lib/format';
import { CALL_DIRECTIONS, CALL_STATUS_VALUES, CALLS_LIMIT, callsQuery, withCallFilter, type CallsSearch } from '@/lib/search';
import { LiveBadge } from '@/components/LiveBadge';
import { useLiveCalls } from '@/lib/live';
import { useTeamId } from '@/lib/session';
import type { CallPage, InterviewPage } from '@/lib/types';
import { useDebouncedField } from '@/lib/useDebounced';

const route = getRouteApi('/_auth/calls');

/** The team's agents (the first 50 by title), for the filter and to name each call's agent. */
function useAgents() {
  const teamId = useTeamId();
  return useQuery({
    queryKey: [teamId, 'interviews', 'all-for-filter'],
    queryFn: ({ signal }) => get<InterviewPage>('/interview', { limit: 50, sort: 'title_asc' }, { signal }),
    staleTime: 60_000,
  });
}

function Filters({ search }: { search: CallsSearch }) {
  const navigate = route.useNavigate();
  const agents = useAgents();
  const set = (change: Partial<Omit<CallsSearch, 'page'>>) => navigate({ search: withCallFilter(search, change) });
  const [text, setText] = useDebouncedField(search.q ?? '', (q) =>
    navigate({ search: withCallFilter(search, { q: q || undefined }), replace: true }),
  );
  const any = search.q || search.agent || search.status || search.direction || search.from || search.to;
  return (
    <form className="mb-4 flex flex-wrap items-end gap-4" onSubmit={(e) => e.preventDefault()} aria-label="Call filters">
      <div className="w-56">
        <Field label="Search calls">
          {(id) => <Input id={id} type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Name, number or words said" />}
        </Field>
      </div>
      <div className="w-52">
        <Field label="Agent">
          {(id) => (
            <Select id={id} value={search.agent ?? ''} onChange={(e) => set({ agent: e.target.value || undefined })}>
              <option value="">All agents</option>
              {agents.data?.interviews.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.title || a.id}
                </option>
              ))}
              {search.agent && agents.data && !agents.data.interviews.some((a) => a.id === search.agent) ? (
                <option value={search.agent}>{search.agent}</option>
              ) : null}
            </Select>
          )}
        </Field>
      </div>
      <div className="w-44">
        <Field label="Status">
          {(id) => (
            <Select
              id={id}
              value={search.status ?? ''}
              onChange={(e) => set({ status: (e.target.value || undefined) as CallsSearch['status'] })}
            >
              <option value="">Any status</option>
              {CALL_STATUS_VALUES.map((s) => (
                <option key={s} value={s}>
                  {humanize(s)}
                </option>
              ))}
            </Select>
          )}
        </Field>
      </div>
      <div className="w-36">
        <Field label="Direction">
          {(id) => (
            <Select
              id={id}
              value={search.direction ?? ''}
              onChange={(e) => set({ direction: (e.target.value || undefined) as CallsSearch['direction'] })}
            >
              <option value="">Both</option>
              {CALL_DIRECTIONS.map((d) => (
                <option key={d} value={d}>
                  {humanize(d)}
                </option>
              ))}
            </Select>
          )}
        </Field>
      </div>
      <div className="w-40">
        <Field label="From day">
          {(id) => <Input id={id} type="date" value={search.from ?? ''} onChange={(e) => set({ from: e.target.value || undefined })} />}
        </Field>
      </div>
      <div className="w-40">
        <Field label="To day">
          {(id) => <Input id={id} type="date" value={search.to ?? ''} onChange={(e) => set({ to: e.target.value || undefined })} />}
        </Field>
      </div>
      {any ? (
        <Button variant="secondary" onClick={() => navigate({ search: {} })}>
          Clear filters
        </Button>
      ) : null}
    </form>
  );
}

export function CallsPage() {
  const search = route.useSearch();
  const navigate = route.useNavigate();
  const go = useNavigate();
  const teamId = useTeamId();
  const query = callsQuery(search);
  const agents = useAgents();
  const agentTitle = (id: string) => agents.data?.interviews.find((a) => a.id === id)?.title;
  const live = useLiveCalls();
  const list = useQuery({
    queryKey: [teamId, 'calls', query],
    queryFn: ({ signal }) => get<CallPage>('/call', query, { signal }),
    placeholderData: keepPreviousData,
    // Calls in progress move: the live stream updates the rows; without it, poll while one shows.
    refetchInterval: (q) =>
      !live && q.state.data?.calls.some((c) => c.status === 'NOT_STARTED' || c.status === 'IN_PROGRESS') ? 5000 : false,
  });
  // A server that does not filter by direction yet answers with both: say so rather than mislead.
  const directionIgnored =
    !!search.direction &&
    !!list.data?.calls.some((c) => (direction(c.type) === 'Inbound') !== (search.direction === 'inbound'));

  let body;
  if (list.isPending) body = <Loading />;
  else if (list.isError && list.error instanceof ApiError && list.error.status === 404)
    body = (
      <EmptyState title="The team-wide call list is not available on this server">
        This Parley server has no <code className="font-mono">GET /call</code> yet. Each agent’s page lists its recent
        calls meanwhile: open one from{' '}
        <Link to="/agents" className="text-indigo-700 underline">
          Voice Agents
        </Link>
        .
      </EmptyState>
    );
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => list.refetch()} />;
  else
    body = (
      <>
        {directionIgnored ? (
          <p role="status" className="mb-3 rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
            This server does not filter calls by direction yet: the list shows both directions.
          </p>
        ) : null}
        <Table aria-label="Calls" aria-busy={list.isFetching}>
          <THead>
            <TR>
              <TH>When</TH>
              <TH>Agent</TH>
              <TH>Contact</TH>
              <TH>Direction</TH>
              <TH>Status</TH>
              <TH>Duration</TH>
              <TH>Outcome</TH>
            </TR>
          </THead>
          <TBody>
            {list.data.calls.length === 0 ? (
              <TR>
                <TD colSpan={7} className="py-8 text-center text-slate-700">
                  No calls match these filters.
                </TD>
              </TR>
            ) : (
              list.data.calls.map((c) => (
                <TR
                  key={c.id}
                  className="cursor-pointer hover:bg-slate-50"
                  onClick={(e) => {
                    if ((e.target as HTMLElement).closest('a')) return;
                    void go({ to: '/calls/$callId', params: { callId: c.id } });
                  }}
                >
                  <TD className="whitespace-nowrap">
                    <Link to="/calls/$callId" params={{ callId: c.id }} className="font-medium text-indigo-700 hover:underline">
                      {formatDateTime(c.created)}
                    </Link>
                  </TD>
                  <TD>{c.interview.title ?? agentTitle(c.interview.id) ?? c.interview.id}</TD>
                  <TD>
                    {c.contact?.name ? <span className="block">{c.contact.name}</span> : null}
                    <span className="font-mono text-xs">{c.phone_number}</span>
                  </TD>
                  <TD>{direction(c.type)}</TD>
                  <TD>
                    <StatusBadge value={c.status} />
                  </TD>
                  <TD>{formatDuration(c.duration_ms)}</TD>
                  <TD>{c.outcome ?? '—'}</TD>
                </TR>
              ))
            )}
          </TBody>
        </Table>
        <Pagination
          page={query.page}
          limit={CALLS_LIMIT}
          shown={list.data.calls.length}
          total={list.data.total_count ?? list.data.count}
          noun="calls"
          onPage={(p) => navigate({ search: (s) => ({ ...s, page: p || undefined }) })}
        />
      </>
    );

  return (
    <>
      <PageHeader title="Calls" description="Every call of this team, newest first. Calls in progress update as they happen." actions={<LiveBadge />} />
      <Filters search={search} />
      {body}
    </>
  );
}
