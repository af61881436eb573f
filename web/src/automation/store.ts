// The builder's editing state: the automation document with undo/redo (zundo). Only the
// document is in the history (not the selection). Typing into one field is one undo step: edits
// of the same field within a second are coalesced.
import { temporal } from 'zundo';
import { createStore } from 'zustand/vanilla';
import {
  defaultStepFields,
  edgeFields,
  freshSlug,
  type AutomationDoc,
  type Step,
  type StepType,
  type Trigger,
} from './model';
import { startSlug } from './graph';

export interface BuilderState {
  doc: AutomationDoc;
  /** The selected step's slug, `'__trigger'`, or null. */
  selected: string | null;
  /** Replaces the document (load, or after a save) and forgets the history. */
  load: (doc: AutomationDoc) => void;
  select: (slug: string | null) => void;
  setName: (name: string) => void;
  setTrigger: (t: Trigger) => void;
  /** Sets top-level fields (time zone, calling rules). */
  patchDoc: (patch: Partial<AutomationDoc>) => void;
  /** Sets fields of a step (not its slug or edges; see rename/connect). */
  updateStep: (slug: string, patch: Record<string, unknown>) => void;
  /** Renames a step and every edge (and `start`) that names it. False if the slug is taken. */
  renameStep: (slug: string, to: string) => boolean;
  /**
   * Adds a step of `type` after `after` (a step: on its first edge field, the new step taking
   * over where that edge went; the trigger: as the new start), or at the end of the main chain.
   * Returns the new slug.
   */
  addStep: (type: StepType, after?: string | null) => string;
  /** Removes a step; edges into it are redirected to its `next` (or cleared). */
  removeStep: (slug: string) => void;
  /** Points `field` of `source` (or the trigger's start, source `'__trigger'`) at `target`. */
  connect: (source: string, field: string, target: string | null) => void;
}

export const TRIGGER = '__trigger';

function mapSteps(doc: AutomationDoc, f: (s: Step) => Step): AutomationDoc {
  return { ...doc, steps: doc.steps.map(f) };
}

/** The last step of the chain that starts at the start slug, following `next` (or `else`). */
function chainEnd(doc: AutomationDoc): Step | undefined {
  let cur = doc.steps.find((s) => s.slug === startSlug(doc));
  const seen = new Set<string>();
  while (cur && !seen.has(cur.slug)) {
    seen.add(cur.slug);
    const f = cur.type === 'condition' ? 'else' : 'next';
    const nxt = typeof cur[f] === 'string' ? doc.steps.find((s) => s.slug === cur![f]) : undefined;
    if (!nxt) return cur;
    cur = nxt;
  }
  return cur;
}

export function createBuilderStore(initial: AutomationDoc) {
  let coalesceKey: string | null = null;
  let lastKey: string | null = null;
  let lastAt = 0;
  return createStore<BuilderState>()(
    temporal(
      (set, get) => ({
        doc: initial,
        selected: null,
        load: (doc) => {
          coalesceKey = null;
          set({ doc });
        },
        select: (slug) => set({ selected: slug }),
        setName: (name) => {
          coalesceKey = 'name';
          set({ doc: { ...get().doc, name } });
        },
        setTrigger: (trigger) => {
          coalesceKey = null;
          set({ doc: { ...get().doc, trigger } });
        },
        patchDoc: (patch) => {
          const keys = Object.keys(patch);
          coalesceKey = keys.length === 1 ? `doc.${keys[0]}` : null;
          set({ doc: { ...get().doc, ...patch } });
        },
        updateStep: (slug, patch) => {
          const keys = Object.keys(patch);
          coalesceKey = keys.length === 1 ? `${slug}.${keys[0]}` : null;
          set({ doc: mapSteps(get().doc, (s) => (s.slug === slug ? { ...s, ...patch } : s)) });
        },
        renameStep: (slug, to) => {
          const doc = get().doc;
          if (slug === to) return true;
          if (doc.steps.some((s) => s.slug === to)) return false;
          coalesceKey = null;
          const next = mapSteps(doc, (s) => {
            const out: Step = s.slug === slug ? { ...s, slug: to } : { ...s };
            for (const f of edgeFields(s.type)) if (out[f] === slug) out[f] = to;
            return out;
          });
          if (doc.start === slug) next.start = to;
          set({ doc: next, selected: get().selected === slug ? to : get().selected });
          return true;
        },
        addStep: (type, after) => {
          coalesceKey = null;
          const doc = get().doc;
          const slug = freshSlug(type, doc.steps.map((s) => s.slug));
          const step: Step = { slug, type, ...defaultStepFields(type) } as Step;
          let steps = [...doc.steps];
          let start = doc.start;
          const own = edgeFields(type)[0] === 'body' ? 'next' : edgeFields(type)[0];
          if (after === TRIGGER) {
            const first = startSlug(doc);
            if (first && own) step[own] = first;
            steps = [step, ...steps];
            // Without `start` the first listed step starts the run: that is the new one now.
            start = doc.start ? slug : undefined;
          } else {
            const anchor = after ? steps.find((s) => s.slug === after) : chainEnd(doc);
            const field = anchor ? edgeFields(anchor.type)[0] : undefined;
            if (anchor && field) {
              const old = anchor[field];
              if (typeof old === 'string' && old && own) step[own] = old;
              steps = steps.map((s) => (s.slug === anchor.slug ? { ...s, [field]: slug } : s));
            }
            const at = anchor ? steps.findIndex((s) => s.slug === anchor.slug) + 1 : steps.length;
            steps.splice(at, 0, step);
          }
          const next: AutomationDoc = { ...doc, steps };
          if (start) next.start = start;
          else delete next.start;
          set({ doc: next, selected: slug });
          return slug;
        },
        removeStep: (slug) => {
          coalesceKey = null;
          const doc = get().doc;
          const gone = doc.steps.find((s) => s.slug === slug);
          if (!gone) return;
          const heir = typeof gone.next === 'string' && gone.next ? gone.next : null;
          const steps = doc.steps
            .filter((s) => s.slug !== slug)
            .map((s) => {
              const out: Step = { ...s };
              for (const f of edgeFields(s.type)) if (out[f] === slug) out[f] = heir;
              return out;
            });
          const next: AutomationDoc = { ...doc, steps };
          if (doc.start === slug) {
            if (heir) next.start = heir;
            else delete next.start;
          } else if (!doc.start && doc.steps[0]?.slug === slug && heir && steps[0]?.slug !== heir) {
            next.start = heir;
          }
          set({ doc: next, selected: get().selected === slug ? null : get().selected });
        },
        connect: (source, field, target) => {
          coalesceKey = null;
          const doc = get().doc;
          if (source === TRIGGER) {
            const next = { ...doc };
            if (target) next.start = target;
            else delete next.start;
            set({ doc: next });
            return;
          }
          set({ doc: mapSteps(doc, (s) => (s.slug === source ? { ...s, [field]: target } : s)) });
        },
      }),
      {
        partialize: (s) => ({ doc: s.doc }),
        equality: (a, b) => a.doc === b.doc,
        limit: 200,
        handleSet: (handleSet) => (pastState, replace, currentState, delta) => {
          const now = Date.now();
          if (coalesceKey && coalesceKey === lastKey && now - lastAt < 1000) {
            lastAt = now;
            return;
          }
          lastKey = coalesceKey;
          lastAt = now;
          (handleSet as (...a: unknown[]) => void)(pastState, replace, currentState, delta);
        },
      },
    ),
  );
}

export type BuilderStore = ReturnType<typeof createBuilderStore>;

/** Loads a document and forgets the undo history (a fresh page, or after a save). */
export function resetTo(store: BuilderStore, doc: AutomationDoc) {
  store.getState().load(doc);
  store.temporal.getState().clear();
}
