// Settings of the agent, the versions list (one-click restore) and the publish dialog (the
// diff between the live agent and the draft).
import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { EmptyState, ErrorState, Loading } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Dialog, DialogContent } from '@/components/ui/dialog';
import { Input, Textarea } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { errorMessage } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import { listVersions } from './api';
import { isNodeType, TYPE_LABELS, type FlowDiff } from './graph';
import { useEditor } from './store';
import { EngineSettings } from './EngineSettings';
import { SettingField } from './SettingField';
import { settingKey, useUi } from './ui';

export function SettingsForm() {
  const s = useEditor((st) => st.settings);
  const set = useEditor((st) => st.setSettings);
  const [tags, setTags] = useState(s.response_tags.join(', '));
  const touch = (f: string) => useUi.getState().touch(settingKey(f));
  return (
    <form className="grid max-w-2xl gap-4" onSubmit={(e) => e.preventDefault()} aria-label="Agent settings">
      <SettingField field="title" label="Title">
        {(p) => <Input value={s.title} onChange={(e) => set({ title: e.target.value }, 'title')} {...p} />}
      </SettingField>
      <div className="grid grid-cols-2 gap-4">
        <SettingField field="ai_name" label="Voice (agent name)" hint="The name and voice the agent speaks with.">
          {(p) => <Input value={s.ai_name} onChange={(e) => set({ ai_name: e.target.value }, 'ai_name')} {...p} />}
        </SettingField>
        <SettingField field="lang" label="Language" hint="A language tag such as en-US or es-MX (built in: English and Spanish; others with a cloud engine).">
          {(p) => <Input value={s.lang} onChange={(e) => set({ lang: e.target.value }, 'lang')} {...p} />}
        </SettingField>
      </div>
      <label className="flex items-center gap-2 text-sm text-slate-900">
        <input type="checkbox" className="h-4 w-4" checked={s.should_record} onChange={(e) => set({ should_record: e.target.checked })} />
        Record calls
      </label>
      <label className="flex items-center gap-2 text-sm text-slate-900">
        <input
          type="checkbox"
          className="h-4 w-4"
          checked={s.should_leave_voicemail}
          onChange={(e) => {
            set({ should_leave_voicemail: e.target.checked });
            touch('should_leave_voicemail');
          }}
        />
        Leave a voicemail when a machine answers
      </label>
      <SettingField field="voicemail_message" label="Voicemail message" hint={s.should_leave_voicemail ? 'Required when leaving voicemail.' : 'Used only when leaving voicemail is on.'}>
        {(p) => <Textarea rows={3} value={s.voicemail_message} onChange={(e) => set({ voicemail_message: e.target.value }, 'voicemail_message')} {...p} />}
      </SettingField>
      <div className="grid grid-cols-2 gap-4">
        <SettingField field="silence_timeout_ms" label="Silence timeout (seconds)" hint="How long the agent waits for an answer (1–60 s).">
          {(p) => (
            <Input
              type="number"
              min={1}
              max={60}
              step={0.5}
              value={s.silence_timeout_ms / 1000}
              onChange={(e) => set({ silence_timeout_ms: Math.round(Number(e.target.value) * 1000) }, 'silence_timeout_ms')}
              {...p}
            />
          )}
        </SettingField>
        <SettingField field="silence_reprompts" label="Re-prompts after silence" hint="Times the agent asks again before moving on (0–5).">
          {(p) => <Input type="number" min={0} max={5} value={s.silence_reprompts} onChange={(e) => set({ silence_reprompts: Number(e.target.value) }, 'silence_reprompts')} {...p} />}
        </SettingField>
      </div>
      <EngineSettings />
      <SettingField field="response_tags" label="Response tags" hint="Comma-separated tags calls can be labelled with (end nodes' outcomes suggest them).">
        {(p) => (
          <Input
            value={tags}
            onChange={(e) => {
              setTags(e.target.value);
              set({ response_tags: e.target.value.split(',').map((t) => t.trim()).filter(Boolean) }, 'response_tags');
            }}
            {...p}
          />
        )}
      </SettingField>
    </form>
  );
}

export function VersionsPanel({ agentId, liveVersion, onRestore, busy }: { agentId: string; liveVersion: number; onRestore: (v: number) => void; busy: number | null }) {
  const teamId = useTeamId();
  const q = useQuery({
    queryKey: [teamId, 'interview', agentId, 'versions', liveVersion],
    queryFn: ({ signal }) => listVersions(agentId, signal),
  });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} title="Could not load the versions" onRetry={() => void q.refetch()} />;
  const vs = q.data.versions;
  if (!vs.length) return <EmptyState title="No versions yet" />;
  return (
    <Table aria-label="Versions">
      <THead>
        <TR>
          <TH>Version</TH>
          <TH>Published</TH>
          <TH>Title</TH>
          <TH>Nodes</TH>
          <TH>Connections</TH>
          <TH>
            <span className="sr-only">Actions</span>
          </TH>
        </TR>
      </THead>
      <TBody>
        {vs.map((v) => (
          <TR key={v.version}>
            <TD className="font-medium">
              Version {v.version} {v.version === liveVersion ? <Badge tone="green">Live</Badge> : null}
            </TD>
            <TD>{formatDateTime(v.created)}</TD>
            <TD>{v.title}</TD>
            <TD>{v.nodes}</TD>
            <TD>{v.edges}</TD>
            <TD>
              {v.version === liveVersion ? null : (
                <Button variant="secondary" size="sm" disabled={busy !== null} onClick={() => onRestore(v.version)}>
                  {busy === v.version ? 'Restoring…' : `Restore version ${v.version}`}
                </Button>
              )}
            </TD>
          </TR>
        ))}
      </TBody>
    </Table>
  );
}

const typeName = (t: string) => (isNodeType(t) ? TYPE_LABELS[t] : t);

export function DiffView({ diff }: { diff: FlowDiff }) {
  if (diff.empty) return <p className="text-sm text-slate-800">The draft is the same as the live version.</p>;
  const section = (title: string, items: ReactNode[]) =>
    items.length ? (
      <section className="mb-3" aria-label={title}>
        <h3 className="text-sm font-semibold text-slate-900">
          {title} ({items.length})
        </h3>
        <ul className="mt-1 flex flex-col gap-1 text-sm text-slate-900">{items}</ul>
      </section>
    ) : null;
  return (
    <div data-testid="publish-diff">
      {section(
        'Nodes added',
        diff.nodesAdded.map((n) => (
          <li key={n.id} className="text-green-900">
            + {typeName(n.type)} <code>{n.id}</code>
          </li>
        )),
      )}
      {section(
        'Nodes removed',
        diff.nodesRemoved.map((n) => (
          <li key={n.id} className="text-red-900">
            − {typeName(n.type)} <code>{n.id}</code>
          </li>
        )),
      )}
      {section(
        'Nodes changed',
        diff.nodesChanged.map((n) => (
          <li key={n.id}>
            {typeName(n.type)} <code>{n.id}</code>
            <ul className="ml-4 text-xs">
              {n.changes.map((c) => (
                <li key={c.field}>
                  <span className="font-medium">{c.field}</span>: <del className="text-red-900">{c.before || '(empty)'}</del> →{' '}
                  <ins className="text-green-900 no-underline">{c.after || '(empty)'}</ins>
                </li>
              ))}
            </ul>
          </li>
        )),
      )}
      {section(
        'Connections added',
        diff.edgesAdded.map((e) => (
          <li key={e.id} className="text-green-900">
            + <code>{e.source}</code> {e.sourceHandle} → <code>{e.target}</code>
          </li>
        )),
      )}
      {section(
        'Connections removed',
        diff.edgesRemoved.map((e) => (
          <li key={e.id} className="text-red-900">
            − <code>{e.source}</code> {e.sourceHandle} → <code>{e.target}</code>
          </li>
        )),
      )}
      {section(
        'Settings changed',
        diff.settings.map((c) => (
          <li key={c.field}>
            <span className="font-medium">{c.field}</span>: <del className="text-red-900">{c.before || '(empty)'}</del> → <ins className="text-green-900 no-underline">{c.after || '(empty)'}</ins>
          </li>
        )),
      )}
      {diff.nodesMoved.length ? <p className="text-xs text-slate-700">{diff.nodesMoved.length} node(s) only moved on the canvas.</p> : null}
    </div>
  );
}

export function PublishDialog({
  open,
  onOpenChange,
  diff,
  preparing,
  error,
  liveVersion,
  publishing,
  onPublish,
}: {
  open: boolean;
  onOpenChange: (o: boolean) => void;
  diff: FlowDiff | null;
  preparing: boolean;
  error: unknown;
  liveVersion: number;
  publishing: boolean;
  onPublish: () => void;
}) {
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent title="Publish the draft" description={`Calls will use the new version ${liveVersion + 1} from now on. Calls record the version that served them.`} className="w-[min(44rem,calc(100vw-2rem))]">
        {preparing ? <Loading label="Saving the draft and comparing…" /> : diff ? <DiffView diff={diff} /> : null}
        {error ? (
          <p role="alert" className="mt-2 text-sm text-red-800">
            {errorMessage(error)}
          </p>
        ) : null}
        <div className="mt-4 flex justify-end gap-2">
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button disabled={preparing || publishing || !diff} onClick={onPublish}>
            {publishing ? 'Publishing…' : `Publish version ${liveVersion + 1}`}
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}
