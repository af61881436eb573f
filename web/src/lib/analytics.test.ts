import { describe, expect, it } from 'vitest';
import { daySeries, formatLatency, formatRate, stack } from './analytics';

describe('analytics shaping', () => {
  it('fills missing days, orders statuses, sums per day', () => {
    const s = daySeries(
      [
        { date: '2026-12-01', status: 'NO_ANSWER', count: 2 },
        { date: '2026-12-03', status: 'ENDED', count: 5 },
        { date: '2026-12-01', status: 'ENDED', count: 1 },
        { date: 'garbage', status: 'ENDED', count: 9 },
      ],
      1,
    );
    expect(s.days).toEqual(['2026-12-01', '2026-12-02', '2026-12-03']);
    expect(s.statuses).toEqual(['ENDED', 'NO_ANSWER']);
    expect(s.counts).toEqual([
      [1, 0, 5],
      [2, 0, 0],
    ]);
    expect(s.totals).toEqual([3, 0, 5]);
  });

  it('a week shows seven days ending at the last one', () => {
    const s = daySeries([{ date: '2026-12-03', status: 'ENDED', count: 1 }], 7);
    expect(s.days).toHaveLength(7);
    expect(s.days[0]).toBe('2026-11-27');
  });

  it('empty data is empty', () => {
    expect(daySeries([])).toEqual({ days: [], statuses: [], counts: [], totals: [] });
  });

  it('stacks cumulatively', () => {
    expect(stack([[1, 2], [3, 4], [0, 1]])).toEqual([[1, 2], [4, 6], [4, 7]]);
  });

  it('formats rates and latency, null as a dash', () => {
    expect(formatRate(0.256)).toBe('25.6%');
    expect(formatRate(null)).toBe('—');
    expect(formatLatency(840)).toBe('840 ms');
    expect(formatLatency(1530)).toBe('1.53 s');
    expect(formatLatency(null)).toBe('—');
  });
});
