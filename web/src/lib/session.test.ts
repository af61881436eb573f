import { describe, expect, it } from 'vitest';
import { pickTeam } from './session';
import type { User } from './types';

const user: User = {
  id: 'u',
  email: 'a@b.c',
  name: null,
  csrf_token: 't',
  teams: [
    { id: 't1', name: 'One', role: 'owner' },
    { id: 't2', name: 'Two', role: 'member' },
  ],
};

describe('pickTeam', () => {
  it('keeps the remembered team while the user is in it, else the first', () => {
    expect(pickTeam(user, 't2')).toBe('t2');
    expect(pickTeam(user, 'gone')).toBe('t1');
    expect(pickTeam(user, null)).toBe('t1');
    expect(pickTeam({ ...user, teams: [] }, 't1')).toBeNull();
  });
});
