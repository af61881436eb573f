import { describe, expect, it } from 'vitest';
import {
  ariaSort,
  callsQuery,
  effectiveContacts,
  pageInfo,
  parseSort,
  safeRedirect,
  toggleSort,
  validateAgentsSearch,
  validateCallsSearch,
  validateContactsSearch,
  withFilter,
  withPage,
} from './search';

describe('contacts search params', () => {
  it('a plain URL means the defaults, and the defaults never show in the URL', () => {
    expect(validateContactsSearch({})).toEqual({});
    expect(validateContactsSearch({ sort: 'created_desc', page: 0, limit: 20, q: '  ' })).toEqual({});
    expect(effectiveContacts({})).toEqual({ search: '', tags: [], sort: 'created_desc', page: 0, limit: 20 });
  });

  it('keeps valid values, from strings or numbers', () => {
    expect(validateContactsSearch({ q: ' ann ', tags: ['vip', 'vip', 'lead'], sort: 'name_asc', page: '2', limit: 50 })).toEqual({
      q: 'ann',
      tags: ['vip', 'lead'],
      sort: 'name_asc',
      page: 2,
      limit: 50,
    });
    expect(validateContactsSearch({ tags: 'vip' })).toEqual({ tags: ['vip'] });
  });

  it('drops what the API would refuse', () => {
    expect(validateContactsSearch({ sort: 'password_asc', page: -1, limit: 500 })).toEqual({});
    expect(validateContactsSearch({ sort: 'name_sideways', page: 'x', limit: 0 })).toEqual({});
    expect(validateContactsSearch({ page: 1.5, tags: [1, '', null] })).toEqual({ tags: ['1'] });
  });

  it('parses a sort key into field and direction', () => {
    expect(parseSort('phone_number_desc')).toEqual({ field: 'phone_number', direction: 'desc' });
    expect(parseSort('name')).toBeUndefined();
    expect(parseSort(3)).toBeUndefined();
  });
});

describe('sorting by clicking a header', () => {
  it('another column starts ascending, or newest first for dates; the same column flips', () => {
    const byName = toggleSort({}, 'name');
    expect(byName).toEqual({ sort: 'name_asc' });
    expect(toggleSort(byName, 'name')).toEqual({ sort: 'name_desc' });
    expect(toggleSort({ sort: 'name_desc' }, 'name')).toEqual({ sort: 'name_asc' });
    // created_desc is the default, so it leaves the URL.
    expect(toggleSort(byName, 'created')).toEqual({});
    expect(toggleSort({}, 'created')).toEqual({ sort: 'created_asc' });
  });

  it('goes back to the first page and keeps the filters', () => {
    expect(toggleSort({ q: 'a', tags: ['x'], page: 3, limit: 50 }, 'email')).toEqual({
      q: 'a',
      tags: ['x'],
      sort: 'email_asc',
      limit: 50,
    });
  });

  it('tells screen readers which column sorts and how', () => {
    expect(ariaSort({}, 'created')).toBe('descending');
    expect(ariaSort({}, 'name')).toBe('none');
    expect(ariaSort({ sort: 'name_asc' }, 'name')).toBe('ascending');
  });
});

describe('filters and paging', () => {
  it('a new search or tag filter starts from the first page', () => {
    expect(withFilter({ page: 4, sort: 'name_asc' }, { q: 'bob' })).toEqual({ q: 'bob', sort: 'name_asc' });
    expect(withFilter({ page: 4, tags: ['a'] }, { tags: [] })).toEqual({});
  });

  it('page 0 leaves the URL', () => {
    expect(withPage({ q: 'a', page: 2 }, 0)).toEqual({ q: 'a' });
    expect(withPage({ q: 'a' }, 3)).toEqual({ q: 'a', page: 3 });
  });

  it('computes the rows shown and whether there is a next page', () => {
    expect(pageInfo(0, 20, 20, 45)).toEqual({ from: 1, to: 20, total: 45, hasPrev: false, hasNext: true, lastPage: 2 });
    expect(pageInfo(2, 20, 5, 45)).toEqual({ from: 41, to: 45, total: 45, hasPrev: true, hasNext: false, lastPage: 2 });
    expect(pageInfo(0, 20, 0, 0)).toEqual({ from: 0, to: 0, total: 0, hasPrev: false, hasNext: false, lastPage: 0 });
    expect(pageInfo(1, 20, 20, 40).hasNext).toBe(false);
  });
});

describe('agents and calls search params', () => {
  it('agents: archived is a flag, page 0 is the default', () => {
    expect(validateAgentsSearch({ archived: 'true', page: '0', q: 'x' })).toEqual({ archived: true, q: 'x' });
    expect(validateAgentsSearch({ archived: false })).toEqual({});
  });

  it('calls: keeps known values only', () => {
    expect(
      validateCallsSearch({ agent: 'Ab12Cd34', status: 'NO_ANSWER', direction: 'inbound', from: '2025-03-01', to: '2025-03-31', page: 1 }),
    ).toEqual({ agent: 'Ab12Cd34', status: 'NO_ANSWER', direction: 'inbound', from: '2025-03-01', to: '2025-03-31', page: 1 });
    expect(validateCallsSearch({ agent: '../x', status: 'DONE', direction: 'up', from: '2025-02-30', to: 'yesterday' })).toEqual({});
  });

  it('calls: days become instants in the viewer’s zone, the end day included', () => {
    // UTC+2 (getTimezoneOffset is -120): the 1st starts at 22:00 UTC on the day before.
    expect(callsQuery({ from: '2025-03-01', to: '2025-03-01' }, -120)).toMatchObject({
      from: '2025-02-28T22:00:00.000Z',
      to: '2025-03-01T22:00:00.000Z',
      page: 0,
      limit: 25,
    });
    expect(callsQuery({ to: '2025-12-31' }, 0).to).toBe('2026-01-01T00:00:00.000Z');
    expect(callsQuery({}, 0)).toMatchObject({ from: undefined, to: undefined, agent: undefined, search: undefined });
    expect(callsQuery(validateCallsSearch({ q: ' Alex ' }), 0).search).toBe('Alex');
  });
});

describe('safeRedirect', () => {
  it('only keeps paths inside the dashboard', () => {
    expect(safeRedirect('/contacts?q=a')).toBe('/contacts?q=a');
    expect(safeRedirect('//evil.example/x')).toBeUndefined();
    expect(safeRedirect('/\\evil.example')).toBeUndefined();
    expect(safeRedirect('https://evil.example')).toBeUndefined();
    expect(safeRedirect('/signin?redirect=/x')).toBeUndefined();
    expect(safeRedirect(undefined)).toBeUndefined();
  });
});
