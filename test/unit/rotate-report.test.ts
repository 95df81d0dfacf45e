/** rotate's verdict says what it knows: every value it read, and how many rows appeared meanwhile. */
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { renderRotation, rotationDocument, rowsAppeared } from '../../src/report/rotate.js';
import type { RotationResult, RotationStoreReport } from '../../src/core/rotate.js';

const c = new Chalk({ level: 0 });
const context = {
  to: 'env:NEW',
  fingerprint: 'abcd1234',
  rerun: 'run the same command again',
  variables: ['AEAD_SECRET_KEY'],
  runbook: { alreadyInUse: false, steps: [] },
  databaseUrlFlag: false,
};
const extra = { dryRun: false, backup: null, slackUnderFrom: 0, publicDefaultInBackup: false };
const store = (name: RotationStoreReport['store'], rowsAtStart: number | null, rowsAtEnd: number | null): RotationStoreReport => ({
  store: name,
  present: rowsAtStart !== null,
  total: 10,
  rotated: 10,
  alreadyCurrent: 0,
  stuck: 0,
  retried: 0,
  rowsAtStart,
  rowsAtEnd,
  fromPublicDefault: 0,
});

describe('rotate report', () => {
  it('claims every value read, not every value, and tells how many rows appeared', () => {
    const result: RotationResult = {
      stores: [
        store('provider_api_keys', 100, 103),
        store('workspace_deployments.private_key', 5, 6),
        store('workspace_deployments.data_plane_url', 5, 6),
        store('slack_integrations', null, null),
      ],
      stuck: [],
    };
    const doc = rotationDocument(result, extra);
    expect(rowsAppeared(doc)).toBe(4);
    const text = renderRotation(doc, c, context);
    expect(text).toContain('every value read opens under env:NEW');
    expect(text).toContain('4 rows appeared while it ran');
    expect(text).not.toContain('every value now opens');
  });

  it('says nothing about new rows when the counts did not grow', () => {
    const doc = rotationDocument({ stores: [store('provider_api_keys', 100, 99)], stuck: [] }, extra);
    expect(rowsAppeared(doc)).toBe(0);
    expect(renderRotation(doc, c, context)).not.toContain('appeared');
  });
});
