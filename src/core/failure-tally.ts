/**
 * What a scan keeps of failing values when there may be a million of them: counts per cause,
 * counts per place (a project, or a workspace for workspace-level stores), and the first few
 * values in (store, id) order, whole. Memory grows with distinct causes and places, never with
 * the number of values; everything else is streamed by the caller as it is found.
 */
import type { StoreName } from '../stores/stores.js';
import { parseUuid, UuidTable } from '../util/uuid-table.js';

/** Failing values per place of one kind: places in a UuidTable, counts beside them. */
class PlaceCounts {
  counts = new Uint32Array(1024);

  /** `table`: the places, possibly shared (doctor's name directory already holds every project). */
  constructor(readonly table: UuidTable) {}
  /** Values with no place (a NULL project or workspace id). */
  none = 0;

  add(entry: number, count = 1): void {
    if (entry >= this.counts.length) {
      const grown = new Uint32Array(this.counts.length * 2);
      grown.set(this.counts);
      this.counts = grown;
    }
    this.counts[entry]! += count;
  }
}

export interface CauseCount {
  store: StoreName;
  status: string;
  /** The fallback key that opens these values, when one does. */
  decryptsWith: string | null;
  count: number;
}

/** A place failing values live in; names are looked up afterwards for the places shown. */
export interface PlaceCount {
  workspaceId: string | null;
  projectId: string | null;
  count: number;
}

/** Where a value lives: its project (provider keys), or its workspace (workspace-level stores). */
export type PlaceKind = 'project' | 'workspace';

export interface Tallied {
  id: string;
}

export class FailureTally<T extends Tallied> {
  total = 0;
  private readonly causes = new Map<string, CauseCount>();
  /** Failing values per place (a place is a uuid: no string or object per place). */
  private readonly places: { project: PlaceCounts; workspace: PlaceCounts };
  private readonly scratch = new Uint8Array(16);
  /** Kept sorted by (store position, sort key); never longer than `sampleSize`. */
  private readonly kept: Array<{ order: number; key: string; item: T }> = [];

  constructor(
    /** How many values are kept whole (the human report lists them all when there are no more). */
    readonly sampleSize: number,
    /** A store's position in the report (STORES order), so the sample follows the report's order. */
    private readonly storeOrder: (store: StoreName) => number,
    /** Tables of places to count in (a name directory's, so places are not held twice). */
    tables: { project?: UuidTable; workspace?: UuidTable } = {},
  ) {
    this.places = {
      project: new PlaceCounts(tables.project ?? new UuidTable()),
      workspace: new PlaceCounts(tables.workspace ?? new UuidTable()),
    };
  }

  /**
   * Counts a failing value. `sortKey` orders the sample as the ids do (the id itself, or its
   * 16 bytes as a latin1 string where the id came as bytes: the same order, one per tally);
   * `make` builds the whole item only when the sample takes it.
   */
  add(cause: Omit<CauseCount, 'count'>, kind: PlaceKind, placeId: string | null, sortKey: string, make: () => T): void {
    const parsed = placeId !== null && parseUuid(placeId, this.scratch);
    this.addTo(this.counter(cause), kind, parsed ? this.scratch : null, 0, sortKey, make);
  }

  /** The counter of one cause, for hot paths that count many values of a few causes (keep it, then `addTo`). */
  counter(cause: Omit<CauseCount, 'count'>): CauseCount {
    const key = `${cause.store}\u0000${cause.status}\u0000${cause.decryptsWith ?? ''}`;
    let counted = this.causes.get(key);
    if (!counted) this.causes.set(key, (counted = { ...cause, count: 0 }));
    return counted;
  }

  /** `add` for a hot path: the cause's counter, and the place's 16 bytes at `placeBytes[placeStart]` (null: none). */
  addTo(counter: CauseCount, kind: PlaceKind, placeBytes: Uint8Array | null, placeStart: number, sortKey: string, make: () => T): void {
    this.total += 1;
    counter.count += 1;
    const places = this.places[kind];
    if (placeBytes === null) places.none += 1;
    else places.add(places.table.add(placeBytes, placeStart));
    this.offer(this.storeOrder(counter.store), sortKey, make);
  }

  private offer(order: number, key: string, make: () => T): void {
    const kept = this.kept;
    if (this.sampleSize === 0) return;
    if (kept.length >= this.sampleSize) {
      const last = kept[kept.length - 1]!;
      if (order > last.order || (order === last.order && key >= last.key)) return;
    }
    const item = make();
    let at = kept.length;
    while (at > 0 && (kept[at - 1]!.order > order || (kept[at - 1]!.order === order && kept[at - 1]!.key > key))) at -= 1;
    kept.splice(at, 0, { order, key, item });
    if (kept.length > this.sampleSize) kept.pop();
  }

  /** Adds another tally's counts and sample (a store's, once its scan has completed). */
  merge(other: FailureTally<T>): void {
    this.total += other.total;
    for (const [key, cause] of other.causes) {
      const counted = this.causes.get(key);
      if (counted) counted.count += cause.count;
      else this.causes.set(key, { ...cause });
    }
    for (const kind of ['project', 'workspace'] as const) {
      const from = other.places[kind];
      const into = this.places[kind];
      into.none += from.none;
      const bytes = new Uint8Array(16);
      for (let entry = 0; entry < from.table.size; entry++) {
        const count = from.counts[entry] ?? 0;
        if (count === 0) continue;
        if (from.table === into.table) into.add(entry, count);
        else {
          parseUuid(from.table.text(entry), bytes);
          into.add(into.table.add(bytes, 0), count);
        }
      }
    }
    for (const entry of other.kept) this.offer(entry.order, entry.key, () => entry.item);
  }

  /** The first values in (store, id) order: all of them when `total <= sampleSize`. */
  sample(): T[] {
    return this.kept.map((entry) => entry.item);
  }

  /** Causes that counted values, largest first. */
  causeCounts(): CauseCount[] {
    return [...this.causes.values()].filter((cause) => cause.count > 0).sort((a, b) => b.count - a.count);
  }

  /** Places, largest first; `limit` of them (the report shows a top list). */
  topPlaces(limit: number): PlaceCount[] {
    const top: PlaceCount[] = [];
    const offer = (kind: PlaceKind, id: () => string | null, count: number) => {
      if (count === 0 || (top.length >= limit && count <= top[top.length - 1]!.count)) return;
      const place = id();
      top.push({ projectId: kind === 'project' ? place : null, workspaceId: kind === 'workspace' ? place : null, count });
      top.sort((a, b) => b.count - a.count);
      if (top.length > limit) top.pop();
    };
    for (const kind of ['project', 'workspace'] as const) {
      const places = this.places[kind];
      offer(kind, () => null, places.none);
      for (let entry = 0; entry < places.table.size; entry++) offer(kind, () => places.table.text(entry), places.counts[entry] ?? 0);
    }
    return top;
  }

  /** Distinct places holding failing values. */
  get placeCount(): number {
    let count = (this.places.project.none > 0 ? 1 : 0) + (this.places.workspace.none > 0 ? 1 : 0);
    for (const places of [this.places.project, this.places.workspace])
      for (let entry = 0; entry < places.table.size; entry++) if ((places.counts[entry] ?? 0) > 0) count += 1;
    return count;
  }

  /** Failing values per store and status. */
  countsFor(store: StoreName): Map<string, number> {
    const counts = new Map<string, number>();
    for (const cause of this.causes.values())
      if (cause.store === store) counts.set(cause.status, (counts.get(cause.status) ?? 0) + cause.count);
    return counts;
  }
}
