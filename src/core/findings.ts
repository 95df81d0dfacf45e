/**
 * A failing value as doctor finds it and advice explains it: declared here, below both, so
 * doctor.ts and advice.ts each import it and neither imports the other's module for it.
 */
import type { StoreName } from '../stores/stores.js';
import type { ValueStatus } from './diagnose.js';

export interface Finding {
  store: StoreName;
  id: string;
  workspaceId: string | null;
  workspaceName: string | null;
  projectId: string | null;
  projectName: string | null;
  name: string;
  status: Exclude<ValueStatus, 'ok'>;
  decryptsWith: string | null;
  detail: string | null;
}
