# syntax=docker/dockerfile:1
# Beacon's container image. Build from the repository root:
#   docker build -t beacon:0.1.0 .
#   docker run --init -p 8290:8290 -v beacon-data:/var/lib/beacon beacon:0.1.0
# One image for every role: `start --role collector|dispatcher|api` (docs/deployment.md).
# No container engine runs on the machines this project is tested on: a test lints this file
# and checks what it copies exists (test/unit/deploy/dockerfile.test.ts); it was not built here.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: all dependencies, compile TypeScript, bundle the tracker and the web page into dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# esbuild works without its install script, and no other build dependency needs one.
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-tracker.mjs scripts/build-web.mjs ./scripts/
COPY src ./src
COPY tracker ./tracker
COPY web ./web
RUN npm run build

# 2. Production dependencies only, in their own stage so the runtime image has no compilers,
# type definitions or test tools.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

# 3. Runtime: node, the compiled app and its production node_modules, run as a fixed non-root
# uid (10001) so Kubernetes can check runAsNonRoot and mount volumes with fsGroup 10001.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 beacon \
  && useradd --system --uid 10001 --gid beacon --home-dir /var/lib/beacon --no-create-home \
     --shell /usr/sbin/nologin beacon \
  && install -d -o beacon -g beacon -m 0750 /var/lib/beacon
WORKDIR /opt/beacon
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json LICENSE README.md ./
COPY deploy/package/beacon.yaml /etc/beacon/beacon.yaml
USER 10001:10001
WORKDIR /var/lib/beacon
EXPOSE 8290
# The log, cursors, dead letters and the embedded store: keep them on a volume, or a new
# container starts empty and undelivered events are lost with the old one.
VOLUME ["/var/lib/beacon"]
# The slim image has no curl; Node's fetch asks /healthz on the port the config override names.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.BEACON_SERVER__PORT || 8290) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains (stop accepting, finish appends, flush sinks, commit cursors); give it time:
# docker stop -t 30, and terminationGracePeriodSeconds in Kubernetes.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--enable-source-maps", "/opt/beacon/dist/cli/main.js"]
CMD ["start", "--config", "/etc/beacon/beacon.yaml"]
