// "Call me" on an agent's page: calls a phone number with the agent's live version and opens
// the call's page, where the conversation shows as it happens. Sandbox numbers (+1 NPA 555 01xx)
// ring the built-in test personas, never a carrier.
import { useMutation } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { Field, InlineError } from './common';
import { Button } from './ui/button';
import { Dialog, DialogClose, DialogContent } from './ui/dialog';
import { Input } from './ui/input';
import { get, post } from '@/lib/api';
import type { Call, Contact, ContactPage } from '@/lib/types';

export const SANDBOX_SUGGESTIONS: [string, string][] = [
  ['+12125550100', 'answers and says yes'],
  ['+12125550101', 'says no, proposes Thursday at three pm'],
  ['+12125550102', 'never answers'],
  ['+12125550104', 'voicemail'],
];

export function CallMe({ agentId, agentTitle }: { agentId: string; agentTitle: string }) {
  const [open, setOpen] = useState(false);
  const [number, setNumber] = useState('');
  const navigate = useNavigate();
  const call = useMutation({
    mutationFn: async (phone: string) => {
      // An existing contact with this number is called as it is (creating it again would
      // overwrite its name and email with nothing).
      const e164 = phone.startsWith('+') ? phone.replace(/[\s().-]/g, '') : null;
      const found = e164 ? (await get<ContactPage>('/contact', { search: e164, limit: 10 })).contacts.find((c) => c.phone_number === e164) : undefined;
      const contact = found ?? (await post<Contact>('/contact/create', { phone_number: phone, country_code: '+1' }));
      return post<Call>('/contact/call', { contact_id: contact.id, interview_id: agentId, metadata: { source: 'dashboard_call_me' } });
    },
    onSuccess: (c) => {
      setOpen(false);
      void navigate({ to: '/calls/$callId', params: { callId: c.id } });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (number.trim()) call.mutate(number.trim());
  };
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (!o) call.reset();
      }}
    >
      <Button variant="secondary" size="sm" onClick={() => setOpen(true)}>
        Call me
      </Button>
      <DialogContent
        title={`Call a phone with ${agentTitle}`}
        description="The agent’s live (published) version calls this number; the call’s page opens and shows the conversation as it happens."
      >
        <form onSubmit={submit} className="flex flex-col gap-4">
          <Field label="Phone number to call" hint="E.164 (+ and the country code); a number without + is read as a US/Canada (+1) number.">
            {(id, hintId) => (
              <Input
                id={id}
                type="tel"
                required
                autoComplete="tel"
                aria-describedby={hintId}
                value={number}
                onChange={(e) => setNumber(e.target.value)}
                placeholder="+12125550100"
              />
            )}
          </Field>
          <fieldset>
            <legend className="text-sm font-medium text-slate-900">Or a sandbox number (no real phone rings)</legend>
            <ul className="mt-2 flex flex-col gap-1">
              {SANDBOX_SUGGESTIONS.map(([n, what]) => (
                <li key={n}>
                  <Button variant="ghost" size="sm" onClick={() => setNumber(n)} aria-label={`Use ${n} (${what})`}>
                    <span className="font-mono">{n}</span>
                    <span className="text-slate-700">— {what}</span>
                  </Button>
                </li>
              ))}
            </ul>
          </fieldset>
          <InlineError error={call.error} />
          <div className="flex justify-end gap-2">
            <DialogClose asChild>
              <Button variant="secondary">Cancel</Button>
            </DialogClose>
            <Button type="submit" disabled={!number.trim() || call.isPending}>
              {call.isPending ? 'Calling…' : 'Call now'}
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}
