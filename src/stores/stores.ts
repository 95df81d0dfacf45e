/**
 * What Laminar encrypts where: the one declarative list every command works from.
 * Adding a store means adding an entry here, nothing else. See shared/LAMINAR.md.
 */

export type SecretVariable = 'AEAD_SECRET_KEY' | 'SLACK_ENCRYPTION_KEY';

export type StoreName =
  'provider_api_keys' | 'workspace_deployments.private_key' | 'workspace_deployments.data_plane_url' | 'slack_integrations';

export interface StoreDefinition {
  name: StoreName;
  table: 'provider_api_keys' | 'workspace_deployments' | 'slack_integrations';
  /** Primary key; keyset pagination orders by it. */
  idColumn: string;
  ciphertextColumn: string;
  nonceColumn: string;
  /** Column whose text (UTF-8) is the additional authenticated data. */
  aadColumn: string;
  secretVariable: SecretVariable;
  /** Both columns NULL or '' means "not set" rather than broken (deployment pairs, a Slack token taken out). */
  emptyMeansUnset: boolean;
  /**
   * How quarantine takes a value out. `clear_pair` empties both columns ('' fits every
   * version of Laminar's columns, NOT NULL ones included) and keeps the row, so nothing that
   * references it is touched; `delete_row` is only for tables nothing references (and is
   * still guarded: see stores/dependents.ts).
   */
  takeOut: 'delete_row' | 'clear_pair';
  /** What an emptied value means for Laminar and how the operator gets it back, when that is not obvious. */
  whenTakenOut: string | null;
  /**
   * Only Laminar's web app reads this store, with Node's lenient `Buffer.from(hex)` (it stops at
   * the first character that is not hex): a value with stray characters after its hex still
   * works there. Laminar's Rust server reads strictly (deployments; Slack tokens too).
   */
  readOnlyByWebApp: boolean;
  /** Context columns, null where the table has none. */
  projectIdColumn: string | null;
  workspaceIdColumn: string | null;
  /** How a value is named in reports: a column holding the name, or a fixed label. */
  nameColumn: string | null;
  fixedName: string | null;
  /** Rotated without being asked for by --store. */
  rotatedByDefault: boolean;
  /** What the value is, for humans. */
  describes: string;
}

export const STORES: readonly StoreDefinition[] = [
  {
    name: 'provider_api_keys',
    table: 'provider_api_keys',
    idColumn: 'id',
    ciphertextColumn: 'value',
    nonceColumn: 'nonce_hex',
    aadColumn: 'name',
    secretVariable: 'AEAD_SECRET_KEY',
    emptyMeansUnset: false,
    takeOut: 'delete_row',
    whenTakenOut: null,
    readOnlyByWebApp: true,
    projectIdColumn: 'project_id',
    workspaceIdColumn: null,
    nameColumn: 'name',
    fixedName: null,
    rotatedByDefault: true,
    describes: 'LLM provider keys saved in project settings',
  },
  {
    name: 'workspace_deployments.private_key',
    table: 'workspace_deployments',
    idColumn: 'workspace_id',
    ciphertextColumn: 'private_key',
    nonceColumn: 'private_key_nonce',
    aadColumn: 'workspace_id',
    secretVariable: 'AEAD_SECRET_KEY',
    emptyMeansUnset: true,
    takeOut: 'clear_pair',
    whenTakenOut: null,
    readOnlyByWebApp: false,
    projectIdColumn: null,
    workspaceIdColumn: 'workspace_id',
    nameColumn: null,
    fixedName: 'private_key',
    rotatedByDefault: true,
    describes: 'hybrid deployment signing keys',
  },
  {
    name: 'workspace_deployments.data_plane_url',
    table: 'workspace_deployments',
    idColumn: 'workspace_id',
    ciphertextColumn: 'data_plane_url',
    nonceColumn: 'data_plane_url_nonce',
    aadColumn: 'workspace_id',
    secretVariable: 'AEAD_SECRET_KEY',
    emptyMeansUnset: true,
    takeOut: 'clear_pair',
    whenTakenOut: null,
    readOnlyByWebApp: false,
    projectIdColumn: null,
    workspaceIdColumn: 'workspace_id',
    nameColumn: null,
    fixedName: 'data_plane_url',
    rotatedByDefault: true,
    describes: 'hybrid deployment data-plane URLs',
  },
  {
    name: 'slack_integrations',
    table: 'slack_integrations',
    idColumn: 'id',
    ciphertextColumn: 'token',
    nonceColumn: 'nonce_hex',
    aadColumn: 'team_id',
    secretVariable: 'SLACK_ENCRYPTION_KEY',
    // Never deleted: slack_channel_projects references the row ON DELETE CASCADE, and
    // reconnecting Slack in Laminar's UI upserts on workspace_id, refilling this same row.
    emptyMeansUnset: true,
    takeOut: 'clear_pair',
    whenTakenOut:
      "the workspace's Slack integration has no token (taken out by lmnr-keys quarantine): Slack " +
      "notifications stop until someone reconnects Slack in Laminar's workspace settings, which refills " +
      'this row and keeps its channel mappings',
    readOnlyByWebApp: false,
    projectIdColumn: null,
    workspaceIdColumn: 'workspace_id',
    nameColumn: null,
    fixedName: 'slack_token',
    rotatedByDefault: false,
    describes: 'Slack bot tokens',
  },
];

export const STORE_NAMES = STORES.map((store) => store.name);

export function findStore(name: string): StoreDefinition | undefined {
  return STORES.find((store) => store.name === name);
}

/** The names Laminar's platform stores in provider_api_keys (shared/LAMINAR.md). */
export const LAMINAR_KEY_NAMES = [
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'GEMINI_API_KEY',
  'GROQ_API_KEY',
  'MISTRAL_API_KEY',
  'AZURE_API_KEY',
  'OPENAI_AZURE_RESOURCE_ID',
  'OPENAI_AZURE_DEPLOYMENT_NAME',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
  'GOOGLE_SEARCH_API_KEY',
  'GOOGLE_SEARCH_ENGINE_ID',
] as const;
