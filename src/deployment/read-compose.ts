/**
 * Reads docker compose files as `docker compose` would, for Laminar's services only: which files
 * (-f, COMPOSE_FILE, or compose.yaml / docker-compose.yml and an override found in the working
 * folder or above), the project directory's `.env`, interpolation (shell wins over `.env`),
 * `environment:` in map and list form (later files override per variable), `env_file:` (string,
 * list, `{path, required}`; paths relative to the project directory; appended across files;
 * `environment:` wins), and the project name in Compose's order: -p/--project-name, then
 * COMPOSE_PROJECT_NAME (the shell, then `.env`), then the top-level `name:` (the last file's;
 * interpolated, then normalised), then the project directory's name (normalised). A service that
 * lists `profiles:` is in the model only when one of them is enabled (--profile, else
 * COMPOSE_PROFILES from the shell or `.env`; `*` enables all; 15-profiles.md): a Laminar service
 * left out is not judged, and a note says so.
 * Also `--service NAME=FILE`: a Laminar service run outside compose from its own dotenv file.
 */
import path from 'node:path';
import { parseComposeDotenv, DotenvSyntaxError } from '../config/compose-dotenv.js';
import { interpolate, InterpolationError, type VariableLookup } from '../config/compose-interpolate.js';
import type { Environment } from '../config/environment.js';
import { ConfigError, UsageError } from '../errors.js';
import { LAMINAR_SERVICES, OPERATION_MODE, recogniseService, withOperationMode, type LaminarService } from './services.js';
import type { FileAccess, ReaderResult, ReceivedVariable, ShellShadow, SourceRef } from './types.js';
import { entriesOf, entry, itemsOf, parseYamlFile, resolve, scalarText, type YamlFile } from './yaml-file.js';

/** compose-go's names, in its order of preference. */
export const COMPOSE_FILE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
export const COMPOSE_OVERRIDE_NAMES = [
  'compose.override.yml',
  'compose.override.yaml',
  'docker-compose.override.yml',
  'docker-compose.override.yaml',
];

export interface ComposeIo extends FileAccess {
  cwd: string;
  shellEnv: Environment;
}

export interface ComposeRequest {
  /** -f as given (relative to cwd); empty: COMPOSE_FILE or discovery. */
  files: string[];
  projectDirectory: string | null;
  /** -p/--project-name; null: COMPOSE_PROJECT_NAME, `name:`, or the folder. */
  projectName: string | null;
  /** --profile (repeatable); empty: COMPOSE_PROFILES. */
  profiles: string[];
  /** --service NAME=FILE, as given. */
  serviceFiles: string[];
  /** Without -f: look for COMPOSE_FILE or the default names as docker compose does. */
  discover: boolean;
}

export interface ComposeProject {
  name: string;
  directory: string;
  files: string[];
  /** `docker compose` with the flags that select these files (and project name) again. */
  command: string;
}

export interface ComposeRead extends ReaderResult {
  /** Null when no compose file was found (discovery) and none was named. */
  project: ComposeProject | null;
}

const HINT_YAML = 'fix the file so that `docker compose config` accepts it';

export function displayPath(cwd: string, absolute: string): string {
  const relative = path.relative(cwd, absolute);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : absolute;
}

/** compose-go's NormalizeProjectName. */
export function normalizeProjectName(name: string): string {
  return (name.toLowerCase().match(/[a-z0-9_-]/g) ?? []).join('').replace(/^[_-]+/, '');
}

/** A name given with -p or COMPOSE_PROJECT_NAME is used as it is, so Compose refuses one that normalising would change. */
function checkProjectName(name: string, given: string): string | null {
  return normalizeProjectName(name) === name
    ? null
    : `invalid project name ${JSON.stringify(name)} (${given}): must consist only of lowercase alphanumeric characters, ` +
        'hyphens, and underscores as well as start with a letter or number';
}

function readTextOrThrow(io: ComposeIo, absolute: string, what: string, hint: string): string {
  try {
    return io.readText(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`cannot read ${what} ${displayPath(io.cwd, absolute)} (${code})`, hint);
  }
}

function parseDotenvFile(io: ComposeIo, absolute: string, what: string, lookup: VariableLookup): Map<string, string> {
  const text = readTextOrThrow(io, absolute, what, 'check the path and permissions');
  try {
    return parseComposeDotenv(text, { lookup });
  } catch (error) {
    if (error instanceof DotenvSyntaxError) {
      throw new ConfigError(
        `${displayPath(io.cwd, absolute)}:${error.line}: ${error.message}`,
        `docker compose would refuse this ${what} too; fix that line`,
      );
    }
    throw error;
  }
}

interface FoundFiles {
  files: string[];
  /** Named with -f (the fix commands must repeat them). */
  explicit: boolean;
}

export function findComposeFiles(
  io: ComposeIo,
  request: Pick<ComposeRequest, 'files' | 'projectDirectory' | 'discover'>,
): FoundFiles | null {
  if (request.files.length > 0) {
    const files = request.files.map((file) => path.resolve(io.cwd, file));
    for (const [index, file] of files.entries()) {
      if (!io.isFile(file)) throw new ConfigError(`compose file ${request.files[index]} does not exist`, 'check the path given to -f');
    }
    return { files, explicit: true };
  }
  if (!request.discover) return null;
  const workDir = request.projectDirectory ? path.resolve(io.cwd, request.projectDirectory) : io.cwd;
  // COMPOSE_FILE from the shell, else from the working folder's .env (Compose reads it there first).
  let composeFile = io.shellEnv.COMPOSE_FILE;
  let separator = io.shellEnv.COMPOSE_PATH_SEPARATOR;
  const workDotenv = path.join(workDir, '.env');
  if (composeFile === undefined && io.isFile(workDotenv)) {
    const dotenv = parseDotenvFile(io, workDotenv, '.env file', (name) => io.shellEnv[name]);
    composeFile = dotenv.get('COMPOSE_FILE');
    separator ??= dotenv.get('COMPOSE_PATH_SEPARATOR');
  }
  if (composeFile !== undefined && composeFile !== '') {
    const files = composeFile.split(separator || path.delimiter).map((file) => path.resolve(io.cwd, file));
    for (const file of files)
      if (!io.isFile(file)) throw new ConfigError(`COMPOSE_FILE names ${file}, which does not exist`, 'fix COMPOSE_FILE or pass -f');
    return { files, explicit: false };
  }
  for (let dir = workDir; ; dir = path.dirname(dir)) {
    const found = COMPOSE_FILE_NAMES.map((name) => path.join(dir, name)).find((file) => io.isFile(file));
    if (found) {
      const override = COMPOSE_OVERRIDE_NAMES.map((name) => path.join(dir, name)).find((file) => io.isFile(file));
      return { files: override ? [found, override] : [found], explicit: false };
    }
    if (path.dirname(dir) === dir) return null;
  }
}

interface RawEnvironmentEntry {
  name: string;
  /** null: a bare `- NAME` or `NAME:` (value from the shell, else .env). */
  raw: string | null;
  label: string;
}

interface RawEnvFile {
  path: string;
  required: boolean;
  label: string;
}

interface RawService {
  name: string;
  image: string | null;
  buildContext: string | null;
  environment: RawEnvironmentEntry[];
  envFiles: RawEnvFile[];
  /** Merged across files as a sequence (appended, each once). */
  profiles: string[];
}

function where(file: YamlFile, line: number | null): string {
  return line ? `${file.label}:${line}` : file.label;
}

/** A scalar or a sequence of scalars, as text. */
function textList(file: YamlFile, node: unknown): string[] {
  const single = scalarText(resolve(file, node));
  if (typeof single === 'string') return [single];
  return (itemsOf(file, node) ?? []).map((item) => scalarText(item.value)).filter((text): text is string => typeof text === 'string');
}

function readEnvironment(file: YamlFile, node: unknown, into: RawEnvironmentEntry[]): void {
  const items = itemsOf(file, node);
  if (items) {
    for (const item of items) {
      const text = scalarText(item.value);
      if (typeof text !== 'string') continue;
      const equals = text.indexOf('=');
      into.push(
        equals < 0
          ? { name: text.trim(), raw: null, label: where(file, item.line) }
          : { name: text.slice(0, equals).trim(), raw: text.slice(equals + 1), label: where(file, item.line) },
      );
    }
    return;
  }
  for (const { key, value, line } of entriesOf(file, node)) {
    const text = value === null ? null : scalarText(value);
    into.push({ name: key, raw: text ?? null, label: where(file, line) });
  }
}

function readEnvFiles(file: YamlFile, node: unknown, into: RawEnvFile[]): void {
  const single = scalarText(resolve(file, node));
  if (typeof single === 'string') {
    into.push({ path: single, required: true, label: where(file, file.lineOf(resolve(file, node))) });
    return;
  }
  for (const item of itemsOf(file, node) ?? []) {
    const text = scalarText(item.value);
    if (typeof text === 'string') {
      into.push({ path: text, required: true, label: where(file, item.line) });
      continue;
    }
    const pathEntry = entry(file, item.value, 'path');
    const pathText = pathEntry ? scalarText(pathEntry.value) : undefined;
    if (typeof pathText !== 'string') continue;
    const required = entry(file, item.value, 'required');
    into.push({ path: pathText, required: required ? scalarText(required.value) !== 'false' : true, label: where(file, item.line) });
  }
}

function readComposeFile(file: YamlFile, services: Map<string, RawService>): { name: string | null } {
  const root = file.doc.contents;
  let name: string | null = null;
  for (const top of entriesOf(file, root)) {
    if (top.key === 'name') name = scalarText(top.value) || null;
    if (top.key !== 'services') continue;
    for (const serviceEntry of entriesOf(file, top.value)) {
      let service = services.get(serviceEntry.key);
      if (!service) {
        service = { name: serviceEntry.key, image: null, buildContext: null, environment: [], envFiles: [], profiles: [] };
        services.set(serviceEntry.key, service);
      }
      for (const field of entriesOf(file, serviceEntry.value)) {
        if (field.key === 'image') service.image = scalarText(field.value) ?? service.image;
        if (field.key === 'build') {
          const context = scalarText(field.value);
          const nested = entry(file, field.value, 'context');
          service.buildContext = (typeof context === 'string' ? context : nested ? scalarText(nested.value) : null) ?? service.buildContext;
        }
        if (field.key === 'environment') readEnvironment(file, field.value, service.environment);
        if (field.key === 'env_file') readEnvFiles(file, field.value, service.envFiles);
        if (field.key === 'profiles') service.profiles = [...new Set([...service.profiles, ...textList(file, field.value)])];
      }
    }
  }
  return { name };
}

const quietly = (text: string, lookup: VariableLookup): string => {
  try {
    return interpolate(text, lookup).value;
  } catch {
    return text;
  }
};

export function readCompose(io: ComposeIo, request: ComposeRequest): ComposeRead {
  const result: ComposeRead = { received: [], sources: [], notes: [], project: null };
  const found = findComposeFiles(io, request);
  if (found) readComposeProject(io, request, found, result);
  readServiceFiles(io, request, result);
  return result;
}

function readComposeProject(io: ComposeIo, request: ComposeRequest, found: FoundFiles, result: ComposeRead): void {
  const directory = request.projectDirectory ? path.resolve(io.cwd, request.projectDirectory) : path.dirname(found.files[0]!);
  const dotenvPath = path.join(directory, '.env');
  const dotenvLabel = displayPath(io.cwd, dotenvPath);
  const dotenv = io.isFile(dotenvPath)
    ? parseDotenvFile(io, dotenvPath, '.env file', (name) => io.shellEnv[name])
    : new Map<string, string>();
  for (const file of found.files) result.sources.push({ kind: 'compose', path: displayPath(io.cwd, file) });
  if (io.isFile(dotenvPath)) result.sources.push({ kind: 'dotenv', path: dotenvLabel });
  const projectLookup: VariableLookup = (name) => io.shellEnv[name] ?? dotenv.get(name);

  const services = new Map<string, RawService>();
  const names: Array<string | null> = [];
  for (const absolute of found.files) {
    const label = displayPath(io.cwd, absolute);
    const text = readTextOrThrow(io, absolute, 'compose file', 'check the path and permissions');
    names.push(readComposeFile(parseYamlFile(text, label, HINT_YAML), services).name);
  }
  const name = projectNameOf(request, projectLookup, names, directory);
  const profiles =
    request.profiles.length > 0
      ? request.profiles
      : (projectLookup('COMPOSE_PROFILES') ?? '')
          .split(',')
          .map((profile) => profile.trim())
          .filter(Boolean);
  const flags = [
    ...(request.projectName ? [`-p ${request.projectName}`] : []),
    ...(found.explicit ? found.files.map((file) => `-f ${displayPath(io.cwd, file)}`) : []),
    ...(request.projectDirectory ? [`--project-directory ${displayPath(io.cwd, directory)}`] : []),
  ];
  const command = ['docker compose', ...flags].join(' ');
  result.project = { name, directory, files: found.files, command };

  const judged: Array<{ raw: RawService; service: LaminarService }> = [];
  let laminarServices = 0;
  for (const raw of services.values()) {
    const service = recogniseService({
      composeName: raw.name,
      image: raw.image ? quietly(raw.image, projectLookup) : null,
      buildContext: raw.buildContext ? quietly(raw.buildContext, projectLookup) : null,
    });
    if (!service) continue;
    laminarServices += 1;
    // compose-go's HasProfile: no profiles = always in the model; `*` enables every profile.
    const own = raw.profiles.map((profile) => quietly(profile, projectLookup));
    const active = own.length === 0 || profiles.includes('*') || own.some((p) => profiles.includes(p));
    if (!active) {
      result.notes.push({
        kind: 'inactive_profile',
        service: raw.name,
        variable: null,
        detail:
          `service ${raw.name} is only in profile${own.length === 1 ? '' : 's'} ${own.join(', ')}, ` +
          `${profiles.length === 0 ? 'and no profile is enabled' : `not enabled (enabled: ${profiles.join(', ')})`}: ` +
          `docker compose up leaves it out, so it is not judged (--profile NAME or COMPOSE_PROFILES to include it)`,
      });
      continue;
    }
    judged.push({ raw, service });
  }
  if (laminarServices === 0) {
    result.notes.push({
      kind: 'no_laminar_service',
      service: null,
      variable: null,
      detail:
        `no Laminar service (${LAMINAR_SERVICES.map((s) => s.role).join(', ')}) ` +
        `in ${found.files.map((f) => displayPath(io.cwd, f)).join(', ')}`,
    });
  }
  for (const { raw, service } of judged) {
    result.received.push(
      ...resolveService(
        io,
        raw,
        service,
        { directory, firstFile: displayPath(io.cwd, found.files[0]!), dotenv, dotenvLabel, projectLookup, command },
        result.sources,
      ),
    );
  }
}

/** Compose's order: -p, COMPOSE_PROJECT_NAME (shell, then .env), the last top-level `name:`, the project directory's name. */
function projectNameOf(request: ComposeRequest, lookup: VariableLookup, names: Array<string | null>, directory: string): string {
  if (request.projectName) {
    const problem = checkProjectName(request.projectName, '-p/--project-name');
    if (problem) throw new UsageError(problem, 'give the name docker compose uses, e.g. lmnr');
    return request.projectName;
  }
  const fromEnv = lookup('COMPOSE_PROJECT_NAME');
  if (fromEnv) {
    const problem = checkProjectName(fromEnv, 'COMPOSE_PROJECT_NAME');
    if (problem) throw new ConfigError(problem, 'docker compose refuses it too; fix COMPOSE_PROJECT_NAME');
    return fromEnv;
  }
  const fromYaml = names.filter((name): name is string => name !== null).pop();
  const normalised = fromYaml ? normalizeProjectName(quietly(fromYaml, lookup)) : '';
  return normalised || normalizeProjectName(path.basename(directory));
}

interface ProjectContext {
  directory: string;
  firstFile: string;
  dotenv: Map<string, string>;
  dotenvLabel: string;
  projectLookup: VariableLookup;
  command: string;
}

function resolveService(
  io: ComposeIo,
  raw: RawService,
  named: LaminarService,
  project: ProjectContext,
  sources: SourceRef[],
): ReceivedVariable[] {
  // env_file first (later files win), then environment: wins over env_file.
  const fromEnvFiles = new Map<string, { value: string; from: string }>();
  for (const envFile of raw.envFiles) {
    const absolute = path.resolve(project.directory, quietly(envFile.path, project.projectLookup));
    const label = displayPath(io.cwd, absolute);
    if (!io.isFile(absolute)) {
      if (!envFile.required) continue;
      throw new ConfigError(
        `env_file ${label} of service ${raw.name} (${envFile.label}) does not exist`,
        'create it, fix the path (relative to the project directory), or mark it `required: false`',
      );
    }
    if (!sources.some((s) => s.kind === 'env_file' && s.path === label)) sources.push({ kind: 'env_file', path: label });
    const values = parseDotenvFile(io, absolute, 'env_file', project.projectLookup);
    for (const [name, value] of values) fromEnvFiles.set(name, { value, from: `env_file ${label}` });
  }
  const modeEntry = raw.environment.filter((e) => e.name === OPERATION_MODE).pop();
  const operationMode = modeEntry
    ? modeEntry.raw === null
      ? (io.shellEnv[OPERATION_MODE] ?? project.dotenv.get(OPERATION_MODE))
      : quietly(modeEntry.raw, project.projectLookup)
    : fromEnvFiles.get(OPERATION_MODE)?.value;
  const service = withOperationMode(named, operationMode);
  const base = {
    group: 'compose' as const,
    role: service.role,
    service: raw.name,
    composeService: raw.name,
    restart: `${project.command} up -d --force-recreate ${raw.name}`,
  };
  return service.needs.map((variable): ReceivedVariable => {
    const entries = raw.environment.filter((e) => e.name === variable);
    const last = entries[entries.length - 1];
    const inDotenv = (name: string) => `${name} in ${project.dotenvLabel}`;
    if (!last) {
      const viaFile = fromEnvFiles.get(variable);
      if (viaFile)
        return {
          ...base,
          variable,
          value: viaFile.value,
          from: viaFile.from,
          setIn: `${variable} in ${viaFile.from.replace(/^env_file /, '')}`,
        };
      return {
        ...base,
        variable,
        value: null,
        from: `not in the environment of service ${raw.name}`,
        setIn:
          `the environment of service ${raw.name} in ${project.firstFile} (add \`${variable}: ` +
          `\${${variable}}\`, with ${inDotenv(variable)})`,
      };
    }
    if (last.raw === null) {
      const shell = io.shellEnv[variable];
      if (shell !== undefined) {
        return {
          ...base,
          variable,
          value: shell,
          from: 'shell',
          setIn: inDotenv(variable),
          shellShadows: [shadow(variable, shell, project)],
        };
      }
      const fromDotenv = project.dotenv.get(variable);
      if (fromDotenv !== undefined) return { ...base, variable, value: fromDotenv, from: project.dotenvLabel, setIn: inDotenv(variable) };
      return {
        ...base,
        variable,
        value: null,
        from: `${last.label}: \`${variable}\` without a value, set in neither the shell nor ${project.dotenvLabel}`,
        setIn: inDotenv(variable),
      };
    }
    const sourceOf = new Map<string, 'shell' | 'dotenv'>();
    const tracked: VariableLookup = (name) => {
      const shell = io.shellEnv[name];
      if (shell !== undefined) {
        sourceOf.set(name, 'shell');
        return shell;
      }
      const fromDotenv = project.dotenv.get(name);
      if (fromDotenv !== undefined) sourceOf.set(name, 'dotenv');
      return fromDotenv;
    };
    let interpolated;
    try {
      interpolated = interpolate(last.raw, tracked);
    } catch (error) {
      if (!(error instanceof InterpolationError)) throw error;
      if (error.kind === 'required')
        return { ...base, variable, value: null, from: last.label, setIn: inDotenv(error.variable ?? variable), refusal: error.message };
      throw new ConfigError(`${last.label}: ${error.message} in ${variable} of service ${raw.name}`, HINT_YAML);
    }
    const shadows = [...sourceOf].filter(([, from]) => from === 'shell').map(([name]) => shadow(name, io.shellEnv[name]!, project));
    const withShadows = shadows.length > 0 ? { shellShadows: shadows } : {};
    const { references, usedFallback, value } = interpolated;
    const whole = /^\$(\{[_a-zA-Z][_a-zA-Z0-9]*\}|[_a-zA-Z][_a-zA-Z0-9]*)$/.test(last.raw);
    if (references.length === 0 && !usedFallback) return { ...base, variable, value, from: `literal in ${last.label}`, setIn: last.label };
    if (whole && references.length === 1) {
      const reference = references[0]!;
      const source = sourceOf.get(reference.name);
      const setIn = inDotenv(reference.name);
      if (source === undefined) {
        return {
          ...base,
          variable,
          value,
          from: `${last.label}: \${${reference.name}} is set in neither the shell nor ${project.dotenvLabel}`,
          setIn,
        };
      }
      return { ...base, variable, value, from: source === 'shell' ? 'shell' : project.dotenvLabel, setIn, ...withShadows };
    }
    if (usedFallback) return { ...base, variable, value, from: `default in ${last.label}`, setIn: last.label, ...withShadows };
    return { ...base, variable, value, from: `${last.label} (interpolated)`, setIn: last.label, ...withShadows };
  });
}

function shadow(name: string, shellValue: string, project: ProjectContext): ShellShadow {
  return { name, shellValue, fileValue: project.dotenv.get(name), fileLabel: project.dotenvLabel };
}

/** `--service NAME=FILE`: the service reads FILE when it starts; variables already in its environment win (Next.js, dotenvy). */
function readServiceFiles(io: ComposeIo, request: ComposeRequest, result: ComposeRead): void {
  for (const spec of request.serviceFiles) {
    const equals = spec.indexOf('=');
    const name = equals > 0 ? spec.slice(0, equals) : '';
    const file = equals > 0 ? spec.slice(equals + 1) : '';
    if (!name || !file)
      throw new UsageError(`--service takes NAME=ENV_FILE, e.g. frontend=frontend/.env.local (got ${JSON.stringify(spec.slice(0, 80))})`);
    const service = recogniseService({ composeName: name });
    if (!service) {
      throw new UsageError(
        `--service ${name}: not a Laminar service`,
        `one of: ${LAMINAR_SERVICES.flatMap((s) => s.composeNames).join(', ')}`,
      );
    }
    const absolute = path.resolve(io.cwd, file);
    const label = displayPath(io.cwd, absolute);
    if (!io.isFile(absolute))
      throw new ConfigError(`--service ${name}: ${label} does not exist`, 'check the path of the dotenv file that service reads');
    const values = parseDotenvFile(io, absolute, 'dotenv file', () => undefined);
    result.sources.push({ kind: 'service-env', path: label });
    const before = result.received.length;
    result.received = result.received.filter((r) => r.service !== name);
    if (result.received.length !== before) {
      result.notes.push({
        kind: 'replaced',
        service: name,
        variable: null,
        detail: `${name} is taken from --service ${label}, not from the compose files`,
      });
    }
    for (const variable of service.needs) {
      const shell = io.shellEnv[variable];
      const fileValue = values.get(variable);
      const base = {
        group: 'compose' as const,
        role: service.role,
        service: name,
        variable,
        setIn: `${variable} in ${label}`,
        restart: `restart ${name} (it reads ${label} when it starts)`,
      };
      if (shell !== undefined) {
        result.received.push({
          ...base,
          value: shell,
          from: 'shell',
          shellShadows: [{ name: variable, shellValue: shell, fileValue, fileLabel: label }],
        });
      } else {
        result.received.push({ ...base, value: fileValue ?? null, from: fileValue !== undefined ? label : `not in ${label}` });
      }
    }
  }
}
