/**
 * Reads docker compose files as `docker compose` would (the Compose Specification, and compose-go
 * where the specification leaves a choice), for Laminar's services only:
 * - which files: -f, COMPOSE_FILE, or compose.yaml / docker-compose.yml and an override found in
 *   the working folder or above; the project directory (--project-directory, else the first
 *   file's folder) and its `.env`; interpolation (the shell wins over `.env`);
 * - merging (13-merge.md): a later file overrides scalars, overrides mappings (`environment`,
 *   `labels`) key by key, and appends to sequences (`env_file`, `profiles`); every relative path
 *   of these files resolves from the project directory;
 * - `include:` (14-include.md), short (a path) and long (`path`, `project_directory`,
 *   `env_file`): each entry is loaded as a project of its own, whose relative paths resolve from
 *   its own directory (default: the folder of its first file) and whose `.env` there fills the
 *   variables the including project leaves unset. The entry's own paths resolve like any path of
 *   the including file. A service defined both there and in the including file is merged, the
 *   including file's keys winning (compose-go 2.10 and later; older releases refused it);
 * - `extends:` (05-services.md), `service` and optional `file` (a path like any other of the
 *   extending file; the extended file's own paths resolve from its folder): the extending
 *   service's keys win, the base's sequences come first; chains are followed, cycles refused;
 * - `profiles:` (15-profiles.md): a service that lists profiles is in the model only when one of
 *   them is enabled (`--profile`, else COMPOSE_PROFILES from the shell or `.env`; `*` enables
 *   all); a Laminar service left out is not judged, and a note says so;
 * - `environment:` in map and list form, `env_file:` (string, list, `{path, required}`;
 *   `environment:` wins);
 * - the project name: -p/--project-name, then COMPOSE_PROJECT_NAME, then the top-level `name:`
 *   (interpolated, normalised; the last file's wins), then the project directory's name;
 * - a service labelled dev.lmnr-keys.tool is lmnr-keys itself (compose.yaml at this repository's
 *   root): never judged as a Laminar service.
 * Also `--service NAME=FILE`: a Laminar service run outside compose from its own dotenv file.
 */
import path from 'node:path';
import { parseComposeDotenv, DotenvSyntaxError } from '../config/compose-dotenv.js';
import { interpolate, InterpolationError, type VariableLookup } from '../config/compose-interpolate.js';
import type { Environment } from '../config/environment.js';
import { ConfigError, UsageError } from '../errors.js';
import {
  isLmnrKeysTool,
  LAMINAR_SERVICES,
  OPERATION_MODE,
  recogniseService,
  TOOL_LABEL,
  withOperationMode,
  type LaminarService,
} from './services.js';
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

// ---------------------------------------------------------------------------------------------
// Where variables come from: the shell, the project's .env, and (in included projects) their own
// env files, in that order of precedence.

interface VariableLayer {
  /** 'shell', or the env file as shown to the operator. */
  label: string;
  shell: boolean;
  get: (name: string) => string | undefined;
}

interface Scope {
  layers: VariableLayer[];
  /** The project's `.env`, named in fixes even when it does not exist yet. */
  dotenvLabel: string;
}

function lookupIn(scope: Scope): VariableLookup {
  return (name) => {
    for (const layer of scope.layers) {
      const value = layer.get(name);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

function findIn(scope: Scope, name: string, filesOnly = false): { value: string; layer: VariableLayer } | undefined {
  for (const layer of scope.layers) {
    if (filesOnly && layer.shell) continue;
    const value = layer.get(name);
    if (value !== undefined) return { value, layer };
  }
  return undefined;
}

/** "the shell nor .env" (nor an included project's env files). */
function neither(scope: Scope): string {
  return scope.layers.map((layer) => (layer.shell ? 'the shell' : layer.label)).join(' nor ');
}

/** Where to set a variable: the env file that holds it now, else the project's `.env`. */
function setInOf(scope: Scope, name: string): string {
  return `${name} in ${findIn(scope, name, true)?.layer.label ?? scope.dotenvLabel}`;
}

function shadow(name: string, shellValue: string, scope: Scope): ShellShadow {
  const file = findIn(scope, name, true);
  return { name, shellValue, fileValue: file?.value, fileLabel: file?.layer.label ?? scope.dotenvLabel };
}

const quietly = (text: string, lookup: VariableLookup): string => {
  try {
    return interpolate(text, lookup).value;
  } catch {
    return text;
  }
};

// ---------------------------------------------------------------------------------------------
// The model: services as each file defines them, then merged.

/** How a file is read: where its relative paths resolve from, and its variables. */
interface LoadContext {
  workingDir: string;
  scope: Scope;
}

interface RawEnvironmentEntry {
  name: string;
  /** null: a bare `- NAME` or `NAME:` (value from the shell, else .env). */
  raw: string | null;
  label: string;
  scope: Scope;
}

interface RawEnvFile {
  /** Absolute. */
  path: string;
  required: boolean;
  label: string;
  scope: Scope;
}

interface RawService {
  name: string;
  image: string | null;
  /** Resolved against its file's working directory (a remote context is kept as written). */
  buildContext: string | null;
  environment: RawEnvironmentEntry[];
  envFiles: RawEnvFile[];
  labels: Map<string, string>;
  profiles: string[];
  extends: { service: string; file: string | null; label: string } | null;
  /** The file that first defines the service (where a fix adds a variable), as shown. */
  definedIn: string;
  /** The form of its `environment:` there (a fix must add an entry of the same form); null when it has none. */
  environmentForm: 'map' | 'list' | null;
}

interface ParsedFile {
  name: string | null;
  services: Map<string, RawService>;
  includes: Array<{ paths: string[]; projectDirectory: string | null; envFiles: string[] | null; label: string }>;
}

/** What loading the model needs: file access, and the list of files read (`sources`), appended to as they are. */
interface Loading {
  io: ComposeIo;
  sources: SourceRef[];
}

function where(file: YamlFile, line: number | null): string {
  return line ? `${file.label}:${line}` : file.label;
}

const isRemote = (text: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(text) || text.startsWith('git@');

/** compose-go resolves `~` (the shell's HOME), then relative paths from the working directory. */
function resolvePath(io: ComposeIo, base: string, text: string): string {
  const home = io.shellEnv.HOME;
  const expanded = home && (text === '~' || text.startsWith('~/')) ? path.join(home, text.slice(1)) : text;
  return path.resolve(base, expanded);
}

/** A scalar or a sequence of scalars, as text. */
function textList(file: YamlFile, node: unknown): string[] {
  const single = scalarText(resolve(file, node));
  if (typeof single === 'string') return [single];
  return (itemsOf(file, node) ?? []).map((item) => scalarText(item.value)).filter((text): text is string => typeof text === 'string');
}

/**
 * `environment:` and `labels:` in either form Compose accepts: a list of `KEY=VALUE` (a bare
 * `KEY` has no value) or a map (a null value is none).
 */
function keyValueItems(file: YamlFile, node: unknown): Array<{ name: string; raw: string | null; line: number | null }> {
  const items = itemsOf(file, node);
  if (items) {
    return items.flatMap((item) => {
      const text = scalarText(item.value);
      if (typeof text !== 'string') return [];
      const equals = text.indexOf('=');
      return [
        equals < 0
          ? { name: text.trim(), raw: null, line: item.line }
          : { name: text.slice(0, equals).trim(), raw: text.slice(equals + 1), line: item.line },
      ];
    });
  }
  return entriesOf(file, node).map(({ key, value, line }) => ({
    name: key,
    raw: value === null ? null : (scalarText(value) ?? null),
    line,
  }));
}

function readEnvironment(file: YamlFile, node: unknown, scope: Scope, into: RawEnvironmentEntry[]): void {
  for (const { name, raw, line } of keyValueItems(file, node)) into.push({ name, raw, label: where(file, line), scope });
}

function readEnvFiles(io: ComposeIo, file: YamlFile, node: unknown, context: LoadContext, into: RawEnvFile[]): void {
  const lookup = lookupIn(context.scope);
  const add = (text: string, required: boolean, line: number | null) =>
    into.push({
      path: resolvePath(io, context.workingDir, quietly(text, lookup)),
      required,
      label: where(file, line),
      scope: context.scope,
    });
  const single = scalarText(resolve(file, node));
  if (typeof single === 'string') {
    add(single, true, file.lineOf(resolve(file, node)));
    return;
  }
  for (const item of itemsOf(file, node) ?? []) {
    const text = scalarText(item.value);
    if (typeof text === 'string') {
      add(text, true, item.line);
      continue;
    }
    const pathEntry = entry(file, item.value, 'path');
    const pathText = pathEntry ? scalarText(pathEntry.value) : undefined;
    if (typeof pathText !== 'string') continue;
    const required = entry(file, item.value, 'required');
    add(pathText, required ? scalarText(required.value) !== 'false' : true, item.line);
  }
}

function readLabels(file: YamlFile, node: unknown, lookup: VariableLookup, into: Map<string, string>): void {
  for (const { name, raw } of keyValueItems(file, node)) into.set(name, raw === null ? '' : quietly(raw, lookup));
}

function readComposeFile(loading: Loading, absolute: string, context: LoadContext): ParsedFile {
  const { io } = loading;
  const label = displayPath(io.cwd, absolute);
  const file = parseYamlFile(readTextOrThrow(io, absolute, 'compose file', 'check the path and permissions'), label, HINT_YAML);
  const lookup = lookupIn(context.scope);
  const parsed: ParsedFile = { name: null, services: new Map(), includes: [] };
  for (const top of entriesOf(file, file.doc.contents)) {
    if (top.key === 'name') parsed.name = scalarText(top.value) || null;
    if (top.key === 'include') {
      for (const item of itemsOf(file, top.value) ?? []) {
        const short = scalarText(item.value);
        const long = (key: string) => {
          const found = entry(file, item.value, key);
          return found ? textList(file, found.value).map((text) => quietly(text, lookup)) : null;
        };
        const paths = typeof short === 'string' ? [quietly(short, lookup)] : (long('path') ?? []);
        if (paths.length === 0) throw new ConfigError(`${where(file, item.line)}: an include entry needs a path`, HINT_YAML);
        parsed.includes.push({
          paths,
          projectDirectory: typeof short === 'string' ? null : (long('project_directory')?.[0] ?? null),
          envFiles: typeof short === 'string' ? null : long('env_file'),
          label: where(file, item.line),
        });
      }
    }
    if (top.key !== 'services') continue;
    for (const serviceEntry of entriesOf(file, top.value)) {
      const service: RawService = {
        name: serviceEntry.key,
        image: null,
        buildContext: null,
        environment: [],
        envFiles: [],
        labels: new Map(),
        profiles: [],
        extends: null,
        definedIn: file.label,
        environmentForm: null,
      };
      parsed.services.set(serviceEntry.key, service);
      for (const field of entriesOf(file, serviceEntry.value)) {
        const text = scalarText(field.value);
        if (field.key === 'image' && typeof text === 'string') service.image = quietly(text, lookup);
        if (field.key === 'build') {
          const nested = entry(file, field.value, 'context');
          const buildText = typeof text === 'string' ? text : nested ? scalarText(nested.value) : null;
          if (typeof buildText === 'string') {
            const interpolated = quietly(buildText, lookup);
            service.buildContext = isRemote(interpolated) ? interpolated : resolvePath(io, context.workingDir, interpolated);
          }
        }
        if (field.key === 'environment') {
          readEnvironment(file, field.value, context.scope, service.environment);
          service.environmentForm = itemsOf(file, field.value) ? 'list' : 'map';
        }
        if (field.key === 'env_file') readEnvFiles(io, file, field.value, context, service.envFiles);
        if (field.key === 'labels') readLabels(file, field.value, lookup, service.labels);
        if (field.key === 'profiles') service.profiles = textList(file, field.value).map((profile) => quietly(profile, lookup));
        if (field.key === 'extends') {
          const serviceName = typeof text === 'string' ? text : entry(file, field.value, 'service');
          const base = typeof serviceName === 'string' ? serviceName : serviceName ? scalarText(serviceName.value) : null;
          const fileEntry = entry(file, field.value, 'file');
          const baseFile = fileEntry ? scalarText(fileEntry.value) : null;
          if (typeof base !== 'string')
            throw new ConfigError(`${where(file, field.line)}: extends of service ${service.name} needs a service`, HINT_YAML);
          service.extends = {
            service: quietly(base, lookup),
            file: typeof baseFile === 'string' ? quietly(baseFile, lookup) : null,
            label: where(file, field.line),
          };
        }
      }
    }
  }
  return parsed;
}

/** Compose's merge of two definitions of one service: `over` wins on scalars and mapping keys; sequences are appended. */
function mergeService(base: RawService, over: RawService): RawService {
  return {
    name: over.name,
    image: over.image ?? base.image,
    buildContext: over.buildContext ?? base.buildContext,
    environment: [...base.environment, ...over.environment],
    envFiles: [...base.envFiles, ...over.envFiles],
    labels: new Map([...base.labels, ...over.labels]),
    profiles: [...new Set([...base.profiles, ...over.profiles])],
    extends: over.extends ?? base.extends,
    definedIn: base.definedIn,
    environmentForm: base.environmentForm ?? over.environmentForm,
  };
}

function mergeInto(model: Map<string, RawService>, services: Map<string, RawService>): void {
  for (const [name, service] of services) {
    const earlier = model.get(name);
    model.set(name, earlier ? mergeService(earlier, service) : service);
  }
}

/** Files merged in order, each with its includes and extends applied first, as compose-go loads them. */
function loadModel(
  loading: Loading,
  files: string[],
  context: LoadContext,
  including: string[],
): { services: Map<string, RawService>; names: Array<string | null> } {
  const services = new Map<string, RawService>();
  const names: Array<string | null> = [];
  for (const absolute of files) {
    const parsed = readComposeFile(loading, absolute, context);
    names.push(parsed.name);
    for (const include of parsed.includes) {
      const imported = loadInclude(loading, include, context, [...including, absolute]);
      // The including file's own definition wins, key by key.
      for (const [name, service] of imported) {
        const local = parsed.services.get(name);
        parsed.services.set(name, local ? mergeService(service, local) : service);
      }
    }
    for (const name of parsed.services.keys()) applyExtends(loading, name, parsed.services, absolute, context, []);
    mergeInto(services, parsed.services);
  }
  return { services, names };
}

function loadInclude(loading: Loading, include: ParsedFile['includes'][number], context: LoadContext, including: string[]) {
  const { io } = loading;
  const files = include.paths.map((text) => resolvePath(io, context.workingDir, text));
  for (const file of files) {
    if (!io.isFile(file))
      throw new ConfigError(
        `${include.label}: included file ${displayPath(io.cwd, file)} does not exist`,
        "fix the path (relative to the including project's directory)",
      );
  }
  if (including.includes(files[0]!)) {
    throw new ConfigError(
      `${include.label}: include cycle: ${[...including, files[0]!].map((f) => displayPath(io.cwd, f)).join(' includes ')}`,
      'docker compose refuses it too; remove one of the includes',
    );
  }
  const workingDir = include.projectDirectory ? resolvePath(io, context.workingDir, include.projectDirectory) : path.dirname(files[0]!);
  const envFiles =
    include.envFiles === null
      ? [path.join(workingDir, '.env')].filter((file) => io.isFile(file))
      : include.envFiles
          .filter((text) => text !== '/dev/null')
          .map((text) => {
            const file = resolvePath(io, context.workingDir, text);
            if (!io.isFile(file))
              throw new ConfigError(`${include.label}: env_file ${displayPath(io.cwd, file)} does not exist`, 'fix the path or create it');
            return file;
          });
  // The including project's variables win; among the include's env files, the later wins.
  const own: VariableLayer[] = [];
  for (const file of envFiles) {
    const values = parseDotenvFile(io, file, '.env file', lookupIn({ layers: [...context.scope.layers, ...own], dotenvLabel: '' }));
    const label = displayPath(io.cwd, file);
    own.unshift({ label, shell: false, get: (name) => values.get(name) });
    addSource(loading, 'dotenv', label);
  }
  for (const file of files) addSource(loading, 'compose', displayPath(io.cwd, file));
  const scope: Scope = { layers: [...context.scope.layers, ...own], dotenvLabel: context.scope.dotenvLabel };
  return loadModel(loading, files, { workingDir, scope }, including).services;
}

function addSource(loading: Loading, kind: SourceRef['kind'], label: string): void {
  if (!loading.sources.some((s) => s.kind === kind && s.path === label)) loading.sources.push({ kind, path: label });
}

/** Resolves `extends` of one service in place (bases first), following `file` to other files; a cycle is refused. */
function applyExtends(
  loading: Loading,
  name: string,
  services: Map<string, RawService>,
  file: string,
  context: LoadContext,
  chain: string[],
): RawService {
  const { io } = loading;
  const service = services.get(name)!;
  if (!service.extends) return service;
  const { service: baseName, file: baseText, label } = service.extends;
  const step = `${displayPath(io.cwd, file)} service ${name}`;
  if (chain.includes(step)) {
    throw new ConfigError(`${label}: extends forms a cycle: ${[...chain, step].join(' extends ')}`, 'docker compose refuses it too');
  }
  let baseFile = file;
  let baseContext = context;
  let baseServices = services;
  if (baseText !== null) {
    baseFile = resolvePath(io, context.workingDir, baseText);
    if (!io.isFile(baseFile))
      throw new ConfigError(
        `${label}: extends.file ${displayPath(io.cwd, baseFile)} of service ${name} does not exist`,
        'fix the path: it starts at the project directory (in a file reached through include or extends, at that project or file)',
      );
    addSource(loading, 'compose', displayPath(io.cwd, baseFile));
    // The extended file's own paths resolve from its folder; its variables are the extending project's.
    baseContext = { workingDir: path.dirname(baseFile), scope: context.scope };
    baseServices = readComposeFile(loading, baseFile, baseContext).services;
  }
  if (!baseServices.has(baseName)) {
    throw new ConfigError(
      `${label}: service ${name} extends ${baseName}, which ${displayPath(io.cwd, baseFile)} does not define`,
      'fix extends.service (or extends.file)',
    );
  }
  const base = applyExtends(loading, baseName, baseServices, baseFile, baseContext, [...chain, step]);
  const merged = mergeService(base, { ...service, extends: null });
  services.set(name, merged);
  return merged;
}

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
  const scope: Scope = {
    layers: [
      { label: 'shell', shell: true, get: (name) => io.shellEnv[name] },
      { label: dotenvLabel, shell: false, get: (name) => dotenv.get(name) },
    ],
    dotenvLabel,
  };
  const projectLookup = lookupIn(scope);

  const { services, names } = loadModel({ io, sources: result.sources }, found.files, { workingDir: directory, scope }, []);
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
    const labels = Object.fromEntries(raw.labels);
    if (isLmnrKeysTool(labels)) {
      result.notes.push({
        kind: 'lmnr_keys_service',
        service: raw.name,
        variable: null,
        detail: `service ${raw.name} is lmnr-keys itself (label ${TOOL_LABEL}): not a Laminar service, not judged`,
      });
      continue;
    }
    const service = recogniseService({ composeName: raw.name, image: raw.image, buildContext: raw.buildContext });
    if (!service) continue;
    laminarServices += 1;
    // compose-go's HasProfile: no profiles = always in the model; `*` enables every profile.
    const active = raw.profiles.length === 0 || profiles.includes('*') || raw.profiles.some((p) => profiles.includes(p));
    if (!active) {
      result.notes.push({
        kind: 'inactive_profile',
        service: raw.name,
        variable: null,
        detail:
          `service ${raw.name} is only in profile${raw.profiles.length === 1 ? '' : 's'} ${raw.profiles.join(', ')}, ` +
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
  const project: ProjectContext = { firstFile: displayPath(io.cwd, found.files[0]!), dotenvLabel, command };
  for (const { raw, service } of judged) result.received.push(...resolveService(io, raw, service, project, result.sources));
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
  firstFile: string;
  dotenvLabel: string;
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
    const label = displayPath(io.cwd, envFile.path);
    if (!io.isFile(envFile.path)) {
      if (!envFile.required) continue;
      throw new ConfigError(
        `env_file ${label} of service ${raw.name} (${envFile.label}) does not exist`,
        "create it, fix the path (relative to the project directory, or to an included project's), or mark it `required: false`",
      );
    }
    if (!sources.some((s) => s.kind === 'env_file' && s.path === label)) sources.push({ kind: 'env_file', path: label });
    const values = parseDotenvFile(io, envFile.path, 'env_file', lookupIn(envFile.scope));
    for (const [name, value] of values) fromEnvFiles.set(name, { value, from: `env_file ${label}` });
  }
  const modeEntry = raw.environment.filter((e) => e.name === OPERATION_MODE).pop();
  const operationMode = modeEntry
    ? modeEntry.raw === null
      ? lookupIn(modeEntry.scope)(OPERATION_MODE)
      : quietly(modeEntry.raw, lookupIn(modeEntry.scope))
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
          `the environment of service ${raw.name} in ${raw.definedIn} (add ` +
          (raw.environmentForm === 'list' ? `\`- ${variable}=\${${variable}}\`` : `\`${variable}: \${${variable}}\``) +
          `, with ${variable} in ${project.dotenvLabel})`,
      };
    }
    const { scope } = last;
    if (last.raw === null) {
      const found = findIn(scope, variable);
      if (found?.layer.shell) {
        return {
          ...base,
          variable,
          value: found.value,
          from: 'shell',
          setIn: setInOf(scope, variable),
          shellShadows: [shadow(variable, found.value, scope)],
        };
      }
      if (found) return { ...base, variable, value: found.value, from: found.layer.label, setIn: setInOf(scope, variable) };
      return {
        ...base,
        variable,
        value: null,
        from: `${last.label}: \`${variable}\` without a value, set in neither ${neither(scope)}`,
        setIn: setInOf(scope, variable),
      };
    }
    const sourceOf = new Map<string, VariableLayer>();
    const tracked: VariableLookup = (name) => {
      const found = findIn(scope, name);
      if (found) sourceOf.set(name, found.layer);
      return found?.value;
    };
    let interpolated;
    try {
      interpolated = interpolate(last.raw, tracked);
    } catch (error) {
      if (!(error instanceof InterpolationError)) throw error;
      if (error.kind === 'required')
        return {
          ...base,
          variable,
          value: null,
          from: last.label,
          setIn: setInOf(scope, error.variable ?? variable),
          refusal: error.message,
        };
      throw new ConfigError(`${last.label}: ${error.message} in ${variable} of service ${raw.name}`, HINT_YAML);
    }
    const shadows = [...sourceOf].filter(([, layer]) => layer.shell).map(([name]) => shadow(name, io.shellEnv[name]!, scope));
    const withShadows = shadows.length > 0 ? { shellShadows: shadows } : {};
    const { references, usedFallback, value } = interpolated;
    const whole = /^\$(\{[_a-zA-Z][_a-zA-Z0-9]*\}|[_a-zA-Z][_a-zA-Z0-9]*)$/.test(last.raw);
    if (references.length === 0 && !usedFallback) return { ...base, variable, value, from: `literal in ${last.label}`, setIn: last.label };
    if (whole && references.length === 1) {
      const reference = references[0]!;
      const source = sourceOf.get(reference.name);
      const setIn = setInOf(scope, reference.name);
      if (source === undefined) {
        return {
          ...base,
          variable,
          value,
          from: `${last.label}: \${${reference.name}} is set in neither ${neither(scope)}`,
          setIn,
        };
      }
      return { ...base, variable, value, from: source.shell ? 'shell' : source.label, setIn, ...withShadows };
    }
    if (usedFallback) return { ...base, variable, value, from: `default in ${last.label}`, setIn: last.label, ...withShadows };
    return { ...base, variable, value, from: `${last.label} (interpolated)`, setIn: last.label, ...withShadows };
  });
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
