// The agent's speech engines: which provider hears the caller (speech-to-text) and which one
// speaks (text-to-speech). The built-in offline engines are the default; a cloud provider needs
// the team's key (Settings → Developer), and the server checks the choice (a provider on the
// wrong side, no key, a language it does not speak) with the same field paths this form uses,
// so its problems land on the field concerned.
import { Input, Select } from '@/components/ui/input';
import { PROVIDER_LABELS, STT_PROVIDERS, TTS_PROVIDERS, type EngineChoice, type SpeechProvider } from '@/lib/types';
import { SettingField } from './SettingField';
import { useEditor } from './store';

type Side = 'stt' | 'tts';

/** The providers whose voices are named by an id the user copies from the provider. */
const NEEDS_VOICE: SpeechProvider[] = ['elevenlabs', 'cartesia'];

/** A choice with an optional text field set (an empty one is left out, not sent as ""). */
function withField(c: EngineChoice, k: 'model' | 'voice' | 'language', v: string): EngineChoice {
  const next = { ...c };
  if (v.trim()) next[k] = v;
  else delete next[k];
  return next;
}

export function EngineSettings() {
  const stt = useEditor((st) => st.settings.stt) ?? { provider: 'embedded' };
  const tts = useEditor((st) => st.settings.tts) ?? { provider: 'embedded' };
  const set = useEditor((st) => st.setSettings);
  const change = (side: Side, c: EngineChoice, field: string) => set({ [side]: c }, `${side}.${field}`);
  const text = (side: Side, c: EngineChoice, k: 'model' | 'voice' | 'language', label: string, hint: string, placeholder: string) => (
    <SettingField field={`${side}.${k}`} label={label} hint={hint}>
      {(p) => <Input value={c[k] ?? ''} maxLength={100} placeholder={placeholder} onChange={(e) => change(side, withField(c, k, e.target.value), k)} {...p} />}
    </SettingField>
  );
  return (
    <fieldset className="grid gap-4 rounded-md border border-slate-200 p-4">
      <legend className="px-1 text-sm font-medium text-slate-900">Speech engines</legend>
      <p className="text-xs text-slate-700">
        Cloud providers use the team’s key (Settings → Developer). If one fails during a call, the built-in engine takes over for the rest of it and the call records it.
      </p>
      <div className="grid grid-cols-2 gap-4">
        <SettingField field="stt.provider" label="Hears with (speech-to-text)">
          {(p) => (
            <Select value={stt.provider} onChange={(e) => change('stt', { provider: e.target.value as SpeechProvider }, 'provider')} {...p}>
              {STT_PROVIDERS.map((v) => (
                <option key={v} value={v}>
                  {PROVIDER_LABELS[v]}
                </option>
              ))}
            </Select>
          )}
        </SettingField>
        <SettingField field="tts.provider" label="Speaks with (text-to-speech)">
          {(p) => (
            <Select value={tts.provider} onChange={(e) => change('tts', { provider: e.target.value as SpeechProvider }, 'provider')} {...p}>
              {TTS_PROVIDERS.map((v) => (
                <option key={v} value={v}>
                  {PROVIDER_LABELS[v]}
                </option>
              ))}
            </Select>
          )}
        </SettingField>
      </div>
      {stt.provider !== 'embedded' || tts.provider !== 'embedded' ? (
        <div className="grid grid-cols-2 gap-4">
          <div className="flex flex-col gap-4">
            {stt.provider !== 'embedded' ? (
              <>
                {text('stt', stt, 'model', 'Speech-to-text model', 'Left empty: the provider’s default for calls.', stt.provider === 'deepgram' ? 'nova-3' : 'gpt-4o-mini-transcribe')}
                {text('stt', stt, 'language', 'Speech-to-text language', 'Left empty: the agent’s language.', 'e.g. en-US')}
              </>
            ) : null}
          </div>
          <div className="flex flex-col gap-4">
            {tts.provider !== 'embedded' ? (
              <>
                {text(
                  'tts',
                  tts,
                  'voice',
                  'Voice',
                  NEEDS_VOICE.includes(tts.provider) ? `Required: the voice id from ${PROVIDER_LABELS[tts.provider]}.` : 'Left empty: alloy.',
                  NEEDS_VOICE.includes(tts.provider) ? 'voice id' : 'alloy',
                )}
                {text('tts', tts, 'model', 'Text-to-speech model', 'Left empty: the provider’s low-latency model.', tts.provider === 'elevenlabs' ? 'eleven_flash_v2_5' : tts.provider === 'cartesia' ? 'sonic-2' : 'gpt-4o-mini-tts')}
              </>
            ) : null}
          </div>
        </div>
      ) : null}
    </fieldset>
  );
}
