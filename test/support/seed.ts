/** Writes Laminar-shaped rows sealed exactly as Laminar seals them. */
import { randomUUID } from 'node:crypto';
import { encodeAad, loadCipher, sealToText } from '../../src/crypto/aead.js';
import type { TestDatabase } from './database.js';
import { keyBytes } from './keys.js';

export async function seal(keyHex: string, plaintext: string | Uint8Array, aad: string) {
  await loadCipher();
  const bytes = typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext;
  return sealToText(keyBytes(keyHex), bytes, encodeAad(aad));
}

export async function addWorkspace(t: TestDatabase, name: string, id: string = randomUUID()): Promise<string> {
  await t.query('insert into workspaces (id, name) values ($1, $2)', [id, name]);
  return id;
}

export async function addProject(t: TestDatabase, workspaceId: string, name: string, id: string = randomUUID()): Promise<string> {
  await t.query('insert into projects (id, name, workspace_id) values ($1, $2, $3)', [id, name, workspaceId]);
  return id;
}

/** A provider key sealed with `keyHex` (AAD = name unless `aad` overrides it). */
export async function addProviderKey(
  t: TestDatabase,
  projectId: string,
  name: string,
  plaintext: string | Uint8Array,
  keyHex: string,
  options: { aad?: string; id?: string } = {},
): Promise<string> {
  const sealed = await seal(keyHex, plaintext, options.aad ?? name);
  const id = options.id ?? randomUUID();
  await t.query('insert into provider_api_keys (id, project_id, name, nonce_hex, value) values ($1, $2, $3, $4, $5)', [
    id,
    projectId,
    name,
    sealed.nonceHex,
    sealed.ciphertextHex,
  ]);
  return id;
}

export async function addRawProviderKey(
  t: TestDatabase,
  projectId: string,
  name: string,
  nonceHex: string,
  value: string,
  id: string = randomUUID(),
) {
  await t.query('insert into provider_api_keys (id, project_id, name, nonce_hex, value) values ($1, $2, $3, $4, $5)', [
    id,
    projectId,
    name,
    nonceHex,
    value,
  ]);
  return id;
}

export async function addDeployment(
  t: TestDatabase,
  workspaceId: string,
  values: {
    privateKey?: { nonceHex: string | null; ciphertextHex: string | null };
    dataPlaneUrl?: { nonceHex: string | null; ciphertextHex: string | null };
  },
) {
  await t.query(
    `insert into workspace_deployments (workspace_id, mode, private_key, private_key_nonce, public_key, data_plane_url, data_plane_url_nonce)
     values ($1, 'HYBRID', $2, $3, 'pubkey', $4, $5)`,
    [
      workspaceId,
      values.privateKey?.ciphertextHex ?? null,
      values.privateKey?.nonceHex ?? null,
      values.dataPlaneUrl?.ciphertextHex ?? null,
      values.dataPlaneUrl?.nonceHex ?? null,
    ],
  );
}

export async function addSlack(
  t: TestDatabase,
  workspaceId: string,
  teamId: string,
  token: string,
  keyHex: string,
  id: string = randomUUID(),
) {
  const sealed = await seal(keyHex, token, teamId);
  await t.query('insert into slack_integrations (id, workspace_id, token, team_id, team_name, nonce_hex) values ($1, $2, $3, $4, $5, $6)', [
    id,
    workspaceId,
    sealed.ciphertextHex,
    teamId,
    `team ${teamId}`,
    sealed.nonceHex,
  ]);
  return id;
}

/** Bulk-inserts `count` provider keys sealed with `keyHex` into one project; returns id -> plaintext. */
export async function addManyProviderKeys(
  t: TestDatabase,
  projectId: string,
  count: number,
  keyHex: string,
  prefix = 'sk-bulk',
): Promise<Map<string, string>> {
  await loadCipher();
  const expected = new Map<string, string>();
  const names = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'GROQ_API_KEY', 'MISTRAL_API_KEY'];
  for (let start = 0; start < count; start += 2000) {
    const ids: string[] = [],
      projects: string[] = [],
      rowNames: string[] = [],
      nonces: string[] = [],
      values: string[] = [];
    for (let i = start; i < Math.min(count, start + 2000); i++) {
      const id = randomUUID();
      const name = names[i % names.length]!;
      const plaintext = `${prefix}-${i}-${id.slice(0, 8)}`;
      const sealed = sealToText(keyBytes(keyHex), new TextEncoder().encode(plaintext), encodeAad(name));
      ids.push(id);
      projects.push(projectId);
      rowNames.push(name);
      nonces.push(sealed.nonceHex);
      values.push(sealed.ciphertextHex);
      expected.set(id, plaintext);
    }
    await t.query(
      'insert into provider_api_keys (id, project_id, name, nonce_hex, value) select * from ' +
        'unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])',
      [ids, projects, rowNames, nonces, values],
    );
  }
  return expected;
}
