import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { ErrorState, Field, InlineError, Loading, PageHeader } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Dialog, DialogClose, DialogContent } from '@/components/ui/dialog';
import { Input, Select } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { defaultTrigger, TRIGGER_TYPES, type AutomationRecord, type TriggerType } from '@/automation/model';
import { del, get, post } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import { useTeamId } from '@/lib/session';

const triggerLabel = (t: string | undefined) => TRIGGER_TYPES.find((x) => x.type === t)?.label ?? t ?? '—';

export function ModeBadge({ mode }: { mode: string | undefined }) {
  return mode === 'live' ? <Badge tone="green">Live</Badge> : <Badge tone="neutral">Draft</Badge>;
}

function NewAutomation() {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [trigger, setTrigger] = useState<TriggerType>('webhook');
  const create = useMutation({
    // The API needs at least one step: a new automation starts with an `end` step the
    // builder inserts steps before.
    mutationFn: () =>
      post<AutomationRecord>('/automation', {
        name: name.trim(),
        mode: 'draft',
        trigger: defaultTrigger(trigger),
        steps: [{ slug: 'done', type: 'end' }],
      }),
    onSuccess: async (a) => {
      await qc.invalidateQueries({ queryKey: [teamId, 'automations'] });
      setOpen(false);
      await navigate({ to: '/automations/$automationId', params: { automationId: a.id } });
    },
  });
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (o) {
          setName('');
          create.reset();
        }
      }}
    >
      <Button onClick={() => setOpen(true)}>New automation</Button>
      <DialogContent title="New automation" description="It starts in Draft: webhook calls are kept as sample data and start no run.">
        <form
          className="flex flex-col gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Field label="Name">{(id) => <Input id={id} value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />}</Field>
          <Field label="Trigger" hint={TRIGGER_TYPES.find((t) => t.type === trigger)?.hint}>
            {(id, hint) => (
              <Select id={id} aria-describedby={hint} value={trigger} onChange={(e) => setTrigger(e.target.value as TriggerType)}>
                {TRIGGER_TYPES.map((t) => (
                  <option key={t.type} value={t.type}>
                    {t.label}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          <InlineError error={create.error} />
          <div className="flex justify-end gap-2">
            <DialogClose asChild>
              <Button variant="secondary">Cancel</Button>
            </DialogClose>
            <Button type="submit" disabled={create.isPending || !name.trim()}>
              Create automation
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

function DeleteAutomation({ automation, onClose }: { automation: AutomationRecord; onClose: () => void }) {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const remove = useMutation({
    mutationFn: () => del(`/automation/${automation.id}`),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: [teamId, 'automations'] });
      onClose();
    },
  });
  return (
    <Dialog open onOpenChange={(o) => !o && onClose()}>
      <DialogContent title={`Delete ${automation.name}?`} description="Its runs stop being listed here. This cannot be undone.">
        <InlineError error={remove.error} />
        <div className="mt-4 flex justify-end gap-2">
          <DialogClose asChild>
            <Button variant="secondary">Cancel</Button>
          </DialogClose>
          <Button variant="danger" disabled={remove.isPending} onClick={() => remove.mutate()}>
            Delete automation
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}

export function AutomationsPage() {
  const teamId = useTeamId();
  const [deleting, setDeleting] = useState<AutomationRecord | null>(null);
  const list = useQuery({
    queryKey: [teamId, 'automations'],
    queryFn: ({ signal }) => get<AutomationRecord[]>('/automation', undefined, { signal }),
  });
  return (
    <>
      <PageHeader
        title="Automations"
        description="A trigger and the steps it runs. Build them visually; switch one to Live when its test payload works."
        actions={<NewAutomation />}
      />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : (
        <Table aria-label="Automations">
          <THead>
            <TR>
              <TH>Name</TH>
              <TH>Mode</TH>
              <TH>Trigger</TH>
              <TH>Steps</TH>
              <TH>Version</TH>
              <TH>Updated</TH>
              <TH>
                <span className="sr-only">Actions</span>
              </TH>
            </TR>
          </THead>
          <TBody>
            {list.data.length === 0 ? (
              <TR>
                <TD colSpan={7} className="py-8 text-center text-slate-700">
                  No automations yet. Create one with “New automation”.
                </TD>
              </TR>
            ) : (
              list.data.map((a) => (
                <TR key={a.id}>
                  <TD className="font-medium">
                    <Link to="/automations/$automationId" params={{ automationId: a.id }} className="text-indigo-700 underline-offset-2 hover:underline">
                      {a.name}
                    </Link>
                  </TD>
                  <TD>
                    <ModeBadge mode={a.mode} />
                  </TD>
                  <TD>{triggerLabel(a.trigger?.type)}</TD>
                  <TD>{a.steps?.length ?? 0}</TD>
                  <TD>{a.version}</TD>
                  <TD className="whitespace-nowrap">{formatDateTime(a.updated)}</TD>
                  <TD className="text-right whitespace-nowrap">
                    <Button asChild variant="secondary" size="sm">
                      <Link to="/automations/$automationId/runs" params={{ automationId: a.id }} aria-label={`Runs of ${a.name}`}>
                        Runs
                      </Link>
                    </Button>{' '}
                    <Button variant="ghost" size="sm" className="text-red-800" onClick={() => setDeleting(a)} aria-label={`Delete ${a.name}`}>
                      Delete
                    </Button>
                  </TD>
                </TR>
              ))
            )}
          </TBody>
        </Table>
      )}
      {deleting ? <DeleteAutomation automation={deleting} onClose={() => setDeleting(null)} /> : null}
    </>
  );
}
