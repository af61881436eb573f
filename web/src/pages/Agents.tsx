import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { EmptyState, ErrorState, Field, InlineError, Loading, PageHeader, Pagination, StatusBadge } from '@/components/common';
import { Button } from '@/components/ui/button';
import { Dialog, DialogClose, DialogContent, DialogTrigger } from '@/components/ui/dialog';
import { Input } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { get, post } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import type { Interview, InterviewPage } from '@/lib/types';
import { useDebouncedField } from '@/lib/useDebounced';

const route = getRouteApi('/_auth/agents');
const LIMIT = 20;

function CreateAgent() {
  const [open, setOpen] = useState(false);
  const [title, setTitle] = useState('');
  const navigate = useNavigate();
  const qc = useQueryClient();
  const teamId = useTeamId();
  const create = useMutation({
    mutationFn: (t: string) => post<Interview>('/interview/create', { title: t }),
    onSuccess: async (agent) => {
      await qc.invalidateQueries({ queryKey: [teamId, 'interviews'] });
      setOpen(false);
      setTitle('');
      await navigate({ to: '/agents/$agentId', params: { agentId: agent.id } });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (title.trim()) create.mutate(title.trim());
  };
  return (
    <Dialog open={open} onOpenChange={(o) => { setOpen(o); if (!o) create.reset(); }}>
      <DialogTrigger asChild>
        <Button>New agent</Button>
      </DialogTrigger>
      <DialogContent title="New voice agent" description="Give it a title; its flow starts minimal and can be edited later.">
        <form onSubmit={submit} className="flex flex-col gap-4">
          <Field label="Title">
            {(id) => <Input id={id} value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} required autoFocus />}
          </Field>
          <InlineError error={create.error} />
          <div className="flex justify-end gap-2">
            <DialogClose asChild>
              <Button variant="secondary">Cancel</Button>
            </DialogClose>
            <Button type="submit" disabled={!title.trim() || create.isPending}>
              {create.isPending ? 'Creating…' : 'Create agent'}
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

export function AgentsPage() {
  const search = route.useSearch();
  const navigate = route.useNavigate();
  const teamId = useTeamId();
  const qc = useQueryClient();
  const page = search.page ?? 0;
  const status = search.archived ? 'ARCHIVED' : 'ACTIVE';
  const [text, setText] = useDebouncedField(search.q ?? '', (q) =>
    navigate({ search: (s) => ({ ...s, q: q || undefined, page: undefined }), replace: true }),
  );
  const list = useQuery({
    queryKey: [teamId, 'interviews', { q: search.q, status, page }],
    queryFn: ({ signal }) =>
      get<InterviewPage>('/interview', { search: search.q, status, page, limit: LIMIT, sort: 'created_desc' }, { signal }),
    placeholderData: keepPreviousData,
  });
  const toggle = useMutation({
    mutationFn: (id: string) => post<Interview>(`/interview/${encodeURIComponent(id)}/toggle_archive`),
    onSuccess: () => qc.invalidateQueries({ queryKey: [teamId, 'interviews'] }),
  });

  return (
    <>
      <PageHeader title="Voice Agents" description="The agents that place and answer your calls." actions={<CreateAgent />} />
      <div className="mb-4 flex flex-wrap items-end gap-4">
        <div className="w-80">
          <Field label="Search agents">
            {(id) => <Input id={id} type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Title" />}
          </Field>
        </div>
        <label className="flex h-9 items-center gap-2 text-sm text-slate-800">
          <input
            type="checkbox"
            className="size-4 accent-indigo-700"
            checked={!!search.archived}
            onChange={(e) => navigate({ search: (s) => ({ ...s, archived: e.target.checked || undefined, page: undefined }) })}
          />
          Show archived agents
        </label>
      </div>
      <InlineError error={toggle.error} />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.interviews.length === 0 ? (
        <EmptyState title={search.q ? 'No agent matches this search' : search.archived ? 'No archived agents' : 'No agents yet'}>
          {!search.q && !search.archived ? 'Create one with “New agent”.' : null}
        </EmptyState>
      ) : (
        <>
          <Table aria-label="Voice agents">
            <THead>
              <TR>
                <TH>Title</TH>
                <TH>Agent name</TH>
                <TH>Language</TH>
                <TH>Status</TH>
                <TH>Created</TH>
                <TH>
                  <span className="sr-only">Actions</span>
                </TH>
              </TR>
            </THead>
            <TBody>
              {list.data.interviews.map((a) => (
                <TR key={a.id}>
                  <TD>
                    <Link to="/agents/$agentId" params={{ agentId: a.id }} className="font-medium text-indigo-700 hover:underline">
                      {a.title || a.id}
                    </Link>
                  </TD>
                  <TD>{a.ai_name}</TD>
                  <TD>{a.lang}</TD>
                  <TD>
                    <StatusBadge value={a.status} />
                  </TD>
                  <TD className="whitespace-nowrap">{formatDateTime(a.created)}</TD>
                  <TD className="text-right">
                    <Button
                      variant="secondary"
                      size="sm"
                      disabled={toggle.isPending && toggle.variables === a.id}
                      onClick={() => toggle.mutate(a.id)}
                      aria-label={`${a.status === 'ARCHIVED' ? 'Restore' : 'Archive'} ${a.title}`}
                    >
                      {a.status === 'ARCHIVED' ? 'Restore' : 'Archive'}
                    </Button>
                  </TD>
                </TR>
              ))}
            </TBody>
          </Table>
          <Pagination
            page={page}
            limit={LIMIT}
            shown={list.data.interviews.length}
            total={list.data.count}
            noun="agents"
            onPage={(p) => navigate({ search: (s) => ({ ...s, page: p || undefined }) })}
          />
        </>
      )}
    </>
  );
}
