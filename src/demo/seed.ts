/**
 * A realistic broken Laminar: keys saved while the public default key was in use and then the
 * key was changed, a key sealed with a key nobody kept, a malformed value, a duplicate name, a
 * Slack token sealed under the wrong key, a hybrid deployment. All values are made up here.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { encodeAad, sealToText } from '../crypto/aead.js';
import type { LaminarDb } from '../db/connect.js';
import { LAMINAR_SCHEMA_SQL } from './laminar-schema.js';

export interface DemoKeys {
  current: Uint8Array;
  slack: Uint8Array;
  lost: Uint8Array;
  publicDefault: Uint8Array;
}

async function addKey(db: LaminarDb, projectId: string, name: string, plaintext: string, key: Uint8Array): Promise<string> {
  const id = randomUUID();
  const sealed = sealToText(key, new TextEncoder().encode(plaintext), encodeAad(name));
  await sql`insert into provider_api_keys (id, project_id, name, nonce_hex, value) values (${id}::uuid, ${projectId}::uuid, ${name}, ${sealed.nonceHex}, ${sealed.ciphertextHex})`.execute(
    db,
  );
  return id;
}

async function addProject(db: LaminarDb, workspaceId: string, name: string): Promise<string> {
  const id = randomUUID();
  await sql`insert into projects (id, name, workspace_id) values (${id}::uuid, ${name}, ${workspaceId}::uuid)`.execute(db);
  return id;
}

async function addWorkspace(db: LaminarDb, name: string): Promise<string> {
  const id = randomUUID();
  await sql`insert into workspaces (id, name) values (${id}::uuid, ${name})`.execute(db);
  return id;
}

const fake = (prefix: string) => `${prefix}-${randomUUID().replace(/-/g, '')}`;

export interface DemoPlatform {
  supportBot: string;
}

export async function seedBrokenPlatform(db: LaminarDb, keys: DemoKeys): Promise<DemoPlatform> {
  await sql.raw(LAMINAR_SCHEMA_SQL).execute(db);
  const acme = await addWorkspace(db, 'Acme Corp');
  const beta = await addWorkspace(db, 'Beta Labs');
  const supportBot = await addProject(db, acme, 'Support bot');
  const search = await addProject(db, acme, 'Search');
  const research = await addProject(db, beta, 'Research');

  await addKey(db, supportBot, 'OPENAI_API_KEY', fake('sk-proj-demo'), keys.current);
  await addKey(db, supportBot, 'OPENAI_API_KEY', fake('sk-proj-demo-old'), keys.publicDefault);
  await addKey(db, supportBot, 'GEMINI_API_KEY', fake('AIzaSy-demo'), keys.publicDefault);
  await addKey(db, search, 'ANTHROPIC_API_KEY', fake('sk-ant-demo'), keys.publicDefault);
  await addKey(db, search, 'MISTRAL_API_KEY', fake('mistral-demo'), keys.lost);
  // A value cut short by a bad manual edit: not even valid ciphertext.
  const groq = sealToText(keys.current, new TextEncoder().encode(fake('gsk-demo')), encodeAad('GROQ_API_KEY'));
  await sql`insert into provider_api_keys (project_id, name, nonce_hex, value) values (${search}::uuid, 'GROQ_API_KEY', ${groq.nonceHex}, ${groq.ciphertextHex.slice(0, 21)})`.execute(
    db,
  );
  await addKey(db, research, 'OPENAI_API_KEY', fake('sk-proj-demo'), keys.current);
  await addKey(db, research, 'GEMINI_API_KEY', fake('AIzaSy-demo'), keys.lost);

  const privateKey = sealToText(
    keys.current,
    new TextEncoder().encode(Buffer.from(randomUUID().repeat(2)).toString('base64')),
    encodeAad(acme),
  );
  const dataPlane = sealToText(keys.publicDefault, new TextEncoder().encode('https://data-plane.acme.internal:8443'), encodeAad(acme));
  await sql`insert into workspace_deployments (workspace_id, mode, private_key, private_key_nonce, public_key, data_plane_url, data_plane_url_nonce)
    values (${acme}::uuid, 'HYBRID', ${privateKey.ciphertextHex}, ${privateKey.nonceHex}, 'demo-public-key', ${dataPlane.ciphertextHex}, ${dataPlane.nonceHex})`.execute(
    db,
  );
  // The Helm chart seals Slack tokens with AEAD_SECRET_KEY when SLACK_ENCRYPTION_KEY is unset; this one was, and then it was set.
  const token = sealToText(keys.current, new TextEncoder().encode(fake('xoxb-demo')), encodeAad('T0BETALABS'));
  await sql`insert into slack_integrations (workspace_id, token, team_id, team_name, nonce_hex) values (${beta}::uuid, ${token.ciphertextHex}, 'T0BETALABS', 'Beta Labs', ${token.nonceHex})`.execute(
    db,
  );
  return { supportBot };
}

/** A second database for verify-provider: keys that decode, and providers that disagree. */
export async function seedProviderShowcase(db: LaminarDb, keys: DemoKeys): Promise<void> {
  await sql.raw(LAMINAR_SCHEMA_SQL).execute(db);
  const ws = await addWorkspace(db, 'Acme Corp');
  await addKey(db, await addProject(db, ws, 'Healthy'), 'OPENAI_API_KEY', fake('sk-demo-ok'), keys.current);
  await addKey(db, await addProject(db, ws, 'Revoked key'), 'OPENAI_API_KEY', fake('sk-demo-invalid'), keys.current);
  await addKey(db, await addProject(db, ws, 'Out of credit'), 'ANTHROPIC_API_KEY', fake('sk-ant-demo-quota'), keys.current);
  await addKey(db, await addProject(db, ws, 'Old key'), 'ANTHROPIC_API_KEY', fake('sk-ant-demo-ok'), keys.lost);
}
