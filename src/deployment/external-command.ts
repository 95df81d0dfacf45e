/**
 * The real `docker` and `kubectl` the deployment readers ask: the inherited environment
 * (DOCKER_HOST and contexts, KUBECONFIG or the in-cluster service account), a time limit, an
 * output bound, no shell. Readers take the function, so tests hand in their own.
 */
import { execFile } from 'node:child_process';

export interface ExternalCommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The executable is not on PATH. */
  notFound?: boolean;
}

/** Runs the command with these arguments. */
export type RunExternalCommand = (args: string[]) => Promise<ExternalCommandResult>;

export function externalCommand(program: string, limits: { timeoutMs: number; maxBytes: number }): RunExternalCommand {
  return (args) =>
    new Promise<ExternalCommandResult>((resolve) => {
      execFile(program, args, { timeout: limits.timeoutMs, maxBuffer: limits.maxBytes, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          resolve({ exitCode: null, stdout: '', stderr: '', notFound: true });
          return;
        }
        const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ exitCode, stdout, stderr: stderr || (error && exitCode === null ? `${error.message.split('\n')[0]}` : '') });
      });
    });
}
