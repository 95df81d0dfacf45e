/** Small formatting helpers shared by the renderers. */
import { printable } from '../printable.js';

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : /(s|sh|ch|x)$/.test(noun) ? 'es' : 's'}`;
}

interface Locatable {
  workspaceId: string | null;
  workspaceName?: string | null;
  projectId: string | null;
  projectName?: string | null;
}

export interface WorkspaceGroup<T> {
  label: string;
  projects: Array<{ label: string | null; items: T[] }>;
}

function describe(name: string | null | undefined, id: string | null, unknown: string): string {
  if (!id) return unknown;
  // Names come from the database: printed only in printable form.
  return name ? `"${printable(name)}" (${id})` : `${id} (not found)`;
}

/** Groups items by workspace, then project, each sorted by name; items keep their order within a project. */
export function groupByWorkspaceAndProject<T extends Locatable>(items: T[]): Array<WorkspaceGroup<T>> {
  const workspaces = new Map<string, { label: string; projects: Map<string, { label: string | null; items: T[] }> }>();
  for (const item of items) {
    const workspaceKey = item.workspaceId ?? '';
    let workspace = workspaces.get(workspaceKey);
    if (!workspace) {
      workspace = {
        label: describe(item.workspaceName, item.workspaceId, '(none found: the project is not in the projects table)'),
        projects: new Map(),
      };
      workspaces.set(workspaceKey, workspace);
    }
    const projectKey = item.projectId ?? '';
    let project = workspace.projects.get(projectKey);
    if (!project) {
      project = { label: item.projectId ? describe(item.projectName, item.projectId, '') : null, items: [] };
      workspace.projects.set(projectKey, project);
    }
    project.items.push(item);
  }
  // By name (the labels start with it), so a report reads the same from run to run whatever order the rows came in.
  const byLabel = (a: { label: string | null }, b: { label: string | null }) => {
    const [x, y] = [a.label ?? '', b.label ?? ''];
    return x < y ? -1 : x > y ? 1 : 0;
  };
  return [...workspaces.values()]
    .sort(byLabel)
    .map((workspace) => ({ label: workspace.label, projects: [...workspace.projects.values()].sort(byLabel) }));
}
