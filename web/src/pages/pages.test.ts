import { describe, expect, it } from 'vitest';
import { activeLine, speakerTurns } from './CallDetail';
import { splitTags } from './Contacts';

describe('speakerTurns', () => {
  it('uses conversation_history and merges consecutive lines of one speaker', () => {
    const turns = speakerTurns({
      transcript: '',
      conversation_history: [
        { date: '', text: 'Hello', author: 'ai', cumulative_duration_ms: 0 },
        { date: '', text: 'Is this Alex?', author: 'ai', cumulative_duration_ms: 1200 },
        { date: '', text: 'Yes', author: 'user', cumulative_duration_ms: 2500 },
      ],
    });
    expect(turns).toEqual([
      {
        speaker: 'Agent',
        text: 'Hello\nIs this Alex?',
        offsetMs: 0,
        lines: [
          { text: 'Hello', offsetMs: 0 },
          { text: 'Is this Alex?', offsetMs: 1200 },
        ],
      },
      { speaker: 'Caller', text: 'Yes', offsetMs: 2500, lines: [{ text: 'Yes', offsetMs: 2500 }] },
    ]);
  });

  it('falls back to the transcript text', () => {
    expect(speakerTurns({ conversation_history: [], transcript: 'Agent: Hi\nCaller: Hey\nstill me\n\nAgent: Bye' })).toEqual([
      { speaker: 'Agent', text: 'Hi', offsetMs: null, lines: [{ text: 'Hi', offsetMs: null }] },
      {
        speaker: 'Caller',
        text: 'Hey\nstill me',
        offsetMs: null,
        lines: [
          { text: 'Hey', offsetMs: null },
          { text: 'still me', offsetMs: null },
        ],
      },
      { speaker: 'Agent', text: 'Bye', offsetMs: null, lines: [{ text: 'Bye', offsetMs: null }] },
    ]);
  });
});

describe('activeLine', () => {
  it('is the last line started at or before the time', () => {
    const offsets = [141, 1521, 3881, null, 6194];
    expect(activeLine(offsets, 0)).toBe(-1);
    expect(activeLine(offsets, 141)).toBe(0);
    expect(activeLine(offsets, 3000)).toBe(1);
    expect(activeLine(offsets, 6000)).toBe(2);
    expect(activeLine(offsets, 60_000)).toBe(4);
    expect(activeLine([], 10)).toBe(-1);
  });
});

describe('splitTags', () => {
  it('splits, trims and de-duplicates', () => {
    expect(splitTags(' vip, lead,,vip ,')).toEqual(['vip', 'lead']);
  });
});

describe('absoluteInviteUrl', () => {
  it('makes a path absolute on this origin and keeps an absolute URL', async () => {
    const { absoluteInviteUrl } = await import('./Members');
    expect(absoluteInviteUrl('/app/welcome?token=abc', 'http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/app/welcome?token=abc');
    expect(absoluteInviteUrl('https://parley.example/app/welcome?token=x', 'http://127.0.0.1:8080')).toBe(
      'https://parley.example/app/welcome?token=x',
    );
  });
});

describe('phone numbers', () => {
  it('knows the built-in sandbox range', async () => {
    const { isBuiltinSandbox } = await import('./PhoneNumbers');
    expect(isBuiltinSandbox('+12125550100')).toBe(true);
    expect(isBuiltinSandbox('+1 (212) 555-0199')).toBe(true);
    expect(isBuiltinSandbox('+12025550200')).toBe(false);
    expect(isBuiltinSandbox('+442079460000')).toBe(false);
  });
  it('sends a trunk form as the API body; an empty password keeps the stored one', async () => {
    const { trunkBody } = await import('./PhoneNumbers');
    const f = {
      name: ' Main ',
      host: 'sip.example.com',
      port: '5061',
      transport: 'tls' as const,
      username: '',
      password: '',
      from_domain: '',
      inbound_addresses: '203.0.113.0/24\n198.51.100.7/32, ',
      max_concurrent_calls: '',
    };
    expect(trunkBody(f)).toEqual({
      name: 'Main',
      host: 'sip.example.com',
      port: 5061,
      transport: 'tls',
      username: null,
      from_domain: null,
      inbound_addresses: ['203.0.113.0/24', '198.51.100.7/32'],
      max_concurrent_calls: null,
    });
    expect(trunkBody({ ...f, password: 's3cret', max_concurrent_calls: '4' })).toMatchObject({ password: 's3cret', max_concurrent_calls: 4 });
  });
});
