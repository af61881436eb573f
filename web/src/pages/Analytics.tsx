import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useEffect, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { EmptyState, ErrorState, Loading, PageHeader } from '@/components/common';
import { Card, CardHeader } from '@/components/ui/card';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { get, isNotFound } from '@/lib/api';
import {
  daySeries,
  formatLatency,
  formatRate,
  periodDays,
  PERIODS,
  stack,
  type Analytics,
  type DaySeries,
  type Period,
} from '@/lib/analytics';
import { humanize } from '@/lib/format';
import { useTeamId } from '@/lib/session';

const COLORS: Record<string, string> = {
  ENDED: '#15803d',
  TRANSFERRED: '#0369a1',
  VOICEMAIL: '#a16207',
  NO_ANSWER: '#d97706',
  FAILED: '#b91c1c',
  VIOLATION: '#7f1d1d',
  IN_PROGRESS: '#4f46e5',
  NOT_STARTED: '#64748b',
};
const color = (s: string) => COLORS[s] ?? '#334155';

/** Calls per day as stacked bars (uPlot draws the cumulative series tallest first). */
function DayChart({ series }: { series: DaySeries }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || series.days.length === 0) return;
    const xs = series.days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const stacked = stack(series.counts);
    const order = series.statuses.map((_, i) => i).reverse();
    const bars = uPlot.paths.bars!({ size: [0.7, 48], align: 0 });
    const opts: uPlot.Options = {
      width: Math.max(320, el.clientWidth),
      height: 280,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        {
          stroke: '#334155',
          grid: { show: false },
          incrs: [86_400, 2 * 86_400, 7 * 86_400, 14 * 86_400, 28 * 86_400, 91 * 86_400, 365 * 86_400],
          values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toISOString().slice(5, 10)),
        },
        { stroke: '#334155', grid: { stroke: '#e2e8f0' }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000] },
      ],
      series: [{}, ...order.map((i) => ({ label: series.statuses[i], fill: color(series.statuses[i]!), stroke: color(series.statuses[i]!), width: 0, paths: bars, points: { show: false } }))],
    };
    const plot = new uPlot(opts, [xs, ...order.map((i) => stacked[i]!)] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height: 280 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [series]);
  return <div ref={box} role="img" aria-label="Calls per day by status (stacked bars); the table below has the numbers" />;
}

function Tile({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt className="text-xs text-slate-700">{label}</dt>
      <dd className="text-lg font-semibold text-slate-900">{value}</dd>
    </div>
  );
}

export function AnalyticsPage() {
  const teamId = useTeamId();
  const [period, setPeriod] = useState<Period>('week');
  const q = useQuery({
    queryKey: [teamId, 'analytics', period],
    queryFn: ({ signal }) => get<Analytics>('/analytics', { period }, { signal }),
  });
  const series = useMemo(() => daySeries(q.data?.per_day ?? [], periodDays[period]), [q.data, period]);
  return (
    <>
      <PageHeader title="Analytics" description="Calls of the team's voice agents. Days are UTC days." />
      <div role="radiogroup" aria-label="Period" className="mb-4 inline-flex rounded-md border border-slate-300 bg-white p-0.5">
        {PERIODS.map((p) => (
          <button
            key={p.value}
            type="button"
            role="radio"
            aria-checked={period === p.value}
            onClick={() => setPeriod(p.value)}
            className={
              'rounded px-3 py-1.5 text-sm font-medium focus-visible:outline-2 focus-visible:outline-indigo-600 ' +
              (period === p.value ? 'bg-indigo-700 text-white' : 'text-slate-800 hover:bg-slate-100')
            }
          >
            {p.label}
          </button>
        ))}
      </div>
      {q.isPending ? (
        <Loading />
      ) : q.isError ? (
        isNotFound(q.error) ? (
          <ErrorState
            title="This server does not provide analytics yet"
            error={new Error('GET /analytics answered 404 Not Found: the server is older than this dashboard. The Calls list still filters calls by agent, status and day.')}
            onRetry={() => q.refetch()}
          />
        ) : (
          <ErrorState error={q.error} onRetry={() => q.refetch()} />
        )
      ) : q.data.agents.length === 0 && q.data.per_day.length === 0 ? (
        <EmptyState title="No calls in this period">
          Calls placed by your agents appear here. See <Link to="/calls" className="text-indigo-700 underline">Calls</Link>.
        </EmptyState>
      ) : (
        <div className="flex flex-col gap-4">
          <section aria-labelledby="agents-h">
            <h2 id="agents-h" className="mb-2 text-base font-semibold text-slate-900">
              Agents
            </h2>
            <ul className="grid grid-cols-1 gap-3 md:grid-cols-2 xl:grid-cols-3">
              {q.data.agents.map((a) => (
                <li key={a.interview_id}>
                  <Card className="p-4" aria-labelledby={`agent-${a.interview_id}`}>
                    <h3 id={`agent-${a.interview_id}`} className="mb-2 truncate font-semibold text-slate-900">
                      <Link to="/agents/$agentId" params={{ agentId: a.interview_id }} className="text-indigo-700 underline-offset-2 hover:underline">
                        {a.title || a.interview_id}
                      </Link>
                    </h3>
                    <dl className="grid grid-cols-3 gap-2">
                      <Tile label="Calls" value={String(a.calls)} />
                      <Tile label="Ended" value={String(a.ended)} />
                      <Tile label="No answer" value={String(a.no_answer)} />
                      <Tile label="Pickup rate" value={formatRate(a.pickup_rate)} />
                      <Tile label="Transfer rate" value={formatRate(a.transfer_rate)} />
                      <Tile label="Median turn latency" value={formatLatency(a.median_turn_latency_ms)} />
                    </dl>
                  </Card>
                </li>
              ))}
            </ul>
          </section>
          <Card aria-labelledby="perday-h">
            <CardHeader id="perday-h" title="Calls per day by status" />
            {series.days.length === 0 ? (
              <p className="text-sm text-slate-700">No calls in this period.</p>
            ) : (
              <>
                <DayChart series={series} />
                <ul aria-label="Legend" className="mt-2 flex flex-wrap gap-3 text-sm text-slate-900">
                  {series.statuses.map((s) => (
                    <li key={s} className="flex items-center gap-1.5">
                      <span aria-hidden className="inline-block h-3 w-3 rounded-sm" style={{ background: color(s) }} />
                      {humanize(s)}
                    </li>
                  ))}
                </ul>
                <details className="mt-3">
                  <summary className="cursor-pointer text-sm font-medium text-indigo-700">The numbers as a table</summary>
                  <Table aria-label="Calls per day by status">
                    <THead>
                      <TR>
                        <TH>Day</TH>
                        {series.statuses.map((s) => (
                          <TH key={s}>{humanize(s)}</TH>
                        ))}
                        <TH>Total</TH>
                      </TR>
                    </THead>
                    <TBody>
                      {series.days.map((d, j) => (
                        <TR key={d}>
                          <TD className="font-mono text-xs">{d}</TD>
                          {series.counts.map((row, i) => (
                            <TD key={i}>{row[j]}</TD>
                          ))}
                          <TD className="font-semibold">{series.totals[j]}</TD>
                        </TR>
                      ))}
                    </TBody>
                  </Table>
                </details>
              </>
            )}
          </Card>
        </div>
      )}
    </>
  );
}
