// Shapes of the API objects the dashboard reads (API.md). Only the fields it uses are typed
// strictly; the server may add keys.

export interface Team {
  id: string;
  name: string;
  role: 'owner' | 'member';
}

export interface User {
  id: string;
  email: string;
  name: string | null;
  teams: Team[];
  csrf_token: string;
}

export interface Contact {
  id: string;
  created: string;
  updated: string;
  version: number;
  status: 'ACTIVE' | 'INACTIVE' | 'DNC';
  name: string | null;
  phone_number: string;
  email: string | null;
  attributes: Record<string, string>;
  tags: string[];
  lead_source: string;
}

export interface ContactPage {
  contacts: Contact[];
  count: number;
  total_count: number;
}

export interface FlowNode {
  id: string;
  type: string;
  position?: { x: number; y: number };
  data: Record<string, unknown>;
}

export interface FlowEdge {
  id: string;
  source: string;
  sourceHandle?: string | null;
  target: string;
}

export interface Interview {
  id: string;
  created: string;
  updated: string;
  version: number;
  title: string;
  ai_name: string;
  lang: string;
  status: 'ACTIVE' | 'ARCHIVED';
  response_tags: string[];
  should_record: boolean;
  should_leave_voicemail: boolean;
  voicemail_message: string | null;
  silence_timeout_ms?: number;
  silence_reprompts?: number;
  /** The agent's speech engines (absent or null: the embedded ones). */
  stt?: EngineChoice | null;
  tts?: EngineChoice | null;
  flow: { nodes: FlowNode[]; edges: FlowEdge[] };
}

/** Speech engine makers: the embedded (offline) engines and the cloud ones a team keeps keys for. */
export const CLOUD_PROVIDERS = ['deepgram', 'openai', 'elevenlabs', 'cartesia'] as const;
export type CloudProvider = (typeof CLOUD_PROVIDERS)[number];
export type SpeechProvider = 'embedded' | CloudProvider;
export const PROVIDER_LABELS: Record<SpeechProvider, string> = {
  embedded: 'Built in (offline)',
  deepgram: 'Deepgram',
  openai: 'OpenAI',
  elevenlabs: 'ElevenLabs',
  cartesia: 'Cartesia',
};
/** Which providers hear (speech-to-text) and which speak (text-to-speech). */
export const STT_PROVIDERS: SpeechProvider[] = ['embedded', 'deepgram', 'openai'];
export const TTS_PROVIDERS: SpeechProvider[] = ['embedded', 'elevenlabs', 'cartesia', 'openai'];

/** An agent's choice of engine for one side (`stt` or `tts`). */
export interface EngineChoice {
  provider: SpeechProvider;
  model?: string;
  voice?: string;
  language?: string;
  base_url?: string;
}

/** A team's key for a cloud speech provider, as the server shows it (never the key). */
export interface SpeechKey {
  provider: CloudProvider;
  hint: string;
  base_url: string | null;
  updated: string;
}

export interface InterviewPage {
  interviews: Interview[];
  count: number;
}

export type CallStatus =
  | 'NOT_STARTED'
  | 'IN_PROGRESS'
  | 'ENDED'
  | 'NO_ANSWER'
  | 'VOICEMAIL'
  | 'TRANSFERRED'
  | 'FAILED'
  | 'VIOLATION';

export const CALL_STATUSES: CallStatus[] = [
  'NOT_STARTED',
  'IN_PROGRESS',
  'ENDED',
  'NO_ANSWER',
  'VOICEMAIL',
  'TRANSFERRED',
  'FAILED',
  'VIOLATION',
];

export interface ConversationTurn {
  date: string;
  text: string;
  author: 'ai' | 'user' | string;
  cumulative_duration_ms: number;
}

export interface Call {
  id: string;
  created: string;
  updated: string;
  type: 'PHONE_CALL' | 'INBOUND_CALL' | 'BROWSER_CALL';
  status: CallStatus;
  interview: { id: string; title?: string; version?: number };
  contact: Contact | null;
  phone_number: string;
  start_time: string | null;
  end_time: string | null;
  duration_ms: number | null;
  conversation_history: ConversationTurn[];
  transcript: string;
  summary_data: { summary: string; response_tags: string[] };
  metadata: Record<string, string>;
  recording_url: string | null;
  call_failure_reason: string | null;
  progress: string;
  end_reason: string | null;
  variables: Record<string, unknown>;
  outcome: string | null;
  timeline: { progress: string; at: string }[];
  job_id?: string | null;
  from_number?: string | null;
  network?: string;
  latency?: { total_ms: number; endpointing_ms: number; stt_queue_ms?: number; stt_ms: number; agent_ms: number; tts_first_audio_ms: number }[];
}

export interface CallPage {
  calls: Call[];
  count: number;
  total_count: number;
}

export interface PhoneNumber {
  id: string;
  phone_number: string;
  network: 'sip' | 'twilio' | 'sandbox';
  sip_trunk_id: string | null;
  twilio: { account_sid: string } | null;
  inbound_interview_id: string | null;
  label: string | null;
  default_outbound: boolean;
  created: string;
}

export interface SipTrunk {
  id: string;
  name: string;
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  username: string | null;
  has_password: boolean;
  from_domain: string | null;
  inbound_addresses: string[];
  max_concurrent_calls: number | null;
  created: string;
}

export interface Automation {
  id: string;
  name: string;
  mode?: string;
  trigger?: { type?: string };
  steps?: unknown[];
  webhook_path?: string;
  version: number;
  created: string;
  updated: string;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  created: string;
  revoked: string | null;
}

export interface NewApiToken {
  id: string;
  name: string;
  prefix: string;
  token: string;
}

export interface TeamInfo {
  id: string;
  name: string;
  signing_secret_hint?: string | null;
}

export const WEBHOOK_TYPES = ['NEW_RESPONSE', 'PHONE_TRANSFER', 'ACTION_FAILED', 'CALL_PROGRESS'] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

export interface Webhook {
  id: string;
  type: WebhookType;
  url: string;
  data: string | null;
  created: string;
}

export interface Delivery {
  id: string;
  webhook_id: string;
  type: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed' | 'canceled' | string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  created: string;
  updated: string;
  next_attempt: string | null;
}
