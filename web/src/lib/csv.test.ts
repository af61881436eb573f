import { describe, expect, it } from 'vitest';
import { attributeName, batches, guessMapping, mappingProblem, parseCsv, rowToContact, sniffDelimiter } from './csv';

const fields = (text: string) => parseCsv(text).map((r) => r.fields);

describe('parseCsv (RFC 4180)', () => {
  it('splits records and fields, CRLF or LF, with or without a final line end', () => {
    expect(fields('a,b\r\n1,2\r\n')).toEqual([['a', 'b'], ['1', '2']]);
    expect(fields('a,b\n1,2')).toEqual([['a', 'b'], ['1', '2']]);
    expect(fields('a,b\r1,2\r')).toEqual([['a', 'b'], ['1', '2']]);
  });
  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    expect(fields('name,note\n"Morgan, Alex","said ""hi""\nthen left"\n')).toEqual([
      ['name', 'note'],
      ['Morgan, Alex', 'said "hi"\nthen left'],
    ]);
  });
  it('drops a UTF-8 BOM and keeps empty fields', () => {
    expect(fields('\uFEFFphone,,x\n1,,\n')).toEqual([['phone', '', 'x'], ['1', '', '']]);
  });
  it('skips blank lines and numbers records by the line they start on', () => {
    const r = parseCsv('h\n\n"a\nb"\nc\r\n\r\nd');
    expect(r).toEqual([
      { line: 1, fields: ['h'] },
      { line: 3, fields: ['a\nb'] },
      { line: 5, fields: ['c'] },
      { line: 7, fields: ['d'] },
    ]);
  });
  it('leaves out a record of one empty field and keeps a stray quote mid-field as text', () => {
    expect(fields('""\nab"c,d')).toEqual([['ab"c', 'd']]);
  });
  it('takes another delimiter, and sniffs it from the header', () => {
    expect(parseCsv('a;b\n1;2', ';').map((r) => r.fields)).toEqual([['a', 'b'], ['1', '2']]);
    expect(sniffDelimiter('phone;name;email\n1,2;x;y')).toBe(';');
    expect(sniffDelimiter('phone,name\n')).toBe(',');
    expect(sniffDelimiter('phone\n')).toBe(',');
  });
});

describe('mapping', () => {
  it('guesses from usual header names, the rest as attributes', () => {
    expect(guessMapping(['Phone Number', 'Full name', 'E-mail', 'Tags', 'Account Id', ''])).toEqual([
      'phone_number',
      'name',
      'email',
      'tags',
      'attribute:account_id',
      'ignore',
    ]);
    // A second "phone" column is not a second phone number.
    expect(guessMapping(['mobile', 'phone'])).toEqual(['phone_number', 'attribute:phone']);
    expect(attributeName('  Plan (2024) ')).toBe('plan_2024');
  });
  it('builds a contact from a row: tags split on ;, empty values left out', () => {
    const m = guessMapping(['phone', 'name', 'email', 'tags', 'plan', 'skip']);
    m[5] = 'ignore';
    expect(rowToContact([' +12125550100 ', 'Alex', '', 'vip; new;;vip', 'gold', 'x'], m, ['import'])).toEqual({
      phone_number: '+12125550100',
      name: 'Alex',
      tags: ['import', 'vip', 'new'],
      attributes: { plan: 'gold' },
    });
    expect(rowToContact(['2125550101'], ['phone_number'])).toEqual({ phone_number: '2125550101' });
  });
  it('refuses a mapping without exactly one phone column or with duplicates', () => {
    expect(mappingProblem(['name'])).toMatch(/phone/);
    expect(mappingProblem(['phone_number', 'phone_number'])).toMatch(/one column/);
    expect(mappingProblem(['phone_number', 'email', 'email'])).toMatch(/email/);
    expect(mappingProblem(['phone_number', 'attribute:a', 'attribute:a'])).toMatch(/attribute/);
    expect(mappingProblem(['phone_number', 'name', 'ignore'])).toBeNull();
  });
  it('batches', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([], 500)).toEqual([]);
  });
});
