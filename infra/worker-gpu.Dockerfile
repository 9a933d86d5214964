# The GPU compression worker: onnxruntime with the CUDA execution provider. It pulls jobs from a gateway
# over HTTP (FLATGATE_GATEWAY_URL, FLATGATE_WORKER_TOKEN), picks CUDA when a GPU is visible and falls back
# to the CPU otherwise, and reports the provider it used in each job's report.
# Build from the repository root: docker build -f infra/worker-gpu.Dockerfile -t flatgate-worker-gpu .
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG NODE_VERSION=20.20.2
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl xz-utils \
 && curl -fsSL https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-x64.tar.xz | tar -xJ -C /usr/local --strip-components=1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production FLATGATE_DATA_DIR=/work
# glibc: few arenas, large blocks mmapped and returned at once (see src/platform/local-worker.ts)
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=131072
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund --onnxruntime-node-install=skip \
 && node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12
COPY bin ./bin
COPY src ./src
COPY fixtures/text ./fixtures/text
# the bundled zero-shot task subsets: the default FLATGATE_TASK_DATA_DIR (/app/fixtures/tasks); a job's
# default evaluation reads them. Mount full datasets and set FLATGATE_TASK_DATA_DIR to use those instead.
COPY fixtures/tasks ./fixtures/tasks
VOLUME /work
ENTRYPOINT ["node", "bin/flatgate.mjs", "worker"]
