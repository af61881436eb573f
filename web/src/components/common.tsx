import { useId, useState, type ReactNode } from 'react';
import { errorMessage } from '@/lib/api';
import { pageInfo } from '@/lib/search';
import { Button } from './ui/button';
import { Badge, type Tone } from './ui/badge';
import { Label } from './ui/label';

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="mb-6 flex items-start justify-between gap-4">
      <div>
        <h1 className="text-2xl font-semibold text-slate-900">{title}</h1>
        {description ? <p className="mt-1 text-sm text-slate-700">{description}</p> : null}
      </div>
      {actions ? <div className="flex shrink-0 items-center gap-2">{actions}</div> : null}
    </header>
  );
}

export function ErrorState({ error, title = 'Could not load this', onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  return (
    <div role="alert" className="rounded-lg border border-red-300 bg-red-50 p-4 text-sm text-red-900">
      <p className="font-semibold">{title}</p>
      <p className="mt-1">{errorMessage(error)}</p>
      {onRetry ? (
        <Button variant="secondary" size="sm" className="mt-3" onClick={onRetry}>
          Try again
        </Button>
      ) : null}
    </div>
  );
}

export function InlineError({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p role="alert" className="text-sm text-red-800">
      {errorMessage(error)}
    </p>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p role="status" className="py-6 text-sm text-slate-700">
      {label}
    </p>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center">
      <p className="font-medium text-slate-900">{title}</p>
      {children ? <div className="mt-2 text-sm text-slate-700">{children}</div> : null}
    </div>
  );
}

export function Pagination({
  page,
  limit,
  shown,
  total,
  onPage,
  noun,
}: {
  page: number;
  limit: number;
  shown: number;
  total: number;
  onPage: (p: number) => void;
  noun: string;
}) {
  const info = pageInfo(page, limit, shown, total);
  return (
    <nav aria-label="Pagination" className="mt-3 flex items-center justify-between text-sm text-slate-700">
      <p>
        {info.total === 0 ? `No ${noun}` : `${info.from}–${info.to} of ${info.total} ${noun}`}
      </p>
      <div className="flex gap-2">
        <Button variant="secondary" size="sm" disabled={!info.hasPrev} onClick={() => onPage(page - 1)}>
          Previous
        </Button>
        <Button variant="secondary" size="sm" disabled={!info.hasNext} onClick={() => onPage(page + 1)}>
          Next
        </Button>
      </div>
    </nav>
  );
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not a secure context, or permission refused: the old way.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

export function CopyButton({ text, label = 'Copy', what }: { text: string; label?: string; what?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <Button
      variant="secondary"
      size="sm"
      aria-label={what ? `${label} ${what}` : label}
      onClick={async () => {
        setState((await copyText(text)) ? 'copied' : 'failed');
        setTimeout(() => setState('idle'), 2000);
      }}
    >
      <span aria-live="polite">{state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : label}</span>
    </Button>
  );
}

/** A monospace value with a copy button beside it. */
export function CopyField({ value, what }: { value: string; what: string }) {
  return (
    <div className="flex items-center gap-2">
      <code className="min-w-0 flex-1 truncate rounded border border-slate-300 bg-slate-50 px-2 py-1.5 font-mono text-sm text-slate-900" title={value}>
        {value}
      </code>
      <CopyButton text={value} what={what} />
    </div>
  );
}

/** A label above its control; `children` gets the id to put on the control. */
export function Field({ label, hint, children }: { label: string; hint?: ReactNode; children: (id: string, hintId?: string) => ReactNode }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="flex flex-col gap-1.5">
      <Label htmlFor={id}>{label}</Label>
      {children(id, hintId)}
      {hint ? (
        <p id={hintId} className="text-xs text-slate-700">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

const statusTones: Record<string, Tone> = {
  ENDED: 'green',
  IN_PROGRESS: 'blue',
  NOT_STARTED: 'neutral',
  NO_ANSWER: 'amber',
  VOICEMAIL: 'amber',
  TRANSFERRED: 'blue',
  FAILED: 'red',
  VIOLATION: 'red',
  ACTIVE: 'green',
  ARCHIVED: 'neutral',
  INACTIVE: 'neutral',
  DNC: 'red',
  delivered: 'green',
  pending: 'amber',
  failed: 'red',
  canceled: 'neutral',
};

export function StatusBadge({ value }: { value: string | null | undefined }) {
  if (!value) return <span>—</span>;
  return <Badge tone={statusTones[value] ?? 'neutral'}>{value.replace(/_/g, ' ')}</Badge>;
}

/** Term/definition rows for a detail page. */
export function DefinitionList({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-2 text-sm">
      {items.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="font-medium text-slate-700">{k}</dt>
          <dd className="min-w-0 break-words text-slate-900">{v}</dd>
        </div>
      ))}
    </dl>
  );
}
