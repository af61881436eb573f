// Typed URL search params of the list pages, so a filtered list is a URL one can share.
// Each `validate*` takes whatever the URL holds (strings, numbers, arrays: the router parses
// JSON-looking values) and returns only the keys that differ from the defaults, so a page's
// plain URL stays plain. The `effective*` helpers fill the defaults back in for the API.

type Raw = Record<string, unknown>;

const MAX_TEXT = 200;

export function text(v: unknown): string | undefined {
  if (typeof v === 'number') v = String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t ? t.slice(0, MAX_TEXT) : undefined;
}

export function nonNegativeInt(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= 1_000_000 ? n : undefined;
}

export function flag(v: unknown): boolean | undefined {
  if (v === true || v === 'true' || v === '1') return true;
  return undefined;
}

export function textList(v: unknown): string[] | undefined {
  const items = Array.isArray(v) ? v : v === undefined ? [] : [v];
  const out: string[] = [];
  for (const item of items) {
    const t = text(item);
    if (t && !out.includes(t)) out.push(t);
  }
  return out.length ? out.slice(0, 20) : undefined;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[]): T | undefined {
  return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

/** Drops keys whose value is undefined, so the URL does not carry them. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ---- Contacts ---------------------------------------------------------------------------------

export const CONTACT_SORT_FIELDS = ['name', 'phone_number', 'email', 'status', 'created', 'updated'] as const;
export type ContactSortField = (typeof CONTACT_SORT_FIELDS)[number];
export type SortDirection = 'asc' | 'desc';
export type ContactSort = `${ContactSortField}_${SortDirection}`;

export const DEFAULT_CONTACT_SORT: ContactSort = 'created_desc';
export const CONTACT_LIMITS = [20, 50] as const;
export const DEFAULT_CONTACT_LIMIT = 20;

export interface ContactsSearch {
  q?: string;
  tags?: string[];
  sort?: ContactSort;
  page?: number;
  limit?: number;
}

export function parseSort(v: unknown): { field: ContactSortField; direction: SortDirection } | undefined {
  if (typeof v !== 'string') return undefined;
  const i = v.lastIndexOf('_');
  if (i <= 0) return undefined;
  const field = oneOf(v.slice(0, i), CONTACT_SORT_FIELDS);
  const direction = oneOf(v.slice(i + 1), ['asc', 'desc'] as const);
  return field && direction ? { field, direction } : undefined;
}

export function validateContactsSearch(raw: Raw): ContactsSearch {
  const sort = parseSort(raw.sort);
  const sortKey = sort ? (`${sort.field}_${sort.direction}` as ContactSort) : undefined;
  const limitN = nonNegativeInt(raw.limit);
  const limit = limitN !== undefined && limitN >= 1 && limitN <= 50 ? limitN : undefined;
  const page = nonNegativeInt(raw.page);
  return compact({
    q: text(raw.q),
    tags: textList(raw.tags),
    sort: sortKey === DEFAULT_CONTACT_SORT ? undefined : sortKey,
    page: page === 0 ? undefined : page,
    limit: limit === DEFAULT_CONTACT_LIMIT ? undefined : limit,
  });
}

export function effectiveContacts(s: ContactsSearch) {
  return {
    search: s.q ?? '',
    tags: s.tags ?? [],
    sort: s.sort ?? DEFAULT_CONTACT_SORT,
    page: s.page ?? 0,
    limit: s.limit ?? DEFAULT_CONTACT_LIMIT,
  };
}

/**
 * Clicking a column header: the same column flips its direction; another column starts
 * ascending (names, numbers) or newest first (dates). Either way back to the first page.
 */
export function toggleSort(s: ContactsSearch, field: ContactSortField): ContactsSearch {
  const current = parseSort(s.sort ?? DEFAULT_CONTACT_SORT)!;
  let direction: SortDirection;
  if (current.field === field) direction = current.direction === 'asc' ? 'desc' : 'asc';
  else direction = field === 'created' || field === 'updated' ? 'desc' : 'asc';
  const sort = `${field}_${direction}` as ContactSort;
  return compact({ ...s, sort: sort === DEFAULT_CONTACT_SORT ? undefined : sort, page: undefined });
}

/** How the header of `field` reads to a screen reader (`aria-sort`). */
export function ariaSort(s: ContactsSearch, field: ContactSortField): 'ascending' | 'descending' | 'none' {
  const current = parseSort(s.sort ?? DEFAULT_CONTACT_SORT)!;
  if (current.field !== field) return 'none';
  return current.direction === 'asc' ? 'ascending' : 'descending';
}

/** A new filter (search or tags) always starts from the first page. */
export function withFilter(s: ContactsSearch, change: Pick<ContactsSearch, 'q' | 'tags'>): ContactsSearch {
  const next = { ...s, ...change, page: undefined };
  return validateContactsSearch(next as Raw);
}

export function withPage(s: ContactsSearch, page: number): ContactsSearch {
  return compact({ ...s, page: page > 0 ? page : undefined });
}

// ---- Paging (shared) --------------------------------------------------------------------------

export interface PageInfo {
  /** 1-based index of the first row shown (0 when there is none). */
  from: number;
  /** 1-based index of the last row shown. */
  to: number;
  total: number;
  hasPrev: boolean;
  hasNext: boolean;
  lastPage: number;
}

export function pageInfo(page: number, limit: number, shown: number, total: number): PageInfo {
  const from = shown > 0 ? page * limit + 1 : 0;
  const to = shown > 0 ? page * limit + shown : 0;
  const lastPage = total > 0 ? Math.ceil(total / limit) - 1 : 0;
  return { from, to, total, hasPrev: page > 0, hasNext: page * limit + shown < total, lastPage };
}

// ---- Voice agents -----------------------------------------------------------------------------

export interface AgentsSearch {
  q?: string;
  archived?: boolean;
  page?: number;
}

export function validateAgentsSearch(raw: Raw): AgentsSearch {
  const page = nonNegativeInt(raw.page);
  return compact({ q: text(raw.q), archived: flag(raw.archived), page: page === 0 ? undefined : page });
}

// ---- Calls ------------------------------------------------------------------------------------

export const CALL_DIRECTIONS = ['outbound', 'inbound'] as const;
export type CallDirection = (typeof CALL_DIRECTIONS)[number];
export const CALL_STATUS_VALUES = [
  'NOT_STARTED',
  'IN_PROGRESS',
  'ENDED',
  'NO_ANSWER',
  'VOICEMAIL',
  'TRANSFERRED',
  'FAILED',
  'VIOLATION',
] as const;

export interface CallsSearch {
  /** Name, number or transcript text. */
  q?: string;
  agent?: string;
  status?: (typeof CALL_STATUS_VALUES)[number];
  direction?: CallDirection;
  /** A day, `YYYY-MM-DD`, inclusive. */
  from?: string;
  /** A day, `YYYY-MM-DD`, inclusive. */
  to?: string;
  page?: number;
}

export function isoDay(v: unknown): string | undefined {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return undefined;
  const d = new Date(`${v}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v ? v : undefined;
}

export function validateCallsSearch(raw: Raw): CallsSearch {
  const page = nonNegativeInt(raw.page);
  const agent = text(raw.agent);
  return compact({
    q: text(raw.q),
    agent: agent && /^[A-Za-z0-9]{1,64}$/.test(agent) ? agent : undefined,
    status: oneOf(raw.status, CALL_STATUS_VALUES),
    direction: oneOf(raw.direction, CALL_DIRECTIONS),
    from: isoDay(raw.from),
    to: isoDay(raw.to),
    page: page === 0 ? undefined : page,
  });
}

export const CALLS_LIMIT = 25;

/**
 * The query of `GET /call`: the days of the filter become instants in the viewer's own time
 * zone (`from` at the start of its day, `to` at the start of the day after, exclusive).
 */
export function callsQuery(s: CallsSearch, tzOffsetMinutes = new Date().getTimezoneOffset()) {
  const startOf = (day: string, plusDays: number) => {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + plusDays);
    return new Date(d.getTime() + tzOffsetMinutes * 60_000).toISOString();
  };
  return {
    search: s.q,
    agent: s.agent,
    status: s.status,
    direction: s.direction,
    from: s.from ? startOf(s.from, 0) : undefined,
    to: s.to ? startOf(s.to, 1) : undefined,
    page: s.page ?? 0,
    limit: CALLS_LIMIT,
  };
}

/** A changed filter starts from the first page. */
export function withCallFilter(s: CallsSearch, change: Partial<Omit<CallsSearch, 'page'>>): CallsSearch {
  return validateCallsSearch({ ...s, ...change, page: undefined } as Raw);
}

/** A redirect target after sign-in: a path inside the dashboard, never another origin. */
export function safeRedirect(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  if (!v.startsWith('/') || v.startsWith('//') || v.startsWith('/\\')) return undefined;
  if (v.startsWith('/signin') || v.startsWith('/welcome')) return undefined;
  return v.slice(0, 2000);
}
