/** The real `kubectl` for --kubectl: the inherited environment (KUBECONFIG, in-cluster service account), a time limit, no shell. */
import { execFile } from 'node:child_process';
import type { KubectlResult, RunKubectl } from './read-cluster.js';

export const runKubectlCli: RunKubectl = (args) =>
  new Promise<KubectlResult>((resolve) => {
    execFile('kubectl', args, { timeout: 60_000, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        resolve({ exitCode: null, stdout: '', stderr: '', notFound: true });
        return;
      }
      const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ exitCode, stdout, stderr: stderr || (error && exitCode === null ? `${error.message.split('\n')[0]}` : '') });
    });
  });
