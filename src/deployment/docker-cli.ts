/** The real `docker` CLI for container discovery: the inherited environment (DOCKER_HOST, contexts), a time limit, no shell. */
import { execFile } from 'node:child_process';
import type { DockerResult, RunDocker } from './read-containers.js';

export const runDockerCli: RunDocker = (args) =>
  new Promise<DockerResult>((resolve) => {
    execFile('docker', args, { timeout: 15_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        resolve({ exitCode: null, stdout: '', stderr: '', notFound: true });
        return;
      }
      const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ exitCode, stdout, stderr: stderr || (error && exitCode === null ? `${error.message.split('\n')[0]}` : '') });
    });
  });
