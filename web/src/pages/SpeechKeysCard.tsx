// Settings → Developer: the team's keys for cloud speech providers. Keys are write-only: the
// server answers with the key's last four characters, never the key, so this card can show
// which providers are set up and replace or remove a key, but never reveal one.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { EmptyState, ErrorState, Field, InlineError, Loading } from '@/components/common';
import { Button } from '@/components/ui/button';
import { Card, CardHeader } from '@/components/ui/card';
import { Input, Select } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { del, get, put } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import { useTeamId } from '@/lib/session';
import { CLOUD_PROVIDERS, PROVIDER_LABELS, type CloudProvider, type SpeechKey } from '@/lib/types';

export function SpeechKeysCard() {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const key = [teamId, 'speech_keys'];
  const [provider, setProvider] = useState<CloudProvider>('deepgram');
  const [apiKey, setApiKey] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const keys = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => get<{ speech_keys: SpeechKey[] }>('/team/speech_keys', undefined, { signal }),
  });
  const save = useMutation({
    mutationFn: () =>
      put<SpeechKey>(`/team/speech_keys/${provider}`, { api_key: apiKey.trim(), ...(baseUrl.trim() ? { base_url: baseUrl.trim() } : {}) }),
    onSuccess: () => {
      setApiKey('');
      setBaseUrl('');
      void qc.invalidateQueries({ queryKey: key });
    },
  });
  const remove = useMutation({
    mutationFn: (p: CloudProvider) => del<null>(`/team/speech_keys/${p}`),
    onSuccess: () => void qc.invalidateQueries({ queryKey: key }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (apiKey.trim()) save.mutate();
  };
  return (
    <Card aria-labelledby="speech-keys-h">
      <CardHeader
        id="speech-keys-h"
        title="Speech provider keys"
        description="Agents can hear with Deepgram or OpenAI and speak with ElevenLabs, Cartesia or OpenAI (set in an agent's settings). Keys are stored encrypted and never shown again."
      />
      <form onSubmit={submit} className="mb-4 grid grid-cols-[10rem_1fr_1fr_auto] items-end gap-2" aria-label="Set a speech provider key">
        <Field label="Provider">
          {(id) => (
            <Select id={id} value={provider} onChange={(e) => setProvider(e.target.value as CloudProvider)}>
              {CLOUD_PROVIDERS.map((p) => (
                <option key={p} value={p}>
                  {PROVIDER_LABELS[p]}
                </option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="API key">
          {(id) => <Input id={id} type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} maxLength={500} />}
        </Field>
        <Field label="Server (optional)">
          {(id) => <Input id={id} value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} maxLength={500} placeholder="e.g. wss://api.eu.residency.elevenlabs.io" />}
        </Field>
        <Button type="submit" disabled={!apiKey.trim() || save.isPending}>
          {save.isPending ? 'Saving…' : 'Save key'}
        </Button>
      </form>
      <InlineError error={save.error ?? remove.error} />
      {keys.isPending ? (
        <Loading />
      ) : keys.isError ? (
        <ErrorState error={keys.error} onRetry={() => keys.refetch()} />
      ) : keys.data.speech_keys.length === 0 ? (
        <EmptyState title="No speech provider keys">Agents use the built-in offline engines.</EmptyState>
      ) : (
        <Table aria-label="Speech provider keys">
          <THead>
            <TR>
              <TH>Provider</TH>
              <TH>Key</TH>
              <TH>Server</TH>
              <TH>Updated</TH>
              <TH>
                <span className="sr-only">Actions</span>
              </TH>
            </TR>
          </THead>
          <TBody>
            {keys.data.speech_keys.map((k) => (
              <TR key={k.provider}>
                <TD className="font-medium">{PROVIDER_LABELS[k.provider]}</TD>
                <TD className="font-mono text-xs">{k.hint}</TD>
                <TD className="text-xs">{k.base_url ?? <span className="text-slate-700">public</span>}</TD>
                <TD className="whitespace-nowrap">{formatDateTime(k.updated)}</TD>
                <TD className="text-right">
                  <Button
                    variant="secondary"
                    size="sm"
                    className="text-red-800"
                    disabled={remove.isPending}
                    onClick={() => remove.mutate(k.provider)}
                    aria-label={`Remove the ${PROVIDER_LABELS[k.provider]} key`}
                  >
                    Remove
                  </Button>
                </TD>
              </TR>
            ))}
          </TBody>
        </Table>
      )}
    </Card>
  );
}
