import { useLiveStatus } from '@/lib/live';

/** Whether the page follows calls live (the tab's `GET /call/live` stream is up) or by polling. */
export function LiveBadge() {
  const status = useLiveStatus((s) => s.status);
  const up = status === 'live';
  const text =
    status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : status === 'reconnecting' ? 'Reconnecting…' : 'Refreshing every few seconds';
  return (
    <span
      role="status"
      title={up ? 'Changes appear as they happen (live stream connected).' : undefined}
      className={
        'inline-flex items-center gap-1.5 rounded border px-1.5 py-0.5 text-xs font-medium ' +
        (up ? 'border-red-300 bg-red-50 text-red-800' : 'border-slate-300 bg-slate-100 text-slate-800')
      }
    >
      <span className={'inline-block size-2 rounded-full ' + (up ? 'animate-pulse bg-red-600' : 'bg-slate-500')} aria-hidden="true" />
      {text}
    </span>
  );
}
