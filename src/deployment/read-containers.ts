/**
 * Reads what running containers hold: the JSON `docker inspect` prints (an array; each container's
 * `Config.Env` is every variable it was created with, `Config.Labels` has the compose project and
 * service). Without --containers it asks docker itself with the core CLI only (`docker ps`, then
 * `docker inspect`), and says so in a note when docker is absent or its daemon does not answer.
 */
import { ConfigError } from '../errors.js';
import { isLmnrKeysTool, OPERATION_MODE, recogniseService, TOOL_LABEL, withOperationMode } from './services.js';
import type { ExternalCommandResult, RunExternalCommand } from './external-command.js';
import type { DeploymentNote, ReaderResult, ReceivedVariable } from './types.js';

export type DockerResult = ExternalCommandResult;

/** Runs the docker CLI with these arguments (the environment, DOCKER_HOST included, is inherited). */
export type RunDocker = RunExternalCommand;

const PROJECT_LABEL = 'com.docker.compose.project';
const SERVICE_LABEL = 'com.docker.compose.service';

interface InspectedContainer {
  Id?: string;
  Name?: string;
  Image?: string;
  Config?: { Env?: unknown; Image?: string; Labels?: Record<string, string> | null };
  State?: { Running?: boolean; Status?: string };
}

/**
 * Turns `docker inspect` JSON into the plain list. `composeCommand` is the `docker compose ...`
 * that recreates a service of this project.
 */
export function readContainers(text: string, label: string, composeCommand: string): ReaderResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `${label} is not the JSON \`docker inspect\` prints (${(error as Error).message.split('\n')[0]})`,
      'produce it with: docker inspect $(docker compose ps -q) > containers.json',
    );
  }
  const containers = (Array.isArray(parsed) ? parsed : [parsed]) as InspectedContainer[];
  if (!containers.every((c) => c !== null && typeof c === 'object')) {
    throw new ConfigError(
      `${label} is not the JSON \`docker inspect\` prints (expected an array of containers)`,
      'produce it with: docker inspect $(docker compose ps -q) > containers.json',
    );
  }
  const received: ReceivedVariable[] = [];
  const notes: DeploymentNote[] = [];
  for (const container of containers) {
    const name = (container.Name ?? container.Id?.slice(0, 12) ?? 'unnamed').replace(/^\//, '');
    const labels = container.Config?.Labels ?? {};
    const composeService = labels[SERVICE_LABEL] ?? null;
    if (isLmnrKeysTool(labels)) {
      notes.push({
        kind: 'lmnr_keys_service',
        service: composeService ?? name,
        variable: null,
        detail: `container ${name} is lmnr-keys itself (label ${TOOL_LABEL}): not a Laminar service, not judged`,
      });
      continue;
    }
    const named = recogniseService({ composeName: composeService, image: container.Config?.Image ?? container.Image ?? null });
    if (!named) continue;
    if (container.State?.Running === false) {
      notes.push({
        kind: 'not_running',
        service: composeService ?? name,
        variable: null,
        detail: `container ${name} is not running (${container.State.Status ?? 'stopped'}): not checked`,
      });
      continue;
    }
    const env = new Map<string, string>();
    const list = Array.isArray(container.Config?.Env) ? (container.Config!.Env as unknown[]) : [];
    for (const item of list) {
      if (typeof item !== 'string') continue;
      const equals = item.indexOf('=');
      if (equals > 0) env.set(item.slice(0, equals), item.slice(equals + 1));
    }
    const service = withOperationMode(named, env.get(OPERATION_MODE));
    for (const variable of service.needs) {
      const value = env.get(variable);
      received.push({
        group: 'containers',
        role: service.role,
        service: composeService ?? name,
        container: name,
        variable,
        value: value ?? null,
        from: value === undefined ? `container ${name} (not in its environment)` : `container ${name}`,
        ...(composeService ? { composeService } : {}),
        setIn: composeService ? `the compose configuration of ${composeService}` : `the environment container ${name} is created with`,
        restart: composeService
          ? `${composeCommand} up -d --force-recreate ${composeService}`
          : `recreate container ${name} (docker restart keeps the environment it was created with)`,
      });
    }
  }
  return { received, sources: [{ kind: 'containers', path: label }], notes };
}

export type ContainerDiscovery = { text: string; label: string } | { note: DeploymentNote };

/** `docker ps` for the compose project's containers, then `docker inspect` them. Never throws. */
export async function discoverContainers(runDocker: RunDocker, projectName: string): Promise<ContainerDiscovery> {
  const note = (detail: string): ContainerDiscovery => ({
    note: { kind: 'containers_not_checked', service: null, variable: null, detail },
  });
  const firstLine = (text: string) => text.trim().split('\n')[0]?.slice(0, 200) ?? '';
  let listed: DockerResult;
  try {
    listed = await runDocker(['ps', '-q', '--no-trunc', '--filter', `label=${PROJECT_LABEL}=${projectName}`]);
  } catch (error) {
    return note(
      `running containers not checked: docker could not be run (${(error as Error).message.split('\n')[0]}); pass --containers FILE`,
    );
  }
  if (listed.notFound)
    return note('running containers not checked: docker is not on PATH (pass --containers FILE with the output of docker inspect)');
  if (listed.exitCode !== 0) {
    return note(
      `running containers not checked: the Docker daemon does not answer (${firstLine(listed.stderr) || `exit ${listed.exitCode}`}); the files were still checked`,
    );
  }
  const ids = listed.stdout.split(/\s+/).filter(Boolean);
  if (ids.length === 0) return note(`no running container of compose project ${projectName}: nothing to compare with the files`);
  const inspected = await runDocker(['inspect', ...ids]).catch(
    (error: Error) => ({ exitCode: null, stdout: '', stderr: error.message }) as DockerResult,
  );
  if (inspected.exitCode !== 0)
    return note(`running containers not checked: docker inspect failed (${firstLine(inspected.stderr) || `exit ${inspected.exitCode}`})`);
  return { text: inspected.stdout, label: `docker (compose project ${projectName})` };
}
