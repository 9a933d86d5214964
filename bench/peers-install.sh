#!/usr/bin/env bash
# Installs the peer engines of the serving benchmark (llama.cpp through node-llama-cpp, and
# transformers.js) into bench/.peers, a gitignored folder with its own package.json, so the project's
# own install stays small (node-llama-cpp adds ~700 MB). Idempotent: does nothing when the pinned
# versions are already there.
set -euo pipefail
cd "$(dirname "$0")"
PEERS=.peers
LLAMA=3.21.1
TRANSFORMERS=4.3.1

installed() { # name version
  local pj="$PEERS/node_modules/$1/package.json"
  [[ -f "$pj" ]] && node -e "process.exit(require('./$pj').version === '$2' ? 0 : 1)"
}

if installed node-llama-cpp "$LLAMA" && installed @huggingface/transformers "$TRANSFORMERS"; then
  echo "peers already installed in bench/$PEERS"
  exit 0
fi

mkdir -p "$PEERS"
[[ -f "$PEERS/package.json" ]] || echo '{ "name": "flatgate-bench-peers", "private": true }' > "$PEERS/package.json"
# onnxruntime-node's install script downloads CUDA files, which fails offline; the CPU provider is bundled.
printf 'fund=false\naudit=false\n' > "$PEERS/.npmrc"
ONNXRUNTIME_NODE_INSTALL=skip npm i -E --prefix "$PEERS" \
  "node-llama-cpp@$LLAMA" "@huggingface/transformers@$TRANSFORMERS"
echo "peers installed in bench/$PEERS"
