# lmnr-keys in a container, for hosts without Node: docs/compose.md (with compose.yaml beside this
# file, it runs as a one-off service of Laminar's docker compose project).
#
# node:20-alpine pinned by digest: the tag moves, the digest does not. To move to a newer build,
# replace the digest in both FROM lines with the one `docker buildx imagetools inspect
# node:20-alpine` prints (test/unit/container.test.ts checks that both name the same image).

# --- build: dist/ (tsc, then the esbuild bundle), then only the production dependencies ---------
FROM node:20-alpine@sha256:fb4cd12c85ee03686f6af5362a0b0d56d50c58a04632e6c0fb8363f609372293 AS build
WORKDIR /build
# `npm ci` runs the `prepare` script, which is the build: the sources must be here first.
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY bin ./bin
# --omit=optional: no embedded Postgres (the demo's and the tests'). esbuild's own install script
# fetches its binary; without it the bin runs the compiled modules instead (scripts/bundle.mjs).
# The build needs the devDependencies (tsc, esbuild); prune drops them once dist/ exists.
RUN npm ci --omit=optional --no-audit --no-fund \
 && npm prune --omit=dev --omit=optional --no-audit --no-fund \
 && npm cache clean --force

# --- run -----------------------------------------------------------------------------------------
FROM node:20-alpine@sha256:fb4cd12c85ee03686f6af5362a0b0d56d50c58a04632e6c0fb8363f609372293
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /build/package.json ./
COPY --from=build /build/bin ./bin
COPY --from=build /build/dist ./dist
COPY --from=build /build/node_modules ./node_modules
# The image's `node` user, by number so that a runtime can tell it is not root (Kubernetes'
# runAsNonRoot cannot check a user name). Everything above stays owned by root: read-only to it.
USER 1000:1000
ENTRYPOINT ["/app/bin/lmnr-keys.js"]
CMD ["--help"]
