/**
 * --metrics FILE (doctor, verify-provider, check-deployment): where the run's Prometheus series
 * go. Checked before the run (the folder exists; the file is not another command's), written
 * after it, failed runs included (report/metrics.ts says what each run writes).
 */
import path from 'node:path';
import { writeReportFile } from '../files/atomic-file.js';
import { localFileError } from '../files/file-error.js';
import { nodeFileSystem, type FileSystem } from '../files/file-system.js';
import { UsageError } from '../errors.js';
import {
  commandOfMetricsFile,
  previousLastSuccess,
  renderMetrics,
  runMetrics,
  type MetricFamily,
  type MetricsCommand,
} from '../report/metrics.js';

export interface MetricsTarget {
  path: string;
  command: MetricsCommand;
  /** The file's previous text (its last success is carried over by a failed run). */
  previous: string | null;
}

/** `FILE`, or `FOLDER/lmnr-keys-COMMAND.prom` when FILE is a folder (node_exporter's textfile directory). */
export function prepareMetricsFile(cwd: string, given: string, command: MetricsCommand, fs: FileSystem = nodeFileSystem): MetricsTarget {
  let target = path.resolve(cwd, given);
  if (fs.isDirectory(target)) target = path.join(target, `lmnr-keys-${command}.prom`);
  if (!fs.isDirectory(path.dirname(target)))
    throw localFileError(Object.assign(new Error('no folder'), { code: 'ENOENT' }), `write the metrics file ${target}`, target);
  let previous: string | null = null;
  try {
    previous = fs.readFileSync(target).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw localFileError(error, `read the metrics file ${target}`, target);
  }
  if (previous !== null) {
    const owner = commandOfMetricsFile(previous);
    if (owner !== null && owner !== command)
      throw new UsageError(
        `--metrics ${given} holds the metrics of ${owner}: each command needs its own file (node_exporter reads every *.prom in its folder)`,
        `e.g. --metrics ${path.join(path.dirname(given), `lmnr-keys-${command}.prom`)}, or give the folder: --metrics ${path.dirname(given)}`,
      );
  }
  return { path: target, command, previous };
}

/** Writes the file: the command's families when the run completed (exit 0 or 1), the run's series always. */
export function writeMetricsFile(
  target: MetricsTarget,
  families: MetricFamily[] | null,
  exitCode: number,
  nowSeconds: number,
  fs: FileSystem = nodeFileSystem,
): void {
  const completed = (exitCode === 0 || exitCode === 1) && families !== null;
  const lastSuccess = completed ? nowSeconds : previousLastSuccess(target.previous, target.command);
  const text = renderMetrics([...(completed ? families : []), ...runMetrics(target.command, exitCode, nowSeconds, lastSuccess)]);
  writeReportFile(fs, target.path, 'the metrics file', text);
}
