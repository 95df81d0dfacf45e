/**
 * schemas/<command>.schema.json: each compiles under ajv's strict mode; the documents the
 * report modules build (from fixtures typed with the code's own types) are valid, streamed ones
 * cut short by an error included; a document missing a required field or carrying one more is
 * not; and every enum is the code's list (a status or kind added in the code fails here until
 * the schema has it too).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { DOCUMENT_VERSIONS, documentError, documentOf, withTarget, type CommandName } from '../../src/report/document.js';
import { JsonDocumentWriter } from '../../src/report/json-stream.js';
import { doctorDocumentTail, writeFinding } from '../../src/report/doctor.js';
import { quarantineDocumentTail, writeTarget } from '../../src/report/quarantine.js';
import { verifyDocumentTail, writeVerifyResult } from '../../src/report/verify.js';
import { rotationDocument } from '../../src/report/rotate.js';
import { restoreDocument } from '../../src/report/restore.js';
import { setDocument } from '../../src/report/set.js';
import { checkDeploymentDocument, fingerprintDocument } from '../../src/report/check-deployment.js';
import { targetDocument } from '../../src/report/target.js';
import { EXIT_CODE_MEANINGS, ExitCode } from '../../src/errors.js';
import { STORE_NAMES, type SecretVariable } from '../../src/stores/stores.js';
import { VALUE_STATUSES } from '../../src/core/diagnose.js';
import { VERIFY_STATUSES, type VerifyResult, type VerifySummary } from '../../src/core/verify.js';
import { PROVIDER_NAMES } from '../../src/providers/names.js';
import { FINDING_KINDS, type CheckDeploymentResult, type ServiceStatus } from '../../src/core/check-deployment.js';
import type { DoctorReport, DuplicateWarning, Finding } from '../../src/core/doctor.js';
import type { QuarantineDependents, QuarantinePlan, QuarantineResult, QuarantineTarget } from '../../src/core/quarantine.js';
import type { RotationResult, StuckValue } from '../../src/core/rotate.js';
import type { RestoreResult } from '../../src/core/restore.js';
import type { BackupHeader } from '../../src/core/backup.js';
import type { SetPlan } from '../../src/core/repair.js';
import type { SecretStatus } from '../../src/crypto/keys.js';
import type { DeploymentGroup, SourceRef } from '../../src/deployment/types.js';
import type { LaminarRole } from '../../src/deployment/services.js';
import type { DependentRows } from '../../src/stores/dependents.js';
import type { ValueCleaning } from '../../src/config/references.js';
import type { DatabaseTarget } from '../../src/config/database-target.js';
import { documentErrors, readSchema, SCHEMA_DIR, schemaFiles, validateDocument } from '../support/schemas.js';

type Json = Record<string, unknown>;
const COMMANDS = Object.keys(DOCUMENT_VERSIONS) as CommandName[];
const root = path.resolve(SCHEMA_DIR, '..');

/** A JSON value at a JSON Pointer-like path of `$defs` names. */
function at(schema: Json, ...keys: string[]): Json {
  let value: unknown = schema;
  for (const key of keys) value = (value as Json)[key];
  if (value === undefined) throw new Error(`no ${keys.join('/')}`);
  return value as Json;
}
const enumOf = (schema: Json, ...keys: string[]) => at(schema, ...keys).enum;
const keysOf = (schema: Json, ...keys: string[]) => Object.keys(at(schema, ...keys).properties as Json);

/**
 * Every member of the union T, as a list the compiler holds complete: a member missing fails
 * typecheck (for unions the code declares as types, without a list at run time).
 */
const everyMemberOf =
  <T extends string | number>() =>
  <const L extends readonly T[]>(list: L & ([T] extends [L[number]] ? unknown : { missing: Exclude<T, L[number]> })): readonly T[] =>
    list;

/** A document as the bin prints it (JSON text parsed back: undefined fields gone). */
const asPrinted = (document: unknown): Json => JSON.parse(JSON.stringify(document)) as Json;

/** A streamed document: `write` fills it, its text is parsed. */
function streamed(command: CommandName, write: (doc: JsonDocumentWriter) => void): Json {
  let text = '';
  const doc = new JsonDocumentWriter((bytes, length) => (text += bytes.toString('utf8', 0, length)), command);
  write(doc);
  expect(doc.ended).toBe(true);
  return JSON.parse(text) as Json;
}

const expectValid = (document: unknown) => expect(documentErrors(document)).toBeNull();

// Fixtures, typed with the code's own types (a field added there must be added here).
const DATABASE: DatabaseTarget = {
  connectionString: 'postgres://lmnr:secret@db:5432/laminar',
  host: 'db',
  port: 5432,
  database: 'laminar',
  user: 'lmnr',
  source: 'DATABASE_URL from .env',
};
const TARGET = targetDocument(DATABASE);
const PROJECT = '0b7e6f0c-8a1a-4c3e-9c55-1f6f0b0f2a11';
const WORKSPACE = '5d0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d';
const ID = 'c6b4a4f2-7a3e-4d5b-9e1f-2a3b4c5d6e7f';

const finding: Finding = {
  store: 'provider_api_keys',
  id: ID,
  workspaceId: WORKSPACE,
  workspaceName: 'Acme',
  projectId: PROJECT,
  projectName: 'Chatbot',
  name: 'OPENAI_API_KEY',
  status: 'wrong_secret',
  decryptsWith: 'laminar-default',
  detail: 'sealed with laminar-default, not the current AEAD_SECRET_KEY',
};
const duplicate: DuplicateWarning = {
  kind: 'duplicate_name',
  projectId: PROJECT,
  projectName: 'Chatbot',
  workspaceId: WORKSPACE,
  name: 'OPENAI_API_KEY',
  ids: [ID, PROJECT],
  openingIds: [ID],
  recoverableIds: [],
  detail: '',
};
const doctorReport: DoctorReport = {
  secrets: [
    { name: 'AEAD_SECRET_KEY', status: 'ok', fingerprint: '3fa1c2d9', problem: null },
    { name: 'SLACK_ENCRYPTION_KEY', status: 'missing', fingerprint: null, problem: 'SLACK_ENCRYPTION_KEY is not set' },
  ],
  stores: [
    { store: 'provider_api_keys', present: true, total: 2, ok: 1, failing: 1, byStatus: { ok: 1, wrong_secret: 1 } },
    { store: 'workspace_deployments.private_key', present: false, total: 0, ok: 0, failing: 0, byStatus: {}, reason: 'older Laminar' },
  ],
  summary: { total: 2, ok: 1, failing: 1 },
  failures: {
    causes: [{ store: 'provider_api_keys', status: 'wrong_secret', decryptsWith: 'laminar-default', count: 1 }],
    places: [{ workspaceId: WORKSPACE, projectId: PROJECT, count: 1, projectName: 'Chatbot', workspaceName: 'Acme' }],
    placeCount: 1,
    sample: [finding],
  },
  warnings: [duplicate],
  takenOut: [{ store: 'slack_integrations', id: ID, workspaceId: WORKSPACE, workspaceName: null, detail: 'reconnect Slack' }],
  writer: { pid: 4242, purpose: 'rotate', applicationName: 'lmnr-keys rotate', since: '2026-01-01T00:00:00Z' },
  verdict: {
    ok: false,
    noSecretsYet: false,
    problems: ['1 of 2 stored secrets cannot be used by Laminar'],
    suspectedWrongKey: [{ store: 'provider_api_keys', variable: 'AEAD_SECRET_KEY', fingerprint: '3fa1c2d9', failing: 1, total: 2 }],
    quarantineAdvisable: false,
  },
};

function doctorDocument(findings: Finding[], end: (doc: JsonDocumentWriter) => void): Json {
  return streamed('doctor', (doc) => {
    doc.field('target', TARGET);
    doc.field('secrets', doctorReport.secrets);
    doc.beginArray('findings');
    for (const f of findings) doc.itemWith((out) => writeFinding(out, f));
    end(doc);
  });
}
const doctorResult = () =>
  doctorDocument([finding, finding], (doc) => {
    for (const [name, value] of Object.entries(doctorDocumentTail(doctorReport))) doc.field(name, value);
    doc.end(doctorReport.verdict.ok);
  });

const quarantineTarget: QuarantineTarget = {
  store: 'provider_api_keys',
  id: ID,
  workspaceId: null,
  projectId: PROJECT,
  name: 'OPENAI_API_KEY',
  status: 'malformed',
  detail: 'the nonce is not hex',
  action: 'delete_row',
};
const dependent: QuarantineDependents = {
  table: 'slack_channel_projects',
  column: 'integration_id',
  onDelete: 'cascade',
  rows: 2,
  store: 'slack_integrations',
  effect: 'kept',
};
const quarantinePlan: QuarantinePlan = {
  count: 1,
  stores: [{ store: 'provider_api_keys', total: 3, taken: 1 }],
  causes: [{ store: 'provider_api_keys', status: 'malformed', decryptsWith: null, count: 1 }],
  places: [{ workspaceId: WORKSPACE, projectId: PROJECT, count: 1, projectName: null, workspaceName: null }],
  placeCount: 1,
  sample: [quarantineTarget],
  dependents: [dependent],
  requested: [],
  backupEstimateBytes: 912,
};
const quarantineResult: QuarantineResult = { removed: 1, changedCount: 1, changed: [ID], leftOver: 0 };
const quarantineWrite = { backup: '/backups/q.jsonl', backupEstimateBytes: null, committed: 1, backupComplete: true, interrupted: false };

function quarantineDocument(end: (doc: JsonDocumentWriter) => void): Json {
  return streamed('quarantine', (doc) => {
    doc.field('target', TARGET);
    doc.field('dryRun', false);
    doc.beginArray('targets');
    doc.itemWith((out) => writeTarget(out, quarantineTarget));
    end(doc);
  });
}
const quarantineDone = () =>
  quarantineDocument((doc) => {
    for (const [name, value] of Object.entries(quarantineDocumentTail(quarantinePlan, quarantineResult, quarantineWrite)))
      doc.field(name, value);
    doc.end(true);
  });

const verifyResult: VerifyResult = {
  projectId: PROJECT,
  workspaceId: WORKSPACE,
  id: ID,
  name: 'OPENAI_API_KEY',
  provider: 'openai',
  status: 'quota_exceeded',
  httpStatus: 429,
  retryAfterSeconds: 1.5,
  detail: 'You exceeded your current quota',
};
const verifySummary: VerifySummary = {
  total: 2,
  byStatus: { quota_exceeded: 1, decode_failed: 1 },
  byProvider: { openai: { quota_exceeded: 1 }, none: { decode_failed: 1 } },
};
function verifyDocument(withTarget: boolean, end: (doc: JsonDocumentWriter) => void): Json {
  return streamed('verify-provider', (doc) => {
    if (withTarget) doc.field('target', TARGET);
    doc.beginArray('results');
    doc.itemWith((out) => writeVerifyResult(out, verifyResult));
    doc.itemWith((out) =>
      writeVerifyResult(out, { ...verifyResult, provider: null, status: 'decode_failed', httpStatus: null, retryAfterSeconds: null }),
    );
    end(doc);
  });
}
const verifyDone = (withTarget = true) =>
  verifyDocument(withTarget, (doc) => {
    for (const [name, value] of Object.entries(verifyDocumentTail(verifySummary, 2))) doc.field(name, value);
    doc.end(false);
  });

const stuck: StuckValue = {
  store: 'provider_api_keys',
  id: ID,
  workspaceId: null,
  projectId: PROJECT,
  name: 'OPENAI_API_KEY',
  status: 'wrong_secret',
  detail: null,
};
const rotation: RotationResult = {
  stores: [
    {
      store: 'provider_api_keys',
      present: true,
      total: 3,
      rotated: 2,
      alreadyCurrent: 0,
      stuck: 1,
      retried: 0,
      rowsAtStart: 3,
      rowsAtEnd: 3,
      fromPublicDefault: 0,
    },
    {
      store: 'slack_integrations',
      present: false,
      total: 0,
      rotated: 0,
      alreadyCurrent: 0,
      stuck: 0,
      retried: 0,
      rowsAtStart: null,
      rowsAtEnd: null,
      fromPublicDefault: 0,
    },
  ],
  stuck: [stuck],
};
const rotateDone = () =>
  asPrinted(
    withTarget(
      rotationDocument(rotation, {
        dryRun: false,
        backup: '/backups/r.jsonl',
        slackUnderFrom: 0,
        publicDefaultInBackup: false,
        committed: 2,
        backupComplete: true,
        backupEstimateBytes: 1024,
      }),
      TARGET,
    ),
  );

const restoreResult: RestoreResult = {
  total: 3,
  restored: 2,
  alreadyRestored: 0,
  notApplied: 0,
  leftAloneCount: 1,
  leftAlone: [{ store: 'provider_api_keys', id: ID, reason: 'changed since the backup' }],
  incompleteCount: 0,
  incomplete: [],
  stopped: false,
};
const restoreDone = () =>
  asPrinted(
    withTarget(restoreDocument(restoreResult, { dryRun: false, backup: 'r.jsonl', operation: 'rotate', truncatedLastLine: false }), TARGET),
  );

const setPlan: SetPlan = {
  projectId: PROJECT,
  name: 'OPENAI_API_KEY',
  rows: [{ id: ID, ciphertextHex: 'ab', nonceHex: 'cd', opensUnderCurrentKey: false }],
  keepId: null,
};
const cleaned: ValueCleaning[] = ['whitespace'];
const setDone = () =>
  asPrinted(
    withTarget(
      {
        ...setDocument(setPlan, { newId: PROJECT, keptId: null, replaced: [ID] }, { dryRun: false, backup: '/backups/s.jsonl' }),
        cleaned,
      },
      TARGET,
    ),
  );

const deployment: CheckDeploymentResult = {
  sources: [
    { kind: 'compose', path: 'docker-compose.yml' },
    { kind: 'dotenv', path: '.env' },
  ],
  services: [
    {
      service: 'frontend',
      container: null,
      source: 'compose',
      role: 'frontend',
      variable: 'AEAD_SECRET_KEY',
      status: 'ok',
      fingerprint: '3fa1c2d9',
      from: '.env',
    },
  ],
  findings: [
    {
      kind: 'stale_container',
      source: 'containers',
      service: 'frontend',
      container: 'lmnr-frontend-1',
      pod: null,
      variable: 'AEAD_SECRET_KEY',
      detail: 'the running container holds another key',
      fix: 'docker compose up -d --force-recreate frontend',
    },
  ],
  notes: [{ kind: 'external', service: 'laminar-frontend', variable: 'AEAD_SECRET_KEY', detail: 'from an external Secret' }],
  database: {
    checked: true,
    stored: [{ store: 'provider_api_keys', present: true, values: 12 }],
    opens: [
      {
        fingerprint: '3fa1c2d9',
        values: 12,
        byStore: { provider_api_keys: 12 },
        heldBy: ['frontend AEAD_SECRET_KEY'],
        publicDefault: false,
      },
    ],
  },
};
const deploymentDone = () => asPrinted(checkDeploymentDocument(deployment));

/** One document of every form each command has (besides help, version and the error, checked for all below). */
const RESULTS: Record<CommandName, () => Json[]> = {
  doctor: () => [doctorResult()],
  quarantine: () => [quarantineDone()],
  'verify-provider': () => [verifyDone(true), verifyDone(false)],
  rotate: () => [rotateDone()],
  restore: () => [restoreDone()],
  set: () => [setDone()],
  'check-deployment': () => [
    deploymentDone(),
    asPrinted(checkDeploymentDocument({ ...deployment, database: { checked: false, reason: 'skipped (--no-database)' } })),
    asPrinted(
      checkDeploymentDocument({
        ...deployment,
        findings: [],
        database: { checked: false, reason: 'failed', error: { exitCode: 4, message: 'connection refused', hint: null } },
      }),
    ),
  ],
  fingerprint: () => [
    asPrinted(fingerprintDocument(true, { fingerprint: '3fa1c2d9', status: 'ok', problem: null, ttyLineEnding: false })),
    asPrinted(
      fingerprintDocument(false, { fingerprint: '3fa1c2d9', status: 'needs_cleanup', problem: 'quotes around it', ttyLineEnding: true }),
    ),
  ],
  'gen-secret': () => [
    asPrinted(documentOf('gen-secret', true, { key: 'ab'.repeat(32), fingerprint: '3fa1c2d9' })),
    asPrinted(documentOf('gen-secret', true, { file: '/keys/new.key', fingerprint: '3fa1c2d9' })),
  ],
  'save-key': () => [asPrinted(documentOf('save-key', true, { file: '/keys/old.key', fingerprint: '3fa1c2d9' }))],
  demo: () => [
    asPrinted(documentOf('demo', true, { seconds: 12.3, steps: [{ command: 'lmnr-keys doctor', exitCode: 1, expected: 1 }] })),
    asPrinted(documentOf('demo', false, { steps: [{ command: 'lmnr-keys doctor', exitCode: null, expected: 1 }] })),
  ],
  'lmnr-keys': () => [],
};

/** The help, version and error documents every command has (cli.ts). */
const envelopeForms = (command: CommandName): Json[] => [
  asPrinted(documentOf(command, true, { help: 'Usage: lmnr-keys ...' })),
  asPrinted(documentOf(command, true, { lmnrKeys: '0.1.0' })),
  asPrinted({ version: DOCUMENT_VERSIONS[command], command, error: documentError(2, 'unknown option', null), ok: false }),
];

describe('the schemas', () => {
  it('one per command, each compiling under ajv strict mode (draft 2020-12), found by its $id', () => {
    expect(schemaFiles()).toEqual(['common.schema.json', ...COMMANDS.map((command) => `${command}.schema.json`)].sort());
    const ajv = new Ajv2020({ strict: true });
    for (const file of schemaFiles()) {
      const schema = readSchema(file);
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(schema.$id).toBe(file);
      ajv.addSchema(schema);
    }
    for (const file of schemaFiles()) expect(() => ajv.getSchema(file)).not.toThrow();
  });

  it("every form names its command and that document's contract version (DOCUMENT_VERSIONS)", () => {
    for (const command of COMMANDS) {
      const schema = readSchema(`${command}.schema.json`);
      const forms = (schema.oneOf as Array<{ $ref: string }>).map((ref) => ref.$ref.replace('#/$defs/', ''));
      expect(forms).toEqual(expect.arrayContaining(['failed', 'help', 'programVersion']));
      for (const form of forms) {
        const properties = at(schema, '$defs', form, 'properties');
        expect([form, properties.version]).toEqual([form, { const: DOCUMENT_VERSIONS[command] }]);
        expect([form, properties.command]).toEqual([form, { const: command }]);
        expect(at(schema, '$defs', form).additionalProperties).toBe(false);
      }
    }
  });

  it("every object says additionalProperties (false, or the schema of a map's values)", () => {
    const walk = (node: unknown, where: string): string[] => {
      if (node === null || typeof node !== 'object') return [];
      const here = node as Json;
      const own = here.type === 'object' && !('additionalProperties' in here) ? [where] : [];
      return [...own, ...Object.entries(here).flatMap(([key, value]) => walk(value, `${where}/${key}`))];
    };
    for (const file of schemaFiles()) expect(walk(readSchema(file), file)).toEqual([]);
  });
});

describe('documents the report modules build are valid', () => {
  for (const command of COMMANDS) {
    it(command, () => {
      for (const document of [...RESULTS[command](), ...envelopeForms(command)]) expectValid(document);
    });
  }

  it("a write command's error carries what it had committed, all three facts or none", () => {
    const failed = (extra: Json) =>
      asPrinted({ version: 1, command: 'rotate', error: documentError(3, 'ENOSPC', 'free space', extra), ok: false });
    expectValid(failed({ committed: 2, backup: '/backups/r.jsonl', backupComplete: true }));
    expectValid(failed({ committed: 0, backup: null, backupComplete: true }));
    expect(documentErrors(failed({ committed: 2 }))).toMatch(
      /must have propert(y|ies) backup, backupComplete when property committed is present/,
    );
    // Only commands that write carry them.
    const doctor = asPrinted({
      version: 1,
      command: 'doctor',
      error: documentError(3, 'x', null, { committed: 0, backup: null, backupComplete: true }),
      ok: false,
    });
    expect(documentErrors(doctor)).toMatch(/must NOT have additional properties/);
  });
});

describe('a streamed document cut short by an error', () => {
  const error = documentError(ExitCode.interrupted, 'interrupted (Ctrl-C)', 'run the same command again');

  it('doctor: the fields written so far, the findings array closed, then the error', () => {
    const cut = doctorDocument([finding, finding, finding], (doc) => doc.fail(error));
    expect(Object.keys(cut)).toEqual(['version', 'command', 'target', 'secrets', 'findings', 'error', 'ok']);
    expectValid(cut);
    // Cut in its tail, or before its first finding.
    expectValid(
      doctorDocument([finding], (doc) => {
        doc.field('stores', doctorReport.stores);
        doc.fail(documentError(ExitCode.database, 'connection lost', null));
      }),
    );
    expectValid(doctorDocument([], (doc) => doc.fail(error)));
  });

  it('quarantine and verify-provider: the same, their error with what a write committed', () => {
    expectValid(
      quarantineDocument((doc) => doc.fail(documentError(3, 'ENOSPC', null, { committed: 1, backup: '/b.jsonl', backupComplete: true }))),
    );
    expectValid(verifyDocument(true, (doc) => doc.fail(error)));
    expectValid(verifyDocument(false, (doc) => doc.fail(error)));
  });

  it('but an element cut or wrong in it is still refused', () => {
    const cut = doctorDocument([finding], (doc) => doc.fail(error));
    delete (cut.findings as Json[])[0]!.status;
    expect(documentErrors(cut)).toMatch(/\/findings\/0 must have required property 'status'/);
    const wrongError = doctorDocument([], (doc) => doc.fail({ ...error, exitCode: 0 }));
    expect(documentErrors(wrongError)).toMatch(/\/error\/exitCode must be equal to one of the allowed values/);
  });
});

describe('strict: a field missing or one too many fails', () => {
  for (const command of COMMANDS) {
    it(command, () => {
      for (const document of [...RESULTS[command](), ...envelopeForms(command)]) {
        for (const field of Object.keys(document)) {
          const { [field]: _dropped, ...missing } = document;
          // A streamed document's error form may stop anywhere: only its envelope and error are always there.
          const optional = 'error' in document && !['version', 'command', 'error', 'ok'].includes(field);
          // verify-provider --key has no target.
          const mayLack = command === 'verify-provider' && field === 'target';
          if (!optional && !mayLack)
            expect([field, documentErrors(missing, command)]).toEqual([field, expect.stringMatching(/must have required property/)]);
        }
        expect(documentErrors({ ...document, unexpected: true }, command)).toMatch(/must NOT have additional properties.*unexpected/);
      }
    });
  }

  it('inside nested objects too', () => {
    const doctor = doctorResult();
    const secrets = doctor.secrets as Json[];
    secrets[0]!.extra = 1;
    expect(documentErrors(doctor)).toMatch(/\/secrets\/0 must NOT have additional properties/);
    const verdict = doctorResult();
    delete (verdict.verdict as Json).quarantineAdvisable;
    expect(documentErrors(verdict)).toMatch(/\/verdict must have required property 'quarantineAdvisable'/);
    const store = doctorResult();
    delete (store.stores as Json[])[1]!.reason;
    expect(documentErrors(store)).toMatch(/\/stores\/1 must have required property 'reason'/);
    const error = asPrinted({ version: 1, command: 'doctor', error: documentError(2, 'x', null), ok: false });
    delete ((error.error as Json).exitCodes as Json)['130'];
    expect(documentErrors(error)).toMatch(/\/error\/exitCodes must have required property '130'/);
  });

  it('and a value outside an enum, or a wrong version or command', () => {
    const status = verifyDone();
    (status.results as Json[])[0]!.status = 'fine';
    expect(documentErrors(status)).toMatch(/\/results\/0\/status must be equal to one of the allowed values/);
    expect(documentErrors({ ...deploymentDone(), version: 1 })).toMatch(/\/version must be equal to constant/);
    expect(documentErrors({ ...rotateDone(), command: 'nope' })).toMatch(/has no schema/);
    expect(() => validateDocument({ ...setDone(), ok: false }, 'the set document')).toThrow(
      /the set document does not match schemas\/set.schema.json:\n[^]*\/ok must be equal to constant/,
    );
  });
});

describe("every enum is the code's list", () => {
  const common = readSchema('common.schema.json');
  const verify = readSchema('verify-provider.schema.json');
  const deploymentSchema = readSchema('check-deployment.schema.json');

  it('lists the code keeps at run time', () => {
    expect(enumOf(common, '$defs', 'storeName')).toEqual([...STORE_NAMES]);
    expect(keysOf(common, '$defs', 'countsByStore')).toEqual([...STORE_NAMES]);
    expect(enumOf(common, '$defs', 'valueStatus')).toEqual([...VALUE_STATUSES]);
    expect(keysOf(common, '$defs', 'countsByValueStatus')).toEqual([...VALUE_STATUSES]);
    expect(enumOf(common, '$defs', 'failingValueStatus')).toEqual(VALUE_STATUSES.filter((status) => status !== 'ok'));
    expect(enumOf(common, '$defs', 'exitCode')).toEqual(Object.values(ExitCode).filter((code) => code !== ExitCode.healthy));
    expect(keysOf(common, '$defs', 'exitCodes')).toEqual(Object.keys(EXIT_CODE_MEANINGS));
    expect(at(common, '$defs', 'exitCodes').required).toEqual(Object.keys(EXIT_CODE_MEANINGS));
    expect(enumOf(verify, '$defs', 'status')).toEqual([...VERIFY_STATUSES]);
    expect(keysOf(verify, '$defs', 'countsByStatus')).toEqual([...VERIFY_STATUSES]);
    expect(enumOf(verify, '$defs', 'provider')).toEqual([...PROVIDER_NAMES]);
    expect(keysOf(verify, '$defs', 'byProvider')).toEqual([...PROVIDER_NAMES, 'none']);
    expect(enumOf(deploymentSchema, '$defs', 'findingKind')).toEqual([...FINDING_KINDS]);
  });

  it('unions the code declares as types (each list below fails typecheck when the union changes)', () => {
    const secretStatuses = everyMemberOf<SecretStatus>()(['ok', 'missing', 'invalid', 'needs_cleanup', 'public_default']);
    const sets: Array<[unknown, readonly unknown[]]> = [
      [enumOf(common, '$defs', 'secretVariable'), everyMemberOf<SecretVariable>()(['AEAD_SECRET_KEY', 'SLACK_ENCRYPTION_KEY'])],
      [enumOf(common, '$defs', 'secretStatus'), secretStatuses],
      // fingerprint refuses a missing or invalid key (an error document): the other statuses remain.
      [
        enumOf(readSchema('fingerprint.schema.json'), '$defs', 'result', 'properties', 'status'),
        secretStatuses.filter((status) => status !== 'missing' && status !== 'invalid'),
      ],
      [
        enumOf(readSchema('doctor.schema.json'), '$defs', 'warnings', 'items', 'properties', 'kind'),
        everyMemberOf<DuplicateWarning['kind']>()(['duplicate_name']),
      ],
      [
        enumOf(readSchema('rotate.schema.json'), '$defs', 'result', 'properties', 'stuck', 'items', 'properties', 'status'),
        everyMemberOf<StuckValue['status']>()(['wrong_secret', 'malformed', 'incomplete']),
      ],
      [
        enumOf(readSchema('quarantine.schema.json'), '$defs', 'takeOut', 'properties', 'status'),
        everyMemberOf<QuarantineTarget['status']>()(['wrong_secret', 'malformed', 'incomplete']),
      ],
      [
        enumOf(readSchema('quarantine.schema.json'), '$defs', 'takeOut', 'properties', 'action'),
        everyMemberOf<QuarantineTarget['action']>()(['delete_row', 'clear_pair']),
      ],
      [
        enumOf(readSchema('quarantine.schema.json'), '$defs', 'result', 'properties', 'dependents', 'items', 'properties', 'effect'),
        everyMemberOf<QuarantineDependents['effect']>()(['kept', 'blocks_delete']),
      ],
      [
        enumOf(readSchema('quarantine.schema.json'), '$defs', 'result', 'properties', 'dependents', 'items', 'properties', 'onDelete'),
        everyMemberOf<DependentRows['onDelete']>()(['cascade', 'set null', 'set default', 'restrict', 'no action']),
      ],
      [
        enumOf(readSchema('restore.schema.json'), '$defs', 'result', 'properties', 'operation'),
        everyMemberOf<BackupHeader['operation']>()(['rotate', 'quarantine', 'set']),
      ],
      [
        enumOf(readSchema('set.schema.json'), '$defs', 'result', 'properties', 'cleaned', 'items'),
        everyMemberOf<ValueCleaning>()(['whitespace', 'export', 'quotes']),
      ],
      [
        enumOf(deploymentSchema, '$defs', 'group'),
        everyMemberOf<DeploymentGroup>()(['compose', 'containers', 'helm-values', 'manifests', 'kubernetes']),
      ],
      [enumOf(deploymentSchema, '$defs', 'role'), everyMemberOf<LaminarRole>()(['frontend', 'app-server', 'app-server-consumer'])],
      [
        enumOf(deploymentSchema, '$defs', 'serviceStatus'),
        everyMemberOf<ServiceStatus>()(['ok', 'missing', 'empty', 'invalid', 'public_default', 'external', 'not_given']),
      ],
      [
        enumOf(deploymentSchema, '$defs', 'result', 'properties', 'sources', 'items', 'properties', 'kind'),
        everyMemberOf<SourceRef['kind']>()([
          'compose',
          'dotenv',
          'env_file',
          'service-env',
          'containers',
          'helm-values',
          'manifests',
          'kubernetes',
        ]),
      ],
    ];
    for (const [schemaEnum, code] of sets) expect(schemaEnum).toEqual([...code]);
  });
});

describe('the package', () => {
  it('npm pack ships every schema', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
    const files: string[] = pack.files.map((f: { path: string }) => f.path);
    expect(files.filter((file) => file.startsWith('schemas/')).sort()).toEqual(schemaFiles().map((file) => `schemas/${file}`));
  });
});
