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
import { FIELD, fieldUuid, type SealedEncoding } from '../stores/copy-reader.js';

// 2^26 bits (8 MB, allocated on the first add) in 512-bit blocks, eight probes per block, probe
// positions from two independent 32-bit hashes (64 bits: two different keys look alike to the
// filter only by chance, never because one hash collided). Measured (bench/false-candidates.mjs):
// no false candidate at 100,000, 300,000 or a million rows, so no look-up at all when nothing is
// duplicated (the look-up scans the whole table: about 0.2 s per million rows); 52 at three
// million. Past MAX_CANDIDATES projects the caller falls back to the full aggregate, so memory
// stays bounded whatever the table holds.
const FILTER_BITS_LOG2 = 26;
const PROBES = 8;
const MAX_CANDIDATES = 50_000;

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

// Two FNV-1a style hashes of the same bytes, computed in one pass: different offsets and odd
// multipliers (FNV's own prime, and another).
const PRIME_A = 0x01000193;
const PRIME_B = 0x2f0fe7c9;

export class DuplicateCandidates {
  private words: Uint32Array | null = null;
  private readonly blockMask = (1 << (FILTER_BITS_LOG2 - 9)) - 1;
  /** Projects (as text) holding a name that may occur twice. */
  readonly projects = new Set<string>();
  /** A candidate row had a NULL project_id (GROUP BY puts NULLs together). */
  nullProject = false;
  /** Too many candidates to list: the caller must run the full aggregate. */
  overflow = false;

  /** `encoding`: how the scan's tuples carry the project id (text, or a uuid's 16 bytes). */
  constructor(private readonly encoding: SealedEncoding = 'hex') {}

  /** Adds a provider_api_keys tuple: its project_id and name (the AAD field holds the name). */
  add(tuple: CopyTuple): void {
    if (this.overflow) return;
    const words = (this.words ??= new Uint32Array(1 << (FILTER_BITS_LOG2 - 5)));
    const { buffer, starts, lengths } = tuple;
    // The project bytes (as the scan sends them: one form per scan), a separator no byte can be
    // (0x1ff), then the name bytes; a NULL project hashes as another value no byte can be (0x100).
    const projectLength = lengths[FIELD.projectId]!;
    const projectStart = starts[FIELD.projectId]!;
    let a = 0x811c9dc5 | 0;
    let b = 0x050c5d1f;
    if (projectLength < 0) {
      a = Math.imul(a ^ 0x100, PRIME_A);
      b = Math.imul(b ^ 0x100, PRIME_B);
    }
    for (let i = projectStart, end = projectStart + Math.max(0, projectLength); i < end; i++) {
      a = Math.imul(a ^ buffer[i]!, PRIME_A);
      b = Math.imul(b ^ buffer[i]!, PRIME_B);
    }
    a = Math.imul(a ^ 0x1ff, PRIME_A);
    b = Math.imul(b ^ 0x1ff, PRIME_B);
    for (let i = starts[FIELD.aad]!, end = i + lengths[FIELD.aad]!; i < end; i++) {
      a = Math.imul(a ^ buffer[i]!, PRIME_A);
      b = Math.imul(b ^ buffer[i]!, PRIME_B);
    }
    const h1 = mix(a);
    const h2 = mix(b);
    const h3 = mix((a + Math.imul(b, 0x9e3779b1)) | 0);
    const h4 = mix((h2 + h3) | 0);
    // Blocked: all probes fall in one 64-byte block (16 words) picked by h1, so an add costs
    // one cache miss in the filter instead of one per probe; 9 bits of h2, h3, h4 per probe.
    const block = (h1 & this.blockMask) << 4;
    let seen = true;
    for (let probe = 0; probe < PROBES; probe++) {
      const source = probe < 3 ? h2 : probe < 6 ? h3 : h4;
      const bit = (source >>> ((probe % 3) * 9)) & 511;
      const word = block | (bit >>> 5);
      const flag = 1 << (bit & 31);
      const current = words[word]!;
      if ((current & flag) === 0) {
        seen = false;
        words[word] = current | flag;
      }
    }
    if (!seen) return;
    if (projectLength < 0) this.nullProject = true;
    else
      this.projects.add(
        this.encoding === 'bytes'
          ? fieldUuid(tuple, FIELD.projectId)!
          : buffer.toString('latin1', projectStart, projectStart + projectLength),
      );
    if (this.projects.size > MAX_CANDIDATES) {
      this.overflow = true;
      this.projects.clear();
      this.words = null;
    }
  }
}
