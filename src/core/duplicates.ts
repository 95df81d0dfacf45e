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

// 2^24 bits (2 MB) in 512-bit blocks, three probes per block: measured, 17 false candidates
// at 300,000 rows and 1,723 (0.17%) at a million. Past MAX_CANDIDATES projects (about three
// million rows) the caller falls back to the full aggregate, so memory stays bounded whatever
// the table holds.
const FILTER_BITS_LOG2 = 24;
const PROBES = 3;
const MAX_CANDIDATES = 50_000;

/** FNV-1a over `buffer[start, end)`, continuing from `hash`. */
function fnv1a(hash: number, buffer: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ buffer[i]!, 0x01000193);
  return hash;
}

export class DuplicateCandidates {
  private readonly words = new Uint32Array(1 << (FILTER_BITS_LOG2 - 5));
  private readonly blockMask = (1 << (FILTER_BITS_LOG2 - 9)) - 1;
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
    // One 32-bit hash of the project bytes, a separator, then the name bytes (FNV-1a; a NULL
    // project hashes as a value no byte can be, 256); the probes come from it by double hashing
    // with a second hash mixed out of the first (murmur3's finaliser).
    const projectLength = lengths[FIELD.projectId]!;
    let h1 = 0x811c9dc5 | 0;
    if (projectLength < 0) h1 = Math.imul(h1 ^ 0x100, 0x01000193);
    else h1 = fnv1a(h1, buffer, starts[FIELD.projectId]!, starts[FIELD.projectId]! + projectLength);
    h1 = Math.imul(h1 ^ 0x1ff, 0x01000193);
    h1 = fnv1a(h1, buffer, starts[FIELD.aad]!, starts[FIELD.aad]! + lengths[FIELD.aad]!);
    let h2 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
    h2 = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
    h2 = (h2 ^ (h2 >>> 16)) | 1;
    // Blocked: all probes fall in one 64-byte block (16 words) picked by h1, so an add costs
    // one cache miss in the 4 MB filter instead of one per probe.
    const block = (h1 & this.blockMask) << 4;
    let seen = true;
    for (let probe = 0; probe < PROBES; probe++) {
      const bit = (h2 >>> (probe * 9)) & 511;
      const word = block | (bit >>> 5);
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
