#!/usr/bin/env bash
# Replays the Dockerfile's build and runtime stages without a Docker engine, to check that
# the images would build and that a service runs from compiled JavaScript with production
# dependencies only:
#
#   ops/replay-image-build.sh [dir]     # default: a new directory under /tmp
#
# then, as the runtime image would:  cd <dir>/runtime && HOST=0.0.0.0 node services/ingestion/dist/server.js
# It copies the build context (minus .dockerignore's patterns), runs `npm ci` and
# `npm run build` there, then assembles the runtime stage: the manifests, `npm ci
# --omit=dev`, and the dist/ directories and migrations the Dockerfile copies.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$(mktemp -d /tmp/sluice-image-XXXXXX)}"
build="$out/build" runtime="$out/runtime"
rm -rf "$build" "$runtime" && mkdir -p "$build" "$runtime"

cd "$src"
grep -v -e '^#' -e '^$' .dockerignore | sed 's#^\*\*/##' > "$out/excludes"
rsync -a --exclude-from="$out/excludes" ./ "$build/"

echo "== build stage: npm ci, npm run build"
(cd "$build" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

echo "== runtime stage: manifests, npm ci --omit=dev, compiled code"
workspaces="packages/contracts packages/kit packages/formats packages/testkit packages/cli db services/ingestion services/worker services/analytics loadtest"
cp "$build/package.json" "$build/package-lock.json" "$runtime/"
for w in $workspaces; do mkdir -p "$runtime/$w" && cp "$build/$w/package.json" "$runtime/$w/"; done
(cd "$runtime" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
for d in packages/contracts/dist packages/kit/dist packages/formats/dist packages/cli/dist db/dist db/migrations \
  services/ingestion/dist services/worker/dist services/analytics/dist; do
  cp -r "$build/$d" "$runtime/$d"
done
for dev in tsx typescript eslint; do
  if [ -e "$runtime/node_modules/$dev" ]; then echo "dev dependency $dev in the runtime stage" >&2; exit 1; fi
done
du -sh "$runtime"
echo "runtime stage ready in $runtime"
