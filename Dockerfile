# syntax=docker/dockerfile:1
#
# One image definition for every Sluice process. Build a service with its target:
#   docker build --target ingestion -t sluice-ingestion .
# Targets: ingestion, worker, analytics, cli (migrate/setup/dlq/rollups:rebuild), loadtest.
# docker-compose.yml builds them all from this file.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: every dependency (dev included), TypeScript compiled to dist/ ----------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN chown node:node /app
USER node
# Manifests first: the npm ci layer is reused until a dependency changes.
COPY --chown=node:node package.json package-lock.json ./
COPY --chown=node:node packages/contracts/package.json packages/contracts/
COPY --chown=node:node packages/kit/package.json packages/kit/
COPY --chown=node:node packages/formats/package.json packages/formats/
COPY --chown=node:node packages/testkit/package.json packages/testkit/
COPY --chown=node:node packages/cli/package.json packages/cli/
COPY --chown=node:node db/package.json db/
COPY --chown=node:node services/ingestion/package.json services/ingestion/
COPY --chown=node:node services/worker/package.json services/worker/
COPY --chown=node:node services/analytics/package.json services/analytics/
COPY --chown=node:node loadtest/package.json loadtest/
RUN npm ci --no-audit --no-fund
COPY --chown=node:node tsconfig.base.json tsconfig.build.json ./
COPY --chown=node:node packages packages
COPY --chown=node:node db db
COPY --chown=node:node services services
COPY --chown=node:node loadtest loadtest
RUN npm run build

# ---- runtime: production dependencies and compiled JavaScript only (no tsx) --------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/packages/contracts/package.json packages/contracts/
COPY --from=build /app/packages/kit/package.json packages/kit/
COPY --from=build /app/packages/formats/package.json packages/formats/
COPY --from=build /app/packages/testkit/package.json packages/testkit/
COPY --from=build /app/packages/cli/package.json packages/cli/
COPY --from=build /app/db/package.json db/
COPY --from=build /app/services/ingestion/package.json services/ingestion/
COPY --from=build /app/services/worker/package.json services/worker/
COPY --from=build /app/services/analytics/package.json services/analytics/
COPY --from=build /app/loadtest/package.json loadtest/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# Compiled code only; packages resolve to dist/ through the `default` export condition.
COPY --from=build /app/packages/contracts/dist packages/contracts/dist
COPY --from=build /app/packages/kit/dist packages/kit/dist
COPY --from=build /app/packages/formats/dist packages/formats/dist
COPY --from=build /app/packages/cli/dist packages/cli/dist
COPY --from=build /app/db/dist db/dist
COPY --from=build /app/db/migrations db/migrations
COPY --from=build /app/services/ingestion/dist services/ingestion/dist
COPY --from=build /app/services/worker/dist services/worker/dist
COPY --from=build /app/services/analytics/dist services/analytics/dist
# The image's own unprivileged user (uid 1000 in the node images), never root.
USER node
# Every service answers /health/readiness on $PORT; the one-shot cli target overrides this.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3001)+'/health/readiness').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

FROM runtime AS ingestion
ENV PORT=3001
EXPOSE 3001
CMD ["node", "services/ingestion/dist/server.js"]

FROM runtime AS worker
ENV PORT=3003
EXPOSE 3003
CMD ["node", "services/worker/dist/server.js"]

FROM runtime AS analytics
ENV PORT=3002
EXPOSE 3002
CMD ["node", "services/analytics/dist/server.js"]

# One-shot commands: `setup` (migrate + streams) in compose; also migrate, dlq, rollups:rebuild.
FROM runtime AS cli
HEALTHCHECK NONE
ENTRYPOINT ["node", "packages/cli/dist/main.js"]
CMD ["setup"]

# ---- loadtest: the build stage (it keeps tsx and autocannon), run as `npm run loadtest` --
FROM build AS loadtest
ENTRYPOINT ["npm", "run", "loadtest", "--"]
CMD ["single"]
