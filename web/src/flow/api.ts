// The agent draft/publish/versions endpoints (API.md "Voice agents", Parley additions).
import { del, get, post } from '@/lib/api';
import type { Interview } from '@/lib/types';
import { normalizeFlow, type AgentSettings, type Flow } from './graph';
import { EMPTY_SETTINGS } from './store';

export interface ServerProblem {
  field: string;
  message: string;
}

export interface DraftInfo {
  draft: Interview;
  has_draft: boolean;
  saved: string | null;
  base_version: number;
  problems: ServerProblem[];
}

export interface VersionInfo {
  version: number;
  created: string;
  title: string;
  nodes: number;
  edges: number;
}

const path = (id: string, rest = '') => `/interview/${encodeURIComponent(id)}${rest}`;

export const getAgent = (id: string, signal?: AbortSignal) => get<Interview>(path(id), undefined, { signal });
export const getDraft = (id: string, signal?: AbortSignal) => get<DraftInfo>(path(id, '/draft'), undefined, { signal });
export const saveDraft = (id: string, body: Partial<AgentSettings> & { flow: Flow }) =>
  post<{ saved: string; problems: ServerProblem[] }>(path(id, '/draft'), body);
export const discardDraft = (id: string) => del<null>(path(id, '/draft'));
export const publishDraft = (id: string, base_version: number) => post<Interview>(path(id, '/publish'), { base_version });
export const listVersions = (id: string, signal?: AbortSignal) =>
  get<{ versions: VersionInfo[] }>(path(id, '/versions'), undefined, { signal });
export const restoreVersion = (id: string, version: number) => post<Interview>(path(id, `/versions/${version}/restore`), {});

/** The settings part of an agent, with defaults for what an older server leaves out. */
export function settingsOf(a: Partial<Interview>): AgentSettings {
  return {
    title: a.title ?? EMPTY_SETTINGS.title,
    ai_name: a.ai_name ?? EMPTY_SETTINGS.ai_name,
    lang: a.lang ?? EMPTY_SETTINGS.lang,
    response_tags: a.response_tags ?? [],
    should_record: a.should_record ?? false,
    should_leave_voicemail: a.should_leave_voicemail ?? false,
    voicemail_message: a.voicemail_message ?? '',
    silence_timeout_ms: a.silence_timeout_ms ?? EMPTY_SETTINGS.silence_timeout_ms,
    silence_reprompts: a.silence_reprompts ?? EMPTY_SETTINGS.silence_reprompts,
    stt: a.stt ?? null,
    tts: a.tts ?? null,
  };
}

export const flowOf = (a: Partial<Interview>): Flow => normalizeFlow(a.flow);
