#!/usr/bin/env sh
# Install PyTorch the right way for this machine, before the package's `train` extra.
#
# A plain `pip install torch` on Linux x86_64 downloads PyPI's multi-GB CUDA build. That is
# what a machine with an NVIDIA GPU wants; a CPU-only machine (CI, laptops) wants the CPU
# build, which PyTorch publishes on its own index as `torch==X+cpu`. Pinning the version and
# adding that index makes pip pick the `+cpu` build (a local version sorts above the plain one).
# Where that index is unreachable, the pinned version is taken from wherever pip already looks
# (a local find-links folder on offline build machines).
#
#   usage: scripts/install-torch.sh PIP            e.g. scripts/install-torch.sh .venv/bin/pip
#   env:   TORCH_VERSION (default 2.13.0), TORCH_CPU_INDEX, TORCH_DEVICE=cpu|cuda|auto
set -eu
pip=${1:-pip}
version=${TORCH_VERSION:-2.13.0}
cpu_index=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
device=${TORCH_DEVICE:-auto}

if [ "$device" = auto ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        device=cuda
    else
        device=cpu
    fi
fi

if [ "$device" = cuda ]; then
    echo "install-torch: NVIDIA GPU found, installing PyPI's CUDA build of torch $version"
    exec "$pip" install "torch==$version"
fi

index_host=$(echo "$cpu_index" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
if python3 -c "import socket, sys; socket.getaddrinfo(sys.argv[1], 443)" "$index_host" 2>/dev/null; then
    echo "install-torch: no GPU, installing the CPU build of torch $version from $cpu_index"
    exec "$pip" install "torch==$version" --extra-index-url "$cpu_index"
fi
echo "install-torch: no GPU and $index_host unreachable, installing torch==$version from pip's own sources"
exec "$pip" install "torch==$version"
