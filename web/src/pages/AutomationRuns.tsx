import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { useState, type ReactNode } from 'react';
import { DefinitionList, ErrorState, InlineError, Loading, PageHeader } from '@/components/common';
import { Badge, type Tone } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card, CardHeader } from '@/components/ui/card';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { isFinalRun, stepKind, type AutomationRecord, type Run, type RunStep } from '@/automation/model';
import { get, post } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import { useTeamId } from '@/lib/session';

const LIMIT = 25;

const runTones: Record<string, Tone> = {
  running: 'blue',
  waiting: 'amber',
  completed: 'green',
  failed: 'red',
  canceled: 'neutral',
  done: 'green',
  skipped: 'neutral',
};

export function RunStatus({ status }: { status: string }) {
  return <Badge tone={runTones[status] ?? 'neutral'}>{status.replace(/_/g, ' ')}</Badge>;
}

/** 1234 -> "1.23 s"; 95_000 -> "1 min 35 s". */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}

const runDuration = (r: Run) => (r.finished ? new Date(r.finished).getTime() - new Date(r.created).getTime() : null);

function useAutomation(id: string) {
  const teamId = useTeamId();
  return useQuery({
    queryKey: [teamId, 'automation', id],
    queryFn: ({ signal }) => get<AutomationRecord>(`/automation/${id}`, undefined, { signal }),
  });
}

export function AutomationRunsPage() {
  const { automationId } = useParams({ strict: false }) as { automationId: string };
  const teamId = useTeamId();
  const [page, setPage] = useState(0);
  const automation = useAutomation(automationId);
  const runs = useQuery({
    queryKey: [teamId, 'automation-runs', automationId, page],
    queryFn: ({ signal }) => get<Run[]>(`/automation/${automationId}/runs`, { page, limit: LIMIT }, { signal }),
    placeholderData: keepPreviousData,
    // Runs in flight change on their own.
    refetchInterval: (q) => (q.state.data?.some((r) => !isFinalRun(r.status)) ? 3000 : false),
  });
  const name = automation.data?.name ?? 'Automation';
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/automations" className="text-indigo-700 underline">
          Automations
        </Link>{' '}
        /{' '}
        <Link to="/automations/$automationId" params={{ automationId }} className="text-indigo-700 underline">
          {name}
        </Link>
      </nav>
      <PageHeader
        title={`Runs of ${name}`}
        description="Newest first. A run keeps the version of the automation it started with."
        actions={
          <Button variant="secondary" onClick={() => runs.refetch()} disabled={runs.isFetching}>
            Refresh
          </Button>
        }
      />
      {runs.isPending ? (
        <Loading />
      ) : runs.isError ? (
        <ErrorState error={runs.error} onRetry={() => runs.refetch()} />
      ) : (
        <>
          <Table aria-label="Runs" aria-busy={runs.isFetching}>
            <THead>
              <TR>
                <TH>Run</TH>
                <TH>Status</TH>
                <TH>Trigger</TH>
                <TH>Started</TH>
                <TH>Finished</TH>
                <TH>Duration</TH>
                <TH>Version</TH>
                <TH>Error</TH>
              </TR>
            </THead>
            <TBody>
              {runs.data.length === 0 ? (
                <TR>
                  <TD colSpan={8} className="py-8 text-center text-slate-700">
                    {page > 0 ? 'No runs on this page.' : 'No runs yet. A Live automation starts one each time its trigger fires.'}
                  </TD>
                </TR>
              ) : (
                runs.data.map((r) => (
                  <TR key={r.id}>
                    <TD>
                      <Link
                        to="/automations/$automationId/runs/$runId"
                        params={{ automationId, runId: r.id }}
                        className="font-mono text-xs text-indigo-700 underline"
                        aria-label={`Run ${r.id.slice(0, 8)} (${r.status})`}
                      >
                        {r.id.slice(0, 8)}
                      </Link>
                    </TD>
                    <TD>
                      <RunStatus status={r.status} />
                    </TD>
                    <TD>{r.trigger?.type ?? '—'}</TD>
                    <TD className="whitespace-nowrap">{formatDateTime(r.created)}</TD>
                    <TD className="whitespace-nowrap">{formatDateTime(r.finished)}</TD>
                    <TD className="whitespace-nowrap">{formatMs(runDuration(r))}</TD>
                    <TD>{r.version}</TD>
                    <TD className="max-w-72 truncate text-red-800" title={r.error ?? undefined}>
                      {r.error ?? ''}
                    </TD>
                  </TR>
                ))
              )}
            </TBody>
          </Table>
          <nav aria-label="Pagination" className="mt-3 flex justify-end gap-2">
            <Button variant="secondary" size="sm" disabled={page === 0} onClick={() => setPage(page - 1)}>
              Previous
            </Button>
            <Button variant="secondary" size="sm" disabled={runs.data.length < LIMIT} onClick={() => setPage(page + 1)}>
              Next
            </Button>
          </nav>
        </>
      )}
    </>
  );
}

function Json({ value, label }: { value: unknown; label: string }) {
  if (value === null || value === undefined) return <p className="text-sm text-slate-700">None.</p>;
  return (
    <pre
      aria-label={label}
      tabIndex={0}
      className="max-h-72 overflow-auto rounded border border-slate-200 bg-slate-50 p-2 font-mono text-xs whitespace-pre-wrap break-all text-slate-900"
    >
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

function StepCard({ s }: { s: RunStep }) {
  const title = `${s.seq}. ${s.slug}`;
  return (
    <Card aria-labelledby={`step-${s.seq}`} className="p-4">
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <h3 id={`step-${s.seq}`} className="font-mono text-sm font-semibold text-slate-900">
          {title}
        </h3>
        <Badge>{stepKind(s.type)?.label ?? s.type}</Badge>
        <RunStatus status={s.status} />
        {s.attempt > 1 ? <Badge tone="amber">attempt {s.attempt}</Badge> : null}
        <span className="ml-auto text-xs text-slate-700">
          {formatDateTime(s.started)} · {s.finished ? formatMs(s.duration_ms) : s.due_at ? `waits until ${formatDateTime(s.due_at)}` : 'in progress'}
        </span>
      </div>
      {s.error ? (
        <p role="note" className="mb-3 rounded border border-red-300 bg-red-50 p-2 text-sm text-red-900">
          <span className="font-semibold">Error: </span>
          {s.error}
        </p>
      ) : null}
      <div className="grid gap-3 md:grid-cols-2">
        <div>
          <h4 className="mb-1 text-xs font-semibold tracking-wide text-slate-700 uppercase">Input</h4>
          <Json value={s.input} label={`Input of ${s.slug}`} />
        </div>
        <div>
          <h4 className="mb-1 text-xs font-semibold tracking-wide text-slate-700 uppercase">Output</h4>
          <Json value={s.output} label={`Output of ${s.slug}`} />
        </div>
      </div>
    </Card>
  );
}

export function AutomationRunPage() {
  const { automationId, runId } = useParams({ strict: false }) as { automationId: string; runId: string };
  const teamId = useTeamId();
  const qc = useQueryClient();
  const automation = useAutomation(automationId);
  const run = useQuery({
    queryKey: [teamId, 'automation-run', runId],
    queryFn: ({ signal }) => get<Run>(`/automation_run/${runId}`, undefined, { signal }),
    refetchInterval: (q) => (q.state.data && !isFinalRun(q.state.data.status) ? 2000 : false),
  });
  const cancel = useMutation({
    mutationFn: () => post<Run>(`/automation_run/${runId}/cancel`),
    onSuccess: (r) => {
      qc.setQueryData([teamId, 'automation-run', runId], r);
      void qc.invalidateQueries({ queryKey: [teamId, 'automation-runs', automationId] });
    },
  });
  const name = automation.data?.name ?? 'Automation';
  const r = run.data;
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/automations" className="text-indigo-700 underline">
          Automations
        </Link>{' '}
        /{' '}
        <Link to="/automations/$automationId" params={{ automationId }} className="text-indigo-700 underline">
          {name}
        </Link>{' '}
        /{' '}
        <Link to="/automations/$automationId/runs" params={{ automationId }} className="text-indigo-700 underline">
          Runs
        </Link>
      </nav>
      <PageHeader
        title={`Run ${runId.slice(0, 8)}`}
        actions={
          r && !isFinalRun(r.status) ? (
            <Button variant="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
              Cancel run
            </Button>
          ) : null
        }
      />
      <InlineError error={cancel.error} />
      {run.isPending ? (
        <Loading />
      ) : run.isError ? (
        <ErrorState error={run.error} onRetry={() => run.refetch()} />
      ) : r ? (
        <div className="flex flex-col gap-4">
          <Card>
            <CardHeader title="Summary" />
            <DefinitionList
              items={[
                ['Status', <RunStatus key="s" status={r.status} />],
                ['Started', formatDateTime(r.created)],
                ['Finished', formatDateTime(r.finished)],
                ['Duration', formatMs(runDuration(r))],
                ['Version', String(r.version)],
                ['Contact', r.contact_id ? <span className="font-mono text-xs">{String(r.contact_id)}</span> : '—'],
                ...(r.wake_at ? ([['Wakes at', formatDateTime(r.wake_at)]] as [string, string][]) : []),
                ...(r.waiting_for_call
                  ? ([
                      [
                        'Waiting for call',
                        <Link key="c" to="/calls/$callId" params={{ callId: r.waiting_for_call }} className="text-indigo-700 underline">
                          {r.waiting_for_call.slice(0, 8)}
                        </Link>,
                      ],
                    ] as [string, ReactNode][])
                  : []),
                ...(r.error ? ([['Error', <span key="e" className="text-red-800">{r.error}</span>]] as [string, ReactNode][]) : []),
              ]}
            />
          </Card>
          <Card>
            <CardHeader title="Trigger" description={r.trigger?.type ? `Fired by: ${r.trigger.type}` : undefined} />
            <Json value={r.trigger?.payload} label="Trigger payload" />
          </Card>
          <section aria-labelledby="steps-h">
            <h2 id="steps-h" className="mb-2 text-base font-semibold text-slate-900">
              Steps ({r.steps?.length ?? 0})
            </h2>
            {r.steps && r.steps.length > 0 ? (
              <ol className="flex flex-col gap-3">
                {r.steps.map((s) => (
                  <li key={`${s.seq}-${s.attempt}`}>
                    <StepCard s={s} />
                  </li>
                ))}
              </ol>
            ) : (
              <p className="text-sm text-slate-700">No step has run yet.</p>
            )}
          </section>
        </div>
      ) : null}
    </>
  );
}
