#!/usr/bin/env node
/**
 * node bench/false-candidates.mjs [rows...] — how many projects doctor's duplicate filter
 * (src/core/duplicates.ts) flags when no (project, name) occurs twice: Laminar's shape, five key
 * names per project, random project ids. Each false candidate costs nothing by itself, but any
 * candidate at all costs doctor one scan of the table to confirm it. Needs `npm run build`.
 */
import { randomUUID } from 'node:crypto';
import { DuplicateCandidates } from '../dist/core/duplicates.js';
import { newTuple, readTuple } from '../dist/db/copy.js';
import { FIELD_COUNT } from '../dist/stores/copy-reader.js';

const NAMES = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'GROQ_API_KEY', 'MISTRAL_API_KEY'];
const scales = process.argv.slice(2).map(Number);

/** A binary COPY tuple holding only what the filter reads: the project id (field 4) and the name (field 3). */
function encode(project, name) {
  const fields = [null, null, null, name, project, null, null, null, null];
  const parts = [Buffer.from([0, fields.length])];
  for (const field of fields) {
    const bytes = field === null ? null : Buffer.from(field);
    const length = Buffer.alloc(4);
    length.writeInt32BE(bytes === null ? -1 : bytes.length);
    parts.push(length);
    if (bytes) parts.push(bytes);
  }
  return Buffer.concat(parts);
}

for (const rows of scales.length > 0 ? scales : [100_000, 300_000, 1_000_000, 3_000_000]) {
  const filter = new DuplicateCandidates();
  const tuple = newTuple(FIELD_COUNT);
  const projects = Math.ceil(rows / NAMES.length);
  const started = performance.now();
  for (let p = 0; p < projects; p++) {
    const project = randomUUID();
    for (let n = 0; n < NAMES.length && p * NAMES.length + n < rows; n++) {
      const bytes = encode(project, NAMES[n]);
      readTuple(bytes, 0, bytes.length, tuple);
      filter.add(tuple);
    }
  }
  const candidates = filter.overflow ? 'overflow' : filter.projects.size;
  console.log(
    `${rows} rows: ${candidates} false candidate projects (${((performance.now() - started) / 1000).toFixed(1)} s with encoding)`,
  );
}
