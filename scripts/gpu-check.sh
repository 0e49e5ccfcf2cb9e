#!/usr/bin/env bash
# The GPU check: does logitserve really run on an NVIDIA GPU, agree with the CPU, and how fast?
#
#   scripts/gpu-check.sh [--cpu-only] [options of python -m bench.gpu_check]
#
# On a machine with an NVIDIA GPU (nvidia-smi lists one) it installs what is missing into two
# virtual environments, kept apart as in the images so the CUDA libraries of onnxruntime-gpu
# and of torch never overwrite each other:
#   serve  the service's dependencies with onnxruntime-gpu and its CUDA 13 / cuDNN 9 wheels
#   train  PyPI's CUDA build of torch and the train extra
# then runs `python -m bench.gpu_check --cuda` (see its docstring): CUDA against CPU logits on
# held-out inputs of every model, ONNX Runtime alone and the service over HTTP timed per batch
# size on both providers, every route on CUDA, and mnist-cnn trained on CUDA, on the CPU and
# with torchrun on the GPU, then served on CUDA.
#
# Without a GPU, or with --cpu-only, it runs the CPU half only, says so, and installs nothing
# when the project's .venv already has the service's dependencies.
#
# env: GPU_CHECK_HOME  where the environments live (~/.cache/logitserve-gpu-check)
#      GPU_CHECK_PYTHON  interpreter for the CPU half (default: .venv/bin/python)
#      PYTHON            interpreter that creates the environments (python3)
set -euo pipefail
cd "$(dirname "$0")/.."

cpu_only=false
if [ "${1:-}" = --cpu-only ]; then
    cpu_only=true
    shift
fi
home=${GPU_CHECK_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/logitserve-gpu-check}
python=${PYTHON:-python3}

has() {  # has PYTHON CODE: the interpreter exists and the code runs without error
    [ -x "$1" ] && "$1" -c "$2" >/dev/null 2>&1
}

requirements() {  # requirements FLAVOUR [--extra NAME]: pyproject's list, ONNX Runtime swapped
    "$python" deploy/requirements.py --onnxruntime "$@" pyproject.toml
}

if ! $cpu_only && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    serve="$home/serve/bin/python"
    if ! has "$serve" "import fastapi, uvicorn, onnxruntime as o; assert 'CUDAExecutionProvider' in o.get_available_providers()"; then
        echo "gpu-check: installing the service with onnxruntime-gpu into $home/serve"
        "$python" -m venv "$home/serve"
        "$home/serve/bin/pip" install -q -r <(requirements gpu)
    fi
    train="$home/train/bin/python"
    if ! has "$train" "import torch, training, typer, onnx; assert torch.version.cuda"; then
        echo "gpu-check: installing CUDA torch and the train extra into $home/train"
        "$python" -m venv "$home/train"
        TORCH_DEVICE=cuda scripts/install-torch.sh "$home/train/bin/pip"
        "$home/train/bin/pip" install -q -r <(requirements cpu --extra train)
        "$home/train/bin/pip" install -q --no-deps -e .
    fi
    exec "$serve" -m bench.gpu_check --cuda --train-python "$train" "$@"
fi

# The CPU half.
cpu=${GPU_CHECK_PYTHON:-.venv/bin/python}
if ! has "$cpu" "import fastapi, uvicorn, onnxruntime, numpy"; then
    echo "gpu-check: installing the service (CPU onnxruntime) into $home/serve-cpu"
    "$python" -m venv "$home/serve-cpu"
    "$home/serve-cpu/bin/pip" install -q -r <(requirements cpu)
    cpu="$home/serve-cpu/bin/python"
fi
exec "$cpu" -m bench.gpu_check "$@"
