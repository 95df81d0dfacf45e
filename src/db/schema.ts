/**
 * The slice of Laminar's schema lmnr-keys touches, as Kysely types. Column names follow
 * shared/LAMINAR.md; uuids arrive as lowercase strings from pg.
 */
export interface ProviderApiKeysTable {
  id: string;
  project_id: string;
  name: string;
  value: string;
  nonce_hex: string;
}

export interface WorkspaceDeploymentsTable {
  workspace_id: string;
  private_key: string | null;
  private_key_nonce: string | null;
  data_plane_url: string | null;
  data_plane_url_nonce: string | null;
}

export interface SlackIntegrationsTable {
  id: string;
  workspace_id: string;
  team_id: string;
  token: string;
  nonce_hex: string;
}

export interface ProjectsTable {
  id: string;
  name: string;
  workspace_id: string;
}

export interface WorkspacesTable {
  id: string;
  name: string;
}

export interface LaminarDatabase {
  provider_api_keys: ProviderApiKeysTable;
  workspace_deployments: WorkspaceDeploymentsTable;
  slack_integrations: SlackIntegrationsTable;
  projects: ProjectsTable;
  workspaces: WorkspacesTable;
}
