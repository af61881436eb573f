import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { getRouteApi } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { EmptyState, ErrorState, Field, InlineError, Loading, PageHeader, Pagination, StatusBadge } from '@/components/common';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Dialog, DialogClose, DialogContent } from '@/components/ui/dialog';
import { Input, Select } from '@/components/ui/input';
import { Table, TBody, TD, TH, THead, TR } from '@/components/ui/table';
import { del, get, post } from '@/lib/api';
import { formatDateTime } from '@/lib/format';
import {
  ariaSort,
  CONTACT_LIMITS,
  effectiveContacts,
  toggleSort,
  withFilter,
  withPage,
  type ContactSortField,
  type ContactsSearch,
} from '@/lib/search';
import { useTeamId } from '@/lib/session';
import type { Contact, ContactPage } from '@/lib/types';
import { useDebouncedField } from '@/lib/useDebounced';
import { ImportContacts } from './ContactsImport';

const route = getRouteApi('/_auth/contacts');

/** "a, b,,c " -> ["a", "b", "c"] */
export function splitTags(s: string): string[] {
  return [...new Set(s.split(',').map((t) => t.trim()).filter(Boolean))];
}

function useInvalidateContacts() {
  const qc = useQueryClient();
  const teamId = useTeamId();
  return () => qc.invalidateQueries({ queryKey: [teamId, 'contacts'] });
}

// ---- Create / edit ----------------------------------------------------------------------------

interface InfoForm {
  phone_number: string;
  country_code: string;
  name: string;
  email: string;
  tags: string;
  status?: Contact['status'];
}

function ContactFields({ form, set, withTags }: { form: InfoForm; set: (f: InfoForm) => void; withTags: boolean }) {
  return (
    <>
      <div className="grid grid-cols-[7rem_1fr] gap-3">
        <Field label="Country code" hint="For a number without +">
          {(id, hintId) => (
            <Input
              id={id}
              aria-describedby={hintId}
              value={form.country_code}
              onChange={(e) => set({ ...form, country_code: e.target.value })}
              maxLength={5}
            />
          )}
        </Field>
        <Field label="Phone number">
          {(id) => (
            <Input
              id={id}
              type="tel"
              required
              autoComplete="off"
              value={form.phone_number}
              onChange={(e) => set({ ...form, phone_number: e.target.value })}
              placeholder="+12125550100"
            />
          )}
        </Field>
      </div>
      <Field label="Name">
        {(id) => <Input id={id} value={form.name} onChange={(e) => set({ ...form, name: e.target.value })} autoComplete="off" />}
      </Field>
      <Field label="Email">
        {(id) => (
          <Input id={id} type="email" value={form.email} onChange={(e) => set({ ...form, email: e.target.value })} autoComplete="off" />
        )}
      </Field>
      {withTags ? (
        <Field label="Tags" hint="Separated by commas">
          {(id, hintId) => (
            <Input id={id} aria-describedby={hintId} value={form.tags} onChange={(e) => set({ ...form, tags: e.target.value })} />
          )}
        </Field>
      ) : null}
    </>
  );
}

function CreateContact() {
  const empty: InfoForm = { phone_number: '', country_code: '+1', name: '', email: '', tags: '' };
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState(empty);
  const invalidate = useInvalidateContacts();
  const create = useMutation({
    mutationFn: (f: InfoForm) =>
      post<Contact>('/contact/create', {
        phone_number: f.phone_number.trim(),
        country_code: f.country_code.trim() || undefined,
        name: f.name.trim() || undefined,
        email: f.email.trim() || undefined,
        tags: splitTags(f.tags),
      }),
    onSuccess: async () => {
      await invalidate();
      setOpen(false);
      setForm(empty);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(form);
  };
  return (
    <Dialog
      open={open}
      onOpenChange={(o) => {
        setOpen(o);
        if (!o) create.reset();
      }}
    >
      <Button onClick={() => setOpen(true)}>New contact</Button>
      <DialogContent title="New contact" description="A contact with the same number is updated rather than duplicated.">
        <form onSubmit={submit} className="flex flex-col gap-4">
          <ContactFields form={form} set={setForm} withTags />
          <InlineError error={create.error} />
          <div className="flex justify-end gap-2">
            <DialogClose asChild>
              <Button variant="secondary">Cancel</Button>
            </DialogClose>
            <Button type="submit" disabled={!form.phone_number.trim() || create.isPending}>
              {create.isPending ? 'Saving…' : 'Create contact'}
            </Button>
          </div>
        </form>
      </DialogContent>
    </Dialog>
  );
}

function TagEditor({ contact, onChange }: { contact: Contact; onChange: (c: Contact) => void }) {
  const [tag, setTag] = useState('');
  const invalidate = useInvalidateContacts();
  const change = useMutation({
    mutationFn: ({ op, tags }: { op: 'add_tags' | 'remove_tags'; tags: string[] }) =>
      post<Contact>(`/contact/${contact.id}/${op}`, { tags }),
    onSuccess: (c) => {
      onChange(c);
      void invalidate();
    },
  });
  const add = (e: FormEvent) => {
    e.preventDefault();
    const tags = splitTags(tag);
    if (tags.length) change.mutate({ op: 'add_tags', tags }, { onSuccess: () => setTag('') });
  };
  return (
    <section aria-labelledby="tags-h" className="mt-6 border-t border-slate-200 pt-4">
      <h3 id="tags-h" className="text-sm font-semibold text-slate-900">
        Tags
      </h3>
      <ul className="mt-2 flex flex-wrap gap-2" aria-label="Tags of this contact">
        {contact.tags.length === 0 ? <li className="text-sm text-slate-700">No tags</li> : null}
        {contact.tags.map((t) => (
          <li key={t} className="flex items-center gap-1 rounded border border-slate-300 bg-slate-50 py-0.5 pr-0.5 pl-2 text-sm">
            {t}
            <Button
              variant="ghost"
              size="sm"
              className="h-6 px-1.5"
              aria-label={`Remove tag ${t}`}
              disabled={change.isPending}
              onClick={() => change.mutate({ op: 'remove_tags', tags: [t] })}
            >
              ×
            </Button>
          </li>
        ))}
      </ul>
      <form onSubmit={add} className="mt-3 flex items-end gap-2">
        <div className="flex-1">
          <Field label="Add tags" hint="Separated by commas">
            {(id, hintId) => <Input id={id} aria-describedby={hintId} value={tag} onChange={(e) => setTag(e.target.value)} />}
          </Field>
        </div>
        <Button type="submit" variant="secondary" className="mb-5" disabled={!tag.trim() || change.isPending}>
          Add
        </Button>
      </form>
      <InlineError error={change.error} />
    </section>
  );
}

function EditContact({ contact, onClose }: { contact: Contact; onClose: () => void }) {
  const [current, setCurrent] = useState(contact);
  const [form, setForm] = useState<InfoForm>({
    phone_number: contact.phone_number,
    country_code: '+1',
    name: contact.name ?? '',
    email: contact.email ?? '',
    tags: '',
    status: contact.status,
  });
  const invalidate = useInvalidateContacts();
  const save = useMutation({
    mutationFn: (f: InfoForm) =>
      post<Contact>(`/contact/${contact.id}/update_info`, {
        phone_number: f.phone_number.trim(),
        country_code: f.country_code.trim() || undefined,
        name: f.name.trim(),
        email: f.email.trim(),
        status: f.status,
      }),
    onSuccess: async (c) => {
      setCurrent(c);
      await invalidate();
      onClose();
    },
  });
  return (
    <Dialog open onOpenChange={(o) => !o && onClose()}>
      <DialogContent title={`Edit ${contact.name || contact.phone_number}`}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate(form);
          }}
          className="flex flex-col gap-4"
        >
          <ContactFields form={form} set={setForm} withTags={false} />
          <Field label="Status" hint="A DNC (do not call) contact is never called.">
            {(id, hintId) => (
              <Select
                id={id}
                aria-describedby={hintId}
                value={form.status}
                onChange={(e) => setForm({ ...form, status: e.target.value as Contact['status'] })}
              >
                <option value="ACTIVE">Active</option>
                <option value="INACTIVE">Inactive</option>
                <option value="DNC">Do not call (DNC)</option>
              </Select>
            )}
          </Field>
          <InlineError error={save.error} />
          <div className="flex justify-end gap-2">
            <DialogClose asChild>
              <Button variant="secondary">Close</Button>
            </DialogClose>
            <Button type="submit" disabled={!form.phone_number.trim() || save.isPending}>
              {save.isPending ? 'Saving…' : 'Save'}
            </Button>
          </div>
        </form>
        <TagEditor contact={current} onChange={setCurrent} />
      </DialogContent>
    </Dialog>
  );
}

function DeleteContact({ contact, onClose }: { contact: Contact; onClose: () => void }) {
  const invalidate = useInvalidateContacts();
  const remove = useMutation({
    mutationFn: () => del<null>(`/contact/${contact.id}`),
    onSuccess: async () => {
      await invalidate();
      onClose();
    },
  });
  return (
    <Dialog open onOpenChange={(o) => !o && onClose()}>
      <DialogContent
        title="Delete this contact?"
        description={`${contact.name || 'The contact'} (${contact.phone_number}) is removed for good. Past calls keep their copy.`}
      >
        <InlineError error={remove.error} />
        <div className="flex justify-end gap-2">
          <DialogClose asChild>
            <Button variant="secondary">Cancel</Button>
          </DialogClose>
          <Button variant="danger" disabled={remove.isPending} onClick={() => remove.mutate()}>
            {remove.isPending ? 'Deleting…' : 'Delete contact'}
          </Button>
        </div>
      </DialogContent>
    </Dialog>
  );
}

// ---- The table --------------------------------------------------------------------------------

function SortHeader({ search, field, label }: { search: ContactsSearch; field: ContactSortField; label: string }) {
  const navigate = route.useNavigate();
  const sort = ariaSort(search, field);
  return (
    <TH aria-sort={sort}>
      <button
        type="button"
        className="inline-flex items-center gap-1 rounded font-semibold hover:text-slate-900 focus-visible:outline-2 focus-visible:outline-indigo-600"
        onClick={() => navigate({ search: toggleSort(search, field) })}
      >
        {label}
        <span aria-hidden="true" className="w-3 text-slate-700">
          {sort === 'ascending' ? '▲' : sort === 'descending' ? '▼' : ''}
        </span>
      </button>
    </TH>
  );
}

function TagFilter({ search }: { search: ContactsSearch }) {
  const navigate = route.useNavigate();
  const [tag, setTag] = useState('');
  const tags = search.tags ?? [];
  return (
    <div className="flex flex-col gap-1.5">
      <form
        className="flex items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          const add = splitTags(tag);
          if (add.length) navigate({ search: withFilter(search, { tags: [...tags, ...add] }) });
          setTag('');
        }}
      >
        <div className="w-56">
          <Field label="Filter by tag">
            {(id) => <Input id={id} value={tag} onChange={(e) => setTag(e.target.value)} placeholder="Type a tag, press Enter" />}
          </Field>
        </div>
        <Button type="submit" variant="secondary" disabled={!tag.trim()}>
          Add filter
        </Button>
      </form>
      {tags.length ? (
        <ul className="flex flex-wrap items-center gap-2" aria-label="Tag filters (any of)">
          {tags.map((t) => (
            <li key={t} className="flex items-center gap-1 rounded border border-indigo-300 bg-indigo-50 py-0.5 pr-0.5 pl-2 text-sm text-indigo-900">
              {t}
              <Button
                variant="ghost"
                size="sm"
                className="h-6 px-1.5"
                aria-label={`Remove tag filter ${t}`}
                onClick={() => navigate({ search: withFilter(search, { tags: tags.filter((x) => x !== t) }) })}
              >
                ×
              </Button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function ContactsPage() {
  const search = route.useSearch();
  const navigate = route.useNavigate();
  const teamId = useTeamId();
  const q = effectiveContacts(search);
  const [editing, setEditing] = useState<Contact | null>(null);
  const [deleting, setDeleting] = useState<Contact | null>(null);
  const [text, setText] = useDebouncedField(search.q ?? '', (v) =>
    navigate({ search: withFilter(search, { q: v || undefined }), replace: true }),
  );
  const list = useQuery({
    queryKey: [teamId, 'contacts', q],
    queryFn: ({ signal }) => get<ContactPage>('/contact', q, { signal }),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <PageHeader
        title="Contacts"
        description="The people your agents call. A contact marked DNC (do not call) is never called."
        actions={
          <>
            <ImportContacts />
            <CreateContact />
          </>
        }
      />
      <div className="mb-4 flex flex-wrap items-start gap-6">
        <div className="w-72">
          <Field label="Search contacts">
            {(id) => (
              <Input id={id} type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Name, phone or email" />
            )}
          </Field>
        </div>
        <TagFilter search={search} />
        <div className="w-28">
          <Field label="Per page">
            {(id) => (
              <Select
                id={id}
                value={q.limit}
                onChange={(e) => {
                  const limit = Number(e.target.value);
                  navigate({ search: { ...search, limit: limit === 20 ? undefined : limit, page: undefined } });
                }}
              >
                {CONTACT_LIMITS.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </Select>
            )}
          </Field>
        </div>
      </div>
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : (
        <>
          <Table aria-label="Contacts" aria-busy={list.isFetching}>
            <THead>
              <TR>
                <SortHeader search={search} field="name" label="Name" />
                <SortHeader search={search} field="phone_number" label="Phone" />
                <SortHeader search={search} field="email" label="Email" />
                <SortHeader search={search} field="status" label="Status" />
                <TH>Tags</TH>
                <SortHeader search={search} field="created" label="Created" />
                <TH>
                  <span className="sr-only">Actions</span>
                </TH>
              </TR>
            </THead>
            <TBody>
              {list.data.contacts.length === 0 ? (
                <TR>
                  <TD colSpan={7} className="py-8 text-center text-slate-700">
                    {q.search || q.tags.length ? 'No contact matches these filters.' : 'No contacts yet. Create one with “New contact”.'}
                  </TD>
                </TR>
              ) : (
                list.data.contacts.map((c) => (
                  <TR key={c.id} className={c.status === 'DNC' ? 'bg-red-50/60' : undefined}>
                    <TD className="font-medium">{c.name || '—'}</TD>
                    <TD className="font-mono text-xs whitespace-nowrap">{c.phone_number}</TD>
                    <TD className="max-w-56 truncate">{c.email || '—'}</TD>
                    <TD>
                      {c.status === 'DNC' ? (
                        <Badge tone="red" className="whitespace-nowrap">
                          <span aria-hidden="true" className="mr-1">⛔</span>DNC · do not call
                        </Badge>
                      ) : (
                        <StatusBadge value={c.status} />
                      )}
                    </TD>
                    <TD>
                      <span className="flex flex-wrap gap-1">
                        {c.tags.map((t) => (
                          <Badge key={t}>{t}</Badge>
                        ))}
                      </span>
                    </TD>
                    <TD className="whitespace-nowrap">{formatDateTime(c.created)}</TD>
                    <TD className="text-right whitespace-nowrap">
                      <Button variant="secondary" size="sm" onClick={() => setEditing(c)} aria-label={`Edit ${c.name || c.phone_number}`}>
                        Edit
                      </Button>{' '}
                      <Button variant="ghost" size="sm" className="text-red-800" onClick={() => setDeleting(c)} aria-label={`Delete ${c.name || c.phone_number}`}>
                        Delete
                      </Button>
                    </TD>
                  </TR>
                ))
              )}
            </TBody>
          </Table>
          <Pagination
            page={q.page}
            limit={q.limit}
            shown={list.data.contacts.length}
            total={list.data.total_count}
            noun="contacts"
            onPage={(p) => navigate({ search: withPage(search, p) })}
          />
        </>
      )}
      {editing ? <EditContact contact={editing} onClose={() => setEditing(null)} /> : null}
      {deleting ? <DeleteContact contact={deleting} onClose={() => setDeleting(null)} /> : null}
      {list.isSuccess && list.data.contacts.length === 0 && q.page > 0 ? (
        <EmptyState title="This page is past the end">
          <Button variant="link" onClick={() => navigate({ search: withPage(search, 0) })}>
            Back to the first page
          </Button>
        </EmptyState>
      ) : null}
    </>
  );
}
