/**
 * The JSON Schemas of the --json documents (schemas/<command>.schema.json, draft 2020-12), loaded
 * into one strict ajv. Every run of the bin with --json (test/support/cli.ts) and every
 * --json-out file the tests read is validated here: a document its schema refuses fails the test
 * that produced it, with ajv's words.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

export const SCHEMA_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../schemas');

/** Every schema file's name (common.schema.json included), sorted. */
export function schemaFiles(): string[] {
  return fs
    .readdirSync(SCHEMA_DIR)
    .filter((file) => file.endsWith('.schema.json'))
    .sort();
}

export function readSchema(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
}

/** A strict ajv (unknown keywords, formats or loose types are errors) holding every schema, by its `$id` (the file's name). */
export function schemaValidator(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  for (const file of schemaFiles()) ajv.addSchema(readSchema(file));
  return ajv;
}

let shared: Ajv2020 | null = null;
const compiled = new Map<string, ValidateFunction>();

function validatorOf(id: string): ValidateFunction {
  shared ??= schemaValidator();
  let validate = compiled.get(id);
  if (!validate) {
    validate = shared.getSchema(id);
    if (!validate) throw new Error(`no schema ${id} in schemas/`);
    compiled.set(id, validate);
  }
  return validate;
}

/** ajv's errors, one a line, each with the path of the value it is about. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map(
      (e) =>
        `  ${e.instancePath || '(the document)'} ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? `: ${JSON.stringify(e.params)}` : ''} [${e.schemaPath}]`,
    )
    .join('\n');
}

/** The form a document claims to be (the $defs entry of its schema), to name the errors of that form only. */
function claimedForm(document: Record<string, unknown>, schema: Record<string, unknown>): string | null {
  const defs = (schema.$defs ?? {}) as Record<string, unknown>;
  const form = 'error' in document ? 'failed' : 'help' in document ? 'help' : 'lmnrKeys' in document ? 'programVersion' : 'result';
  return form in defs ? form : null;
}

/**
 * The errors of `document` against the schema of its `command` (or of `command` when given),
 * or null when it is valid. `document` is parsed JSON.
 */
export function documentErrors(document: unknown, command: unknown = (document as { command?: unknown } | null)?.command): string | null {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return 'not a JSON object';
  if (typeof command !== 'string' || !/^[a-z-]+$/.test(command) || !fs.existsSync(path.join(SCHEMA_DIR, `${command}.schema.json`)))
    return `its command ${JSON.stringify(command)} has no schema in schemas/`;
  const id = `${command}.schema.json`;
  const validate = validatorOf(id);
  if (validate(document)) return null;
  // oneOf reports every form's errors; those of the form the document claims to be read better.
  const form = claimedForm(document as Record<string, unknown>, readSchema(id));
  if (form !== null) {
    const formValidate = validatorOf(`${id}#/$defs/${form}`);
    if (!formValidate(document)) return `as its ${form} form:\n${describeErrors(formValidate.errors)}`;
  }
  return describeErrors(validate.errors);
}

/** Throws, with ajv's errors, when `document` does not match its command's schema. `where` names it in the message. */
export function validateDocument(document: unknown, where = 'the document'): void {
  const errors = documentErrors(document);
  if (errors !== null) {
    const command = (document as { command?: unknown } | null)?.command;
    throw new Error(`${where} does not match schemas/${String(command)}.schema.json:\n${errors}`);
  }
}

/** Parses `text` as one JSON document and validates it (see validateDocument). */
export function validateDocumentText(text: string, where = 'the document'): unknown {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where} is not one JSON document (${(error as Error).message}): ${JSON.stringify(text.slice(0, 200))}`);
  }
  validateDocument(document, where);
  return document;
}

/** Reads a --json-out file (or any document file), validates it (see validateDocument) and returns it parsed. */
export function readDocument(file: string): any {
  const document: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  validateDocument(document, file);
  return document;
}
