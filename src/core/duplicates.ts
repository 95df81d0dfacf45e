/**
 * Duplicate (project, name) rows in provider_api_keys, found during doctor's scan instead of by
 * a GROUP BY over the whole table: that aggregate sorts every row (over a second of Postgres
 * CPU per million rows, on the same two cores doctor decrypts on).
 *
 * Each row's (project_id, name) is added to a Bloom filter of fixed size; a row whose key may
 * have been seen before makes its project a candidate. No duplicate can be missed (the second
 * row of any pair always hits), and false candidates only cost a look-up: the groups are then
 * computed exactly, in SQL, for the candidate projects alone, in doctor's snapshot.
 */
import type { CopyTuple } from '../db/copy.js';
import { FIELD } from '../stores/copy-reader.js';

// 2^25 bits (4 MB) and three probes: about 0.06% false candidates at a million rows, 1.3% at
// three million. Past MAX_CANDIDATES projects the caller falls back to the full aggregate, so
// memory stays bounded whatever the table holds.
const FILTER_BITS_LOG2 = 25;
const PROBES = 3;
const MAX_CANDIDATES = 50_000;

// The running hash: FNV-1a and a multiply-xorshift, side by side (module state: no allocation per row).
let hash1 = 0;
let hash2 = 0;
function hashStart(): void {
  hash1 = 0x811c9dc5;
  hash2 = 0x9747b28c;
}
function hashByte(byte: number): void {
  hash1 = Math.imul(hash1 ^ byte, 0x01000193);
  hash2 = Math.imul(hash2 ^ byte, 0x5bd1e995);
  hash2 ^= hash2 >>> 15;
}
function hashBytes(buffer: Buffer, start: number, end: number): void {
  for (let i = start; i < end; i++) hashByte(buffer[i]!);
}

export class DuplicateCandidates {
  private readonly words = new Uint32Array(1 << (FILTER_BITS_LOG2 - 5));
  private readonly mask = (1 << FILTER_BITS_LOG2) - 1;
  /** Projects (as text) holding a name that may occur twice. */
  readonly projects = new Set<string>();
  /** A candidate row had a NULL project_id (GROUP BY puts NULLs together). */
  nullProject = false;
  /** Too many candidates to list: the caller must run the full aggregate. */
  overflow = false;

  /** Adds a provider_api_keys tuple: its project_id and name (the AAD field holds the name). */
  add(tuple: CopyTuple): void {
    if (this.overflow) return;
    const { buffer, starts, lengths } = tuple;
    // Two 32-bit hashes over the project bytes, a separator, then the name bytes, combined by
    // double hashing for the probes. A NULL project hashes as a value no byte can be (256).
    hashStart();
    const projectLength = lengths[FIELD.projectId]!;
    if (projectLength < 0) hashByte(0x100);
    else hashBytes(buffer, starts[FIELD.projectId]!, starts[FIELD.projectId]! + projectLength);
    hashByte(0x1ff);
    hashBytes(buffer, starts[FIELD.aad]!, starts[FIELD.aad]! + lengths[FIELD.aad]!);
    const h1 = hash1;
    const h2 = hash2 | 1;
    let seen = true;
    for (let probe = 0; probe < PROBES; probe++) {
      const bit = (h1 + Math.imul(probe, h2)) & this.mask;
      const word = bit >>> 5;
      const flag = 1 << (bit & 31);
      const current = this.words[word]!;
      if ((current & flag) === 0) {
        seen = false;
        this.words[word] = current | flag;
      }
    }
    if (!seen) return;
    if (projectLength < 0) this.nullProject = true;
    else this.projects.add(buffer.toString('latin1', starts[FIELD.projectId]!, starts[FIELD.projectId]! + projectLength));
    if (this.projects.size > MAX_CANDIDATES) {
      this.overflow = true;
      this.projects.clear();
    }
  }
}
