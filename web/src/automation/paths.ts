// The variable paths a JSON value offers to templates: `trigger.payload.email`,
// `trigger.payload.leads[0].phone`, … computed from the sample payload a draft automation's
// webhook stored. Keys that are not identifiers are written `["a-b"]` (minijinja reads both).

export interface VarPath {
  path: string;
  /** `string`, `number`, `boolean`, `null`, `object`, `array`. */
  type: string;
  /** A short rendering of the sample value (leaves only). */
  sample?: string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function joinKey(prefix: string, key: string): string {
  if (IDENT.test(key)) return prefix ? `${prefix}.${key}` : key;
  return `${prefix}[${JSON.stringify(key)}]`;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function sampleOf(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

/**
 * Every path under `value`, depth first, containers before their contents. An array lists
 * itself and the paths of its first item (`[0]`). Stops at `maxDepth` levels and `maxPaths`.
 */
export function extractPaths(value: unknown, prefix = 'trigger.payload', maxDepth = 6, maxPaths = 400): VarPath[] {
  const out: VarPath[] = [];
  const walk = (v: unknown, at: string, depth: number) => {
    if (out.length >= maxPaths) return;
    const t = typeOf(v);
    if (at !== prefix || depth > 0) {
      out.push(t === 'object' || t === 'array' ? { path: at, type: t } : { path: at, type: t, sample: sampleOf(v) });
    }
    if (depth >= maxDepth) return;
    if (t === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) walk(child, joinKey(at, k), depth + 1);
    } else if (t === 'array' && (v as unknown[]).length > 0) {
      walk((v as unknown[])[0], `${at}[0]`, depth + 1);
    }
  };
  walk(value, prefix, 0);
  return out;
}
