# The gateway + serving image: the Hono gateway, onnxruntime (CPU provider bundled), the demo model.
# Build from the repository root: docker build -f infra/gateway.Dockerfile -t flatgate-gateway .
FROM node:20.20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 FLATGATE_DATA_DIR=/data
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node's install script fetches CUDA files: not wanted in the CPU gateway
RUN npm ci --omit=dev --no-audit --no-fund --onnxruntime-node-install=skip
COPY bin ./bin
COPY src ./src
COPY drizzle ./drizzle
COPY fixtures/models ./fixtures/models
COPY fixtures/text ./fixtures/text
# the bundled zero-shot task subsets: the embedded worker's default FLATGATE_TASK_DATA_DIR (/app/fixtures/tasks);
# mount full datasets elsewhere and point FLATGATE_TASK_DATA_DIR at them to evaluate on more items
COPY fixtures/tasks ./fixtures/tasks
VOLUME /data
EXPOSE 8080
USER node
CMD ["node", "--import", "tsx", "src/server.ts"]
