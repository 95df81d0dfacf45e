/**
 * Every project's name and workspace, and every workspace's name, read once with binary COPY
 * and held compactly (ids in a UuidTable, no object per project): findings streamed by the
 * million are named as they are written, without a look-up query per finding. About 50 bytes
 * per project: 200,000 projects take about 10 MB.
 */
import { sql } from 'kysely';
import { copyOut, type CopyTuple } from '../db/copy.js';
import type { LaminarDb } from '../db/connect.js';
import { UuidTable } from '../util/uuid-table.js';

export interface PlaceNames {
  projectName: string | null;
  workspaceId: string | null;
  workspaceName: string | null;
}

/** Names as UTF-8 bytes in one growing buffer, entry by entry (no string per name until one is asked for). */
class NameList {
  private bytes = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  private ends = new Int32Array(1024);
  count = 0;

  push(source: Buffer, start: number, length: number): void {
    if (this.used + length > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + length));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    if (this.count >= this.ends.length) {
      const grown = new Int32Array(this.ends.length * 2);
      grown.set(this.ends);
      this.ends = grown;
    }
    if (length > 0) source.copy(this.bytes, this.used, start, start + length);
    this.used += length;
    this.ends[this.count++] = this.used;
  }

  get(entry: number): string {
    const start = entry === 0 ? 0 : this.ends[entry - 1]!;
    return this.bytes.toString('utf8', start, this.ends[entry]!);
  }
}

export class PlaceDirectory {
  /** Every project (and any other project id a count adds): shared with doctor's per-place counts. */
  readonly projects: UuidTable;
  private readonly projectNames = new NameList();
  /** Each project's workspace entry (-1: none). */
  private projectWorkspaces = new Int32Array(1024);
  readonly workspaces: UuidTable;
  /** Workspace ids as text, made once each (there are few workspaces and a million findings). */
  private readonly workspaceTexts: string[] = [];
  /** null: a workspace a project names but the workspaces table lacks. */
  private readonly workspaceNames: Array<string | null> = [];

  private constructor(projects: number, workspaces: number) {
    this.projects = new UuidTable(projects);
    this.workspaces = new UuidTable(workspaces);
  }

  static async load(db: LaminarDb): Promise<PlaceDirectory> {
    const tables = await sql<{ projects: boolean; workspaces: boolean }>`
      select to_regclass('projects') is not null as projects, to_regclass('workspaces') is not null as workspaces`.execute(db);
    const present = tables.rows[0];
    // Sized once from the planner's estimate (a count would read the tables twice).
    const estimate = async (table: string, present: boolean | undefined) =>
      present
        ? Number(
            (
              await sql<{
                n: string;
              }>`select greatest(reltuples, 0)::bigint::text as n from pg_class where oid = to_regclass(${table})`.execute(db)
            ).rows[0]?.n ?? 0,
          )
        : 0;
    const directory = new PlaceDirectory(await estimate('projects', present?.projects), await estimate('workspaces', present?.workspaces));
    const text = (tuple: CopyTuple, field: number) => {
      const length = tuple.lengths[field]!;
      return length < 0 ? '' : tuple.buffer.toString('utf8', tuple.starts[field]!, tuple.starts[field]! + length);
    };
    // Workspaces first, so each project's workspace is an entry already.
    if (present?.workspaces) {
      await copyOut(db, 'copy (select id::uuid, name::text from workspaces) to stdout (format binary)', 2, (tuple) => {
        if (tuple.lengths[0] !== 16) return;
        const entry = directory.workspaces.add(tuple.buffer, tuple.starts[0]!);
        directory.workspaceNames[entry] = text(tuple, 1);
      });
    }
    if (present?.projects) {
      await copyOut(db, 'copy (select id::uuid, name::text, workspace_id::uuid from projects) to stdout (format binary)', 3, (tuple) => {
        if (tuple.lengths[0] !== 16) return;
        const entry = directory.projects.add(tuple.buffer, tuple.starts[0]!);
        // A project listed twice (no primary key in a copy?) keeps its first name.
        if (entry < directory.projectNames.count) return;
        directory.projectNames.push(tuple.buffer, tuple.starts[1]!, Math.max(0, tuple.lengths[1]!));
        const workspace = tuple.lengths[2] === 16 ? directory.workspaces.add(tuple.buffer, tuple.starts[2]!) : -1;
        if (workspace >= 0 && directory.workspaceNames[workspace] === undefined) directory.workspaceNames[workspace] = null;
        if (entry >= directory.projectWorkspaces.length) {
          const grown = new Int32Array(directory.projectWorkspaces.length * 2);
          grown.set(directory.projectWorkspaces);
          directory.projectWorkspaces = grown;
        }
        directory.projectWorkspaces[entry] = workspace;
      });
    }
    return directory;
  }

  /** Names for a place given as uuid texts (a project, else a workspace). */
  namesOf(projectId: string | null, workspaceId: string | null): PlaceNames {
    let workspace = workspaceId === null ? -1 : (this.workspaces.findText(workspaceId) ?? -1);
    let projectName: string | null = null;
    if (projectId !== null) {
      const entry = this.projects.findText(projectId) ?? -1;
      if (entry >= 0) {
        projectName = this.projectNames.get(entry);
        if (workspaceId === null) workspace = this.projectWorkspaces[entry]!;
      }
    }
    return {
      projectName,
      workspaceId: workspaceId ?? (workspace >= 0 ? (this.workspaceTexts[workspace] ??= this.workspaces.text(workspace)) : null),
      workspaceName: workspace >= 0 ? (this.workspaceNames[workspace] ?? null) : null,
    };
  }
}
