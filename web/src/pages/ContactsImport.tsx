// Contacts CSV import: pick a file (parsed here, in the browser), map each column to a contact
// field, pick the default country code, then send the rows in batches of 500 to
// `POST /contact/bulk_create` with a progress bar; rows the server refused are listed with their
// CSV line, their values and the reason.
import { useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { Field, InlineError } from '@/components/common';
import { Button } from '@/components/ui/button';
import { Dialog, DialogClose, DialogContent } from '@/components/ui/dialog';
import { Input, Select } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { errorMessage, post } from '@/lib/api';
import {
  attributeName,
  batches,
  guessMapping,
  mappingProblem,
  parseCsv,
  rowToContact,
  sniffDelimiter,
  type BulkContact,
  type ColumnTarget,
  type CsvRecord,
} from '@/lib/csv';
import { useTeamId } from '@/lib/session';

export const BATCH_SIZE = 500;
const splitTags = (s: string) => [...new Set(s.split(',').map((t) => t.trim()).filter(Boolean))];
const MAX_ROWS = 50_000;

export const COUNTRY_CODES: [string, string][] = [
  ['+1', 'United States, Canada (+1)'],
  ['+44', 'United Kingdom (+44)'],
  ['+353', 'Ireland (+353)'],
  ['+33', 'France (+33)'],
  ['+49', 'Germany (+49)'],
  ['+34', 'Spain (+34)'],
  ['+39', 'Italy (+39)'],
  ['+31', 'Netherlands (+31)'],
  ['+32', 'Belgium (+32)'],
  ['+41', 'Switzerland (+41)'],
  ['+46', 'Sweden (+46)'],
  ['+61', 'Australia (+61)'],
  ['+64', 'New Zealand (+64)'],
  ['+91', 'India (+91)'],
  ['+52', 'Mexico (+52)'],
  ['+55', 'Brazil (+55)'],
  ['+81', 'Japan (+81)'],
  ['+65', 'Singapore (+65)'],
  ['+27', 'South Africa (+27)'],
];

interface RowError {
  line: number;
  fields: string[];
  message: string;
}

interface Result {
  created: number;
  failed: number;
  errors: RowError[];
  /** The import stopped (a whole batch failed): what was left unsent. */
  stopped: string | null;
}

type Stage = { kind: 'pick' } | { kind: 'map' } | { kind: 'sending'; done: number; total: number } | { kind: 'done'; result: Result };

const FIXED: [ColumnTarget, string][] = [
  ['ignore', 'Ignore'],
  ['phone_number', 'Phone number'],
  ['name', 'Name'],
  ['email', 'Email'],
  ['tags', 'Tags (split on ;)'],
];

function MappingSelect({ header, value, onChange, label }: { header: string; value: ColumnTarget; onChange: (t: ColumnTarget) => void; label: string }) {
  const own = `attribute:${attributeName(header)}` as ColumnTarget;
  const attr = value.startsWith('attribute:');
  return (
    <div className="flex flex-col gap-1">
      <Select aria-label={label} value={attr ? 'attribute' : value} onChange={(e) => onChange(e.target.value === 'attribute' ? own : (e.target.value as ColumnTarget))}>
        {FIXED.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
        <option value="attribute">Attribute…</option>
      </Select>
      {attr ? (
        <Input
          aria-label={`${label}: attribute name`}
          value={value.slice('attribute:'.length)}
          onChange={(e) => onChange(`attribute:${e.target.value.replace(/\s+/g, '_')}` as ColumnTarget)}
          className="h-8 font-mono text-xs"
        />
      ) : null}
    </div>
  );
}

export function ImportContacts() {
  const teamId = useTeamId();
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const [stage, setStage] = useState<Stage>({ kind: 'pick' });
  const [fileName, setFileName] = useState('');
  const [fileError, setFileError] = useState<string | null>(null);
  const [headers, setHeaders] = useState<string[]>([]);
  const [rows, setRows] = useState<CsvRecord[]>([]);
  const [mapping, setMapping] = useState<ColumnTarget[]>([]);
  const [country, setCountry] = useState('+1');
  const [tagAll, setTagAll] = useState('');
  const cancelled = useRef(false);

  const reset = () => {
    setStage({ kind: 'pick' });
    setFileName('');
    setFileError(null);
    setHeaders([]);
    setRows([]);
    setMapping([]);
    setTagAll('');
  };

  const onFile = async (file: File | undefined) => {
    setFileError(null);
    if (!file) return;
    setFileName(file.name);
    let text: string;
    try {
      text = await file.text();
    } catch (e) {
      setFileError(`The file could not be read: ${errorMessage(e)}`);
      return;
    }
    const records = parseCsv(text, sniffDelimiter(text));
    if (records.length < 2) {
      setFileError('The file needs a header line and at least one row.');
      return;
    }
    if (records.length - 1 > MAX_ROWS) {
      setFileError(`The file has ${records.length - 1} rows; import at most ${MAX_ROWS} at once.`);
      return;
    }
    const head = records[0]!.fields.map((h, i) => h.trim() || `Column ${i + 1}`);
    setHeaders(head);
    setRows(records.slice(1));
    setMapping(guessMapping(head));
    setStage({ kind: 'map' });
  };

  const problem = stage.kind === 'map' ? mappingProblem(mapping) : null;

  const start = async () => {
    cancelled.current = false;
    const extra = splitTags(tagAll);
    const contacts: BulkContact[] = rows.map((r) => rowToContact(r.fields, mapping, extra));
    const parts = batches(
      contacts.map((c, i) => ({ c, i })),
      BATCH_SIZE,
    );
    const result: Result = { created: 0, failed: 0, errors: [], stopped: null };
    let done = 0;
    setStage({ kind: 'sending', done, total: contacts.length });
    for (const part of parts) {
      if (cancelled.current) {
        result.stopped = `Stopped: ${contacts.length - done} rows were not sent.`;
        break;
      }
      try {
        const r = await post<{ results: ({ row: number; contact_id: string } | { row: number; error: string })[]; created: number; failed: number }>(
          '/contact/bulk_create',
          { contacts: part.map((p) => p.c), country_code: country, lead_source: 'DASHBOARD_BULK_UPLOAD' },
        );
        result.created += r.created;
        result.failed += r.failed;
        for (const x of r.results) {
          if ('error' in x) {
            const rec = rows[part[x.row]?.i ?? -1];
            if (rec) result.errors.push({ line: rec.line, fields: rec.fields, message: x.error });
          }
        }
      } catch (e) {
        result.stopped = `The import stopped at CSV line ${rows[part[0]!.i]!.line}: ${errorMessage(e)}. ${contacts.length - done} rows were not imported.`;
        break;
      }
      done += part.length;
      setStage({ kind: 'sending', done, total: contacts.length });
    }
    result.errors.sort((a, b) => a.line - b.line);
    await qc.invalidateQueries({ queryKey: [teamId, 'contacts'] });
    setStage({ kind: 'done', result });
  };

  const preview = rows.slice(0, 3);
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        if (!o && stage.kind === 'sending') return; // finish or stop first
        setOpen(o);
        if (!o) reset();
      }}
    >
      <Button variant="secondary" onClick={() => setOpen(true)}>
        Import CSV
      </Button>
      <DialogContent
        title="Import contacts from CSV"
        description="The first line names the columns. A contact with the same phone number is updated, not duplicated."
        className="w-[min(56rem,calc(100vw-2rem))]"
      >
        {stage.kind === 'pick' ? (
          <div className="flex flex-col gap-3">
            <Field label="CSV file" hint="Comma- or semicolon-separated, UTF-8; quoted fields may hold commas and line breaks.">
              {(id, hintId) => (
                <input
                  id={id}
                  type="file"
                  accept=".csv,text/csv,text/plain"
                  aria-describedby={hintId}
                  onChange={(e) => void onFile(e.target.files?.[0])}
                  className="text-sm text-slate-900 file:mr-3 file:rounded-md file:border file:border-slate-300 file:bg-white file:px-3 file:py-1.5 file:text-sm file:font-medium"
                />
              )}
            </Field>
            {fileError ? (
              <p role="alert" className="text-sm text-red-800">
                {fileError}
              </p>
            ) : null}
          </div>
        ) : null}

        {stage.kind === 'map' ? (
          <div className="flex flex-col gap-4">
            <p className="text-sm text-slate-900">
              <span className="font-medium">{fileName}</span>: {rows.length} {rows.length === 1 ? 'row' : 'rows'}. Choose what each column is.
            </p>
            <div className="overflow-x-auto">
              <Table aria-label="Column mapping">
                <THead>
                  <TR>
                    <TH>Column</TH>
                    <TH>Imported as</TH>
                    <TH>First values</TH>
                  </TR>
                </THead>
                <TBody>
                  {headers.map((h, i) => (
                    <TR key={i}>
                      <TD className="font-medium">{h}</TD>
                      <TD className="w-56">
                        <MappingSelect
                          header={h}
                          label={`Column ${h}`}
                          value={mapping[i] ?? 'ignore'}
                          onChange={(t) => setMapping(mapping.map((m, j) => (j === i ? t : m)))}
                        />
                      </TD>
                      <TD className="max-w-72 truncate text-xs text-slate-700">
                        {preview
                          .map((r) => r.fields[i] ?? '')
                          .filter(Boolean)
                          .join(' · ') || '—'}
                      </TD>
                    </TR>
                  ))}
                </TBody>
              </Table>
            </div>
            <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
              <Field
                label="Default country code"
                hint="A number written with + and its country code (+442079460000) is used as written. A number without + (020 7946 0000, 2125550100) is read as a number of this country."
              >
                {(id, hintId) => (
                  <Select id={id} aria-describedby={hintId} value={country} onChange={(e) => setCountry(e.target.value)}>
                    {COUNTRY_CODES.map(([v, l]) => (
                      <option key={v} value={v}>
                        {l}
                      </option>
                    ))}
                  </Select>
                )}
              </Field>
              <Field label="Tag every imported contact" hint="Optional, separated by commas (added to a tags column’s).">
                {(id, hintId) => <Input id={id} aria-describedby={hintId} value={tagAll} onChange={(e) => setTagAll(e.target.value)} placeholder="import-2026-12" />}
              </Field>
            </div>
            {problem ? (
              <p role="alert" className="text-sm text-red-800">
                {problem}
              </p>
            ) : null}
            <div className="flex justify-end gap-2">
              <Button variant="secondary" onClick={reset}>
                Choose another file
              </Button>
              <Button disabled={!!problem} onClick={() => void start()}>
                Import {rows.length} {rows.length === 1 ? 'contact' : 'contacts'}
              </Button>
            </div>
          </div>
        ) : null}

        {stage.kind === 'sending' ? (
          <div className="flex flex-col gap-3">
            <p id="import-progress-label" className="text-sm text-slate-900">
              Importing… {stage.done} of {stage.total} rows sent
            </p>
            <div
              role="progressbar"
              aria-labelledby="import-progress-label"
              aria-valuemin={0}
              aria-valuemax={stage.total}
              aria-valuenow={stage.done}
              className="h-3 w-full overflow-hidden rounded bg-slate-200"
            >
              <div className="h-full bg-indigo-700 transition-[width]" style={{ width: `${stage.total ? (100 * stage.done) / stage.total : 0}%` }} />
            </div>
            <div className="flex justify-end">
              <Button variant="secondary" onClick={() => (cancelled.current = true)}>
                Stop after this batch
              </Button>
            </div>
          </div>
        ) : null}

        {stage.kind === 'done' ? (
          <div className="flex flex-col gap-4">
            <div
              role="progressbar"
              aria-label="Import progress"
              aria-valuemin={0}
              aria-valuemax={rows.length}
              aria-valuenow={stage.result.created + stage.result.failed}
              className="h-3 w-full overflow-hidden rounded bg-slate-200"
            >
              <div className="h-full bg-indigo-700" style={{ width: `${rows.length ? (100 * (stage.result.created + stage.result.failed)) / rows.length : 0}%` }} />
            </div>
            <p role="status" className="text-sm text-slate-900">
              <span className="font-semibold">{stage.result.created}</span> imported,{' '}
              <span className={stage.result.failed ? 'font-semibold text-red-800' : 'font-semibold'}>{stage.result.failed}</span> refused.
            </p>
            {stage.result.stopped ? <InlineError error={new Error(stage.result.stopped)} /> : null}
            {stage.result.errors.length ? (
              <div className="max-h-80 overflow-auto">
                <Table aria-label="Rows not imported">
                  <THead>
                    <TR>
                      <TH>CSV line</TH>
                      <TH>Row</TH>
                      <TH>Why</TH>
                    </TR>
                  </THead>
                  <TBody>
                    {stage.result.errors.map((e) => (
                      <TR key={e.line}>
                        <TD className="tabular-nums">{e.line}</TD>
                        <TD className="max-w-80 truncate font-mono text-xs" title={e.fields.join(', ')}>
                          {e.fields.join(', ')}
                        </TD>
                        <TD className="text-red-800">{e.message}</TD>
                      </TR>
                    ))}
                  </TBody>
                </Table>
              </div>
            ) : null}
            <div className="flex justify-end gap-2">
              <Button variant="secondary" onClick={reset}>
                Import another file
              </Button>
              <DialogClose asChild>
                <Button>Done</Button>
              </DialogClose>
            </div>
          </div>
        ) : null}
      </DialogContent>
    </Dialog>
  );
}
