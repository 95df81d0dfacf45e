/**
 * A Laminar compose folder for the demo's check-deployment step, made at run time in the demo's
 * temporary folder: the quickstart's shape, a `.env` with the current keys, and what `docker
 * inspect` would print for its running containers, once with a web-app container created before
 * the key was changed (it still holds Laminar's public default) and once after it was recreated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LAMINAR_DEFAULT_KEY_HEX } from '../crypto/keys.js';

export interface DemoDeployment {
  folder: string;
  /** docker inspect output with the stale web-app container. */
  staleContainers: string;
  /** The same after `docker compose up -d --force-recreate frontend`. */
  recreatedContainers: string;
}

const COMPOSE = `name: lmnr
services:
  postgres:
    image: postgres:16
  frontend:
    image: ghcr.io/lmnr-ai/frontend
    environment:
      PORT: 5667
      AEAD_SECRET_KEY: \${AEAD_SECRET_KEY}
      SLACK_ENCRYPTION_KEY: \${SLACK_ENCRYPTION_KEY}
  app-server:
    image: ghcr.io/lmnr-ai/app-server
    environment:
      PORT: 8000
      AEAD_SECRET_KEY: \${AEAD_SECRET_KEY}
      SLACK_ENCRYPTION_KEY: \${SLACK_ENCRYPTION_KEY}
`;

function container(service: string, image: string, env: Record<string, string>) {
  return {
    Id: Buffer.from(service).toString('hex').padEnd(64, '0'),
    Name: `/lmnr-${service}-1`,
    State: { Status: 'running', Running: true },
    Config: {
      Image: image,
      Env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
      Labels: { 'com.docker.compose.project': 'lmnr', 'com.docker.compose.service': service },
    },
  };
}

export function writeDemoDeployment(parent: string, keys: { aead: string; slack: string }): DemoDeployment {
  const folder = path.join(parent, 'laminar');
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'docker-compose.yml'), COMPOSE);
  fs.writeFileSync(path.join(folder, '.env'), `AEAD_SECRET_KEY=${keys.aead}\nSLACK_ENCRYPTION_KEY=${keys.slack}\n`, { mode: 0o600 });
  const write = (name: string, frontendAead: string) => {
    const file = path.join(folder, name);
    const containers = [
      container('frontend', 'ghcr.io/lmnr-ai/frontend', { AEAD_SECRET_KEY: frontendAead, SLACK_ENCRYPTION_KEY: keys.slack, PORT: '5667' }),
      container('app-server', 'ghcr.io/lmnr-ai/app-server', { AEAD_SECRET_KEY: keys.aead, SLACK_ENCRYPTION_KEY: keys.slack, PORT: '8000' }),
    ];
    fs.writeFileSync(file, JSON.stringify(containers, null, 2), { mode: 0o600 });
    return file;
  };
  return {
    folder,
    staleContainers: write('containers.json', LAMINAR_DEFAULT_KEY_HEX),
    recreatedContainers: write('containers-recreated.json', keys.aead),
  };
}
