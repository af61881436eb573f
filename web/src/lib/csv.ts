// CSV for the contacts import: an RFC 4180 parser (quoted fields with commas, doubled quotes
// and line breaks; CRLF, LF or CR line ends; a UTF-8 BOM dropped), the guess of what each
// column is, and the rows as `POST /contact/bulk_create` contacts.

export interface CsvRecord {
  /** The file's line number (1-based) where this record starts. */
  line: number;
  fields: string[];
}

/**
 * Parses the whole text. Records with a single empty field (blank lines) are left out. A
 * quote inside an unquoted field is kept as text (lenient, as spreadsheets write it); an
 * unterminated quoted field runs to the end of the file.
 */
export function parseCsv(text: string, delimiter = ','): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let quoted = false;
  let wasQuoted = false;
  const endField = () => {
    fields.push(field);
    field = '';
    wasQuoted = false;
  };
  const endRecord = () => {
    endField();
    if (!(fields.length === 1 && fields[0] === '')) out.push({ line: recordLine, fields });
    fields = [];
  };
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      if (ch === '\r' || ch === '\n') {
        line++;
        if (ch === '\r' && text[i + 1] === '\n') {
          field += '\r\n';
          i += 2;
          continue;
        }
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === '' && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
      i++;
      continue;
    }
    if (ch === delimiter) {
      endField();
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    field += ch;
    i++;
  }
  if (field !== '' || fields.length || wasQuoted) endRecord();
  return out;
}

/** `;` when the header line has more semicolons than commas (European spreadsheets), else `,`. */
export function sniffDelimiter(text: string): ',' | ';' | '\t' {
  const first = text.split(/\r\n|\n|\r/, 1)[0] ?? '';
  const count = (c: string) => first.split(c).length - 1;
  const best = ([',', ';', '\t'] as const).reduce((a, b) => (count(b) > count(a) ? b : a));
  return count(best) > 0 ? best : ',';
}

/** What a column becomes: `attribute:<name>` stores it in the contact's attributes. */
export type ColumnTarget = 'ignore' | 'phone_number' | 'name' | 'email' | 'tags' | `attribute:${string}`;

/** An attribute name from a header: "Account Id" -> "account_id". */
export function attributeName(header: string): string {
  return (
    header
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'column'
  );
}

/** A first guess from the headers: phone, name, email and tags by their usual names, the rest attributes. */
export function guessMapping(headers: string[]): ColumnTarget[] {
  const taken = new Set<string>();
  return headers.map((h) => {
    const k = h.trim().toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
    let t: ColumnTarget;
    if (/^(phone|phone number|phonenumber|mobile|mobile phone|cell|cell phone|telephone|tel|number|msisdn)$/.test(k)) t = 'phone_number';
    else if (/^(name|full name|fullname|contact name|contact)$/.test(k)) t = 'name';
    else if (/^(e ?mail|email address|mail)$/.test(k)) t = 'email';
    else if (/^(tags?|labels?)$/.test(k)) t = 'tags';
    else if (!k) t = 'ignore';
    else t = `attribute:${attributeName(h)}`;
    if (t === 'phone_number' || t === 'name' || t === 'email' || t === 'tags') {
      if (taken.has(t)) return `attribute:${attributeName(h)}` as ColumnTarget;
      taken.add(t);
    }
    return t;
  });
}

export interface BulkContact {
  phone_number: string;
  name?: string;
  email?: string;
  tags?: string[];
  attributes?: Record<string, string>;
}

/** One CSV row as a contact, by the mapping; `extraTags` go on every row. */
export function rowToContact(fields: string[], mapping: ColumnTarget[], extraTags: string[] = []): BulkContact {
  const c: BulkContact = { phone_number: '' };
  const tags: string[] = [...extraTags];
  const attributes: Record<string, string> = {};
  mapping.forEach((t, i) => {
    const v = (fields[i] ?? '').trim();
    if (t === 'ignore') return;
    if (t === 'phone_number') c.phone_number = v;
    else if (t === 'name') {
      if (v) c.name = v;
    } else if (t === 'email') {
      if (v) c.email = v;
    } else if (t === 'tags') tags.push(...v.split(';').map((x) => x.trim()).filter(Boolean));
    else if (v) attributes[t.slice('attribute:'.length)] = v;
  });
  const uniq = [...new Set(tags)];
  if (uniq.length) c.tags = uniq;
  if (Object.keys(attributes).length) c.attributes = attributes;
  return c;
}

/** What is wrong with a mapping before sending anything (null when none). */
export function mappingProblem(mapping: ColumnTarget[]): string | null {
  const phones = mapping.filter((t) => t === 'phone_number').length;
  if (phones === 0) return 'Pick the column that holds the phone numbers.';
  if (phones > 1) return 'Only one column can be the phone number.';
  for (const one of ['name', 'email', 'tags'] as const) {
    if (mapping.filter((t) => t === one).length > 1) return `Only one column can be the ${one === 'tags' ? 'tags' : one}.`;
  }
  const attrs = mapping.filter((t) => t.startsWith('attribute:'));
  if (new Set(attrs).size !== attrs.length) return 'Two columns map to the same attribute: rename one.';
  return null;
}

/** `[0..n)` in consecutive slices of `size`. */
export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
