#!/usr/bin/env node
// Prints the gzip size of the JS and CSS a first visit downloads for each page of the built
// dashboard (dist/): the entry chunk and its static imports, plus the page's lazy chunk and
// its static imports. Fails if any page is over the budget (300 KB gzip).
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');
const assets = path.join(dist, 'assets');
const BUDGET = 300 * 1024;
const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
const entry = /src="\/app\/assets\/([^"]+\.js)"/.exec(html)?.[1];
const css = [...html.matchAll(/href="\/app\/assets\/([^"]+\.css)"/g)].map((m) => m[1]);
if (!entry) throw new Error('no entry script in dist/index.html');

const gz = (f) => gzipSync(readFileSync(path.join(assets, f))).length;
function closure(start) {
  const seen = new Set();
  const todo = [start];
  while (todo.length) {
    const f = todo.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    const src = readFileSync(path.join(assets, f), 'utf8');
    // Static imports only (`from"./x.js"` and bare `import"./x.js"`), not import().
    for (const m of src.matchAll(/(?:from|import)\s*"\.\/([^"]+\.js)"/g)) todo.push(m[1]);
  }
  return seen;
}

const base = closure(entry);
let over = false;
for (const page of readdirSync(assets).filter((f) => /^[A-Z][A-Za-z]+-[^.]+\.js$/.test(f)).sort()) {
  const files = new Set([...base, ...closure(page), ...css]);
  const total = [...files].reduce((n, f) => n + gz(f), 0);
  if (total > BUDGET) over = true;
  console.log(`${/^[A-Za-z]+/.exec(page)[0].padEnd(14)} ${(total / 1024).toFixed(1).padStart(7)} KB gzip (${files.size} files)`);
}
process.exit(over ? 1 : 0);
