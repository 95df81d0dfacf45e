/**
 * A set of uuids in typed arrays: each uuid's 16 bytes stored once, densely, in insertion order,
 * and an open-addressing index over them. No JS object or string per entry, so 200,000 projects
 * take about 5 MB and nothing for the garbage collector to trace: what doctor's incident scan
 * (a million failing values) needs to count per place and to name places.
 *
 * Entries are numbered 0..size-1 in insertion order; callers keep per-entry data in their own
 * arrays indexed by that number.
 */
const EMPTY = -1;

export class UuidTable {
  private keys: Uint8Array;
  private slots: Int32Array;
  private mask: number;
  size = 0;

  /** `expected`: about how many uuids will be added (sized once, instead of growing by doubling). */
  constructor(expected = 1024) {
    const entries = Math.max(1024, Math.ceil(expected * 1.05));
    this.keys = new Uint8Array(16 * entries);
    let slots = 2048;
    while (slots < entries * 2) slots *= 2;
    this.slots = new Int32Array(slots).fill(EMPTY);
    this.mask = slots - 1;
  }
  /** Where a uuid given as text is parsed to (no allocation per look-up). */
  private readonly scratch = new Uint8Array(16);

  /** The entry of the 16 bytes at `bytes[start]`, or -1. */
  find(bytes: Uint8Array, start: number): number {
    for (let slot = hash(bytes, start) & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot]!;
      if (entry === EMPTY) return -1;
      if (this.equals(entry, bytes, start)) return entry;
    }
  }

  /** The entry of the 16 bytes at `bytes[start]`, added when new. */
  add(bytes: Uint8Array, start: number): number {
    let slot = hash(bytes, start) & this.mask;
    for (; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot]!;
      if (entry === EMPTY) break;
      if (this.equals(entry, bytes, start)) return entry;
    }
    const entry = this.size++;
    if (entry * 16 + 16 > this.keys.length) {
      const grown = new Uint8Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    this.keys.set(bytes.subarray(start, start + 16), entry * 16);
    this.slots[slot] = entry;
    // Kept at most half full: probes stay short.
    if (this.size * 2 > this.slots.length) this.grow();
    return entry;
  }

  /** A uuid's text (dashes optional, either case) as its entry, or -1 (null when it is not a uuid). */
  findText(text: string): number | null {
    return parseUuid(text, this.scratch) ? this.find(this.scratch, 0) : null;
  }

  addText(text: string): number | null {
    return parseUuid(text, this.scratch) ? this.add(this.scratch, 0) : null;
  }

  /** An entry's uuid as Postgres writes it (lower case, dashed). */
  text(entry: number): string {
    return uuidText(this.keys, entry * 16);
  }

  private equals(entry: number, bytes: Uint8Array, start: number): boolean {
    const keys = this.keys;
    const at = entry * 16;
    for (let i = 0; i < 16; i++) if (keys[at + i] !== bytes[start + i]) return false;
    return true;
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    const mask = slots.length - 1;
    for (let entry = 0; entry < this.size; entry++) {
      let slot = hash(this.keys, entry * 16) & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = entry;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** murmur3's finaliser over two of the uuid's 32-bit words (version 4 uuids are random there). */
function hash(bytes: Uint8Array, start: number): number {
  let h =
    ((bytes[start]! << 24) | (bytes[start + 1]! << 16) | (bytes[start + 2]! << 8) | bytes[start + 3]!) ^
    ((bytes[start + 12]! << 24) | (bytes[start + 13]! << 16) | (bytes[start + 14]! << 8) | bytes[start + 15]!);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** Parses 32 hex digits (dashes skipped) into `into`; false when it is not a uuid. */
export function parseUuid(text: string, into: Uint8Array): boolean {
  let nibbles = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 45) continue;
    const value = hexValue(code);
    if (value < 0 || nibbles >= 32) return false;
    if ((nibbles & 1) === 0) into[nibbles >> 1] = value << 4;
    else into[nibbles >> 1]! |= value;
    nibbles += 1;
  }
  return nibbles === 32;
}

const HEX = '0123456789abcdef';

/** The 16 bytes at `bytes[start]` as a uuid's text. */
export function uuidText(bytes: Uint8Array, start: number): string {
  let text = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text += '-';
    const byte = bytes[start + i]!;
    text += HEX[byte >> 4]! + HEX[byte & 15]!;
  }
  return text;
}
