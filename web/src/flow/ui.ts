// The editor's view state that is not part of the draft: which fields and nodes the person
// touched (validation shows only there, or everywhere after a Publish attempt), the problems
// shown, and the autosave status. Node components read their own problem count by selector,
// so a change elsewhere does not re-render them.
import { create } from 'zustand';
import type { Problem } from './graph';

export type SaveStatus = 'idle' | 'pending' | 'saving' | 'saved' | 'error';

interface UiState {
  touched: Set<string>;
  showAll: boolean;
  /** Problems from the last save (located on the flow that was sent). */
  serverProblems: Problem[];
  /** Every problem (client and server), shown or not. */
  problems: Problem[];
  /** Visible problems per node id (client and server, touched only). */
  nodeProblems: Record<string, string[]>;
  save: { status: SaveStatus; at: string | null; error: string | null };
  /** The node a "Test in browser" call is at (lit on the canvas), or null. */
  liveNode: string | null;
  touch: (key: string) => void;
  setShowAll: (v: boolean) => void;
  reset: () => void;
}

export const useUi = create<UiState>((set, get) => ({
  touched: new Set(),
  showAll: false,
  serverProblems: [],
  problems: [],
  nodeProblems: {},
  save: { status: 'idle', at: null, error: null },
  liveNode: null,
  touch: (key) => {
    if (get().touched.has(key)) return;
    const t = new Set(get().touched);
    t.add(key);
    set({ touched: t });
  },
  setShowAll: (showAll) => set({ showAll }),
  reset: () => set({ touched: new Set(), showAll: false, serverProblems: [], problems: [], nodeProblems: {}, save: { status: 'idle', at: null, error: null }, liveNode: null }),
}));

/** Keys of the touched set: a node, a field of a node, a setting. */
export const nodeKey = (id: string) => `node:${id}`;
export const fieldKey = (id: string, field: string) => `field:${id}:${field}`;
export const settingKey = (f: string) => `setting:${f}`;
