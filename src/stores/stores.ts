/**
 * What Laminar encrypts where: the one declarative list every command works from.
 * Adding a store means adding an entry here, nothing else. See shared/LAMINAR.md.
 */

export type SecretVariable = 'AEAD_SECRET_KEY' | 'SLACK_ENCRYPTION_KEY';

export type StoreName =
  | 'provider_api_keys'
  | 'workspace_deployments.private_key'
  | 'workspace_deployments.data_plane_url'
  | 'slack_integrations';

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
  /** Both columns NULL or '' means "not set" rather than broken (deployment pairs). */
  emptyMeansUnset: boolean;
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
    emptyMeansUnset: false,
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
