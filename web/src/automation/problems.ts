// Where the API's validation problems belong. A 400 on save lists `{field, message}` with
// fields like `steps[2] (notify).url`, `steps[0] (check).rules[1].value`, `steps[3]`,
// `trigger.cron`, `name`, `calling.start`, `start` (crates/automation/src/validate/mod.rs).

export interface Problem {
  field: string;
  message: string;
}

export type ProblemPlace =
  | { scope: 'step'; index: number; slug: string | null; path: string; top: string }
  | { scope: 'trigger'; path: string; top: string }
  | { scope: 'doc'; path: string; top: string };

/** The first segment of a path: `rules[1].value` -> `rules`. */
export const topField = (path: string) => path.split(/[.[]/)[0] ?? '';

const STEP = /^steps\[(\d+)\](?: \((.*?)\))?(?:\.(.+))?$/;

export function placeProblem(field: string): ProblemPlace {
  const m = STEP.exec(field);
  if (m) {
    const path = m[3] ?? '';
    return { scope: 'step', index: Number(m[1]), slug: m[2] ?? null, path, top: topField(path) };
  }
  if (field === 'trigger' || field.startsWith('trigger.') || field.startsWith('trigger[')) {
    const path = field.replace(/^trigger\.?/, '');
    return { scope: 'trigger', path, top: topField(path) };
  }
  return { scope: 'doc', path: field, top: topField(field) };
}

export interface LocatedProblems {
  /** By step slug: each problem with the field path inside the step (`''`: the step itself). */
  steps: Record<string, { path: string; top: string; message: string }[]>;
  trigger: { path: string; top: string; message: string }[];
  doc: { path: string; top: string; message: string }[];
}

/**
 * Sorts problems onto the steps (by the slug the API quoted when it is one of `sentSlugs`, else by
 * the index into the steps as they were sent), the trigger and the automation itself.
 */
export function locateProblems(problems: Problem[], sentSlugs: string[]): LocatedProblems {
  const out: LocatedProblems = { steps: {}, trigger: [], doc: [] };
  for (const p of problems) {
    const place = placeProblem(p.field);
    const item = { path: place.path, top: place.top, message: p.message };
    if (place.scope === 'step') {
      const slug = place.slug && sentSlugs.includes(place.slug) ? place.slug : sentSlugs[place.index];
      if (slug !== undefined) (out.steps[slug] ??= []).push(item);
      else out.doc.push({ ...item, path: p.field, top: topField(p.field) });
    } else if (place.scope === 'trigger') out.trigger.push(item);
    else out.doc.push(item);
  }
  return out;
}

/** Problems of one field of a step (`url`; `rules` also gets `rules[1].value`). */
export function problemsFor(list: { top: string; message: string; path: string }[] | undefined, field: string) {
  return (list ?? []).filter((p) => p.top === field);
}
