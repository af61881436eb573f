// `GET /analytics?period=day|week|month|all`: per-agent tiles and calls per UTC day by status,
// shaped for the Analytics page (uPlot wants columns: x values, then one array per series).

export type Period = 'day' | 'week' | 'month' | 'all';
export const PERIODS: { value: Period; label: string }[] = [
  { value: 'day', label: 'Last 24 hours' },
  { value: 'week', label: 'Last 7 days' },
  { value: 'month', label: 'Last 30 days' },
  { value: 'all', label: 'All time' },
];

export interface AgentTile {
  interview_id: string;
  title: string;
  calls: number;
  ended: number;
  no_answer: number;
  /** 0..1, or null when no call finished. */
  pickup_rate: number | null;
  transfer_rate: number | null;
  median_turn_latency_ms: number | null;
}
export interface DayCount {
  date: string;
  status: string;
  count: number;
}
export interface Analytics {
  agents: AgentTile[];
  per_day: DayCount[];
}

export const formatRate = (r: number | null | undefined) =>
  r === null || r === undefined || !Number.isFinite(r) ? '—' : `${Math.round(r * 1000) / 10}%`;

export const formatLatency = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? '—' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;

/** Status order of the stacks: answered first, failures last; unknown ones after, by name. */
const ORDER = ['ENDED', 'TRANSFERRED', 'VOICEMAIL', 'NO_ANSWER', 'FAILED', 'VIOLATION', 'IN_PROGRESS', 'NOT_STARTED'];

const DAY = 86_400_000;
const dayMs = (d: string) => Date.parse(`${d}T00:00:00Z`);
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export interface DaySeries {
  /** Every UTC day from the first to the last (gaps filled with zero). */
  days: string[];
  statuses: string[];
  /** counts[i][j]: calls of statuses[i] on days[j]. */
  counts: number[][];
  totals: number[];
}

/**
 * Calls per day by status, with every day between the first and the last one present (at
 * least `minDays` ending at the last day, so a week shows seven bars).
 */
export function daySeries(perDay: DayCount[], minDays = 1): DaySeries {
  const valid = perDay.filter((d) => Number.isFinite(dayMs(d.date)));
  if (valid.length === 0) return { days: [], statuses: [], counts: [], totals: [] };
  const times = valid.map((d) => dayMs(d.date));
  const last = Math.max(...times);
  const first = Math.min(Math.min(...times), last - (minDays - 1) * DAY);
  const days: string[] = [];
  for (let t = first; t <= last; t += DAY) days.push(isoDay(t));
  const index = new Map(days.map((d, i) => [d, i]));
  const statuses = [...new Set(valid.map((d) => d.status))].sort((a, b) => {
    const ia = ORDER.indexOf(a);
    const ib = ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  const counts = statuses.map(() => days.map(() => 0));
  for (const d of valid) counts[statuses.indexOf(d.status)]![index.get(isoDay(dayMs(d.date)))!]! += d.count;
  const totals = days.map((_, j) => counts.reduce((n, row) => n + row[j]!, 0));
  return { days, statuses, counts, totals };
}

/** Cumulative rows for a stacked bar chart: stacked[i][j] = sum of counts[0..=i][j]. */
export function stack(counts: number[][]): number[][] {
  const out: number[][] = [];
  counts.forEach((row, i) => out.push(row.map((v, j) => v + (i > 0 ? out[i - 1]![j]! : 0))));
  return out;
}

export const periodDays: Record<Period, number> = { day: 1, week: 7, month: 30, all: 1 };
