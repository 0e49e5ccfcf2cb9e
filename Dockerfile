# logitserve's images, one file; the two you build by --target:
#
#   serve  the service on ONNX Runtime, HTTP on 8000 and gRPC on 8001: no torch, no compilers,
#          no training code.
#          docker build --target serve -t logitserve .                        CPU (default)
#          docker build --target serve --build-arg ONNXRUNTIME=gpu -t logitserve:gpu .
#   train  torch and the training CLI; publishes into /models.
#          docker build --target train -t logitserve-train .                  CUDA torch (default)
#          docker build --target train --build-arg TORCH=cpu -t logitserve-train:cpu .
#
# Build arguments (every one has a default for real users):
#   PYTHON_IMAGE   base image (python:3.12-slim)
#   ONNXRUNTIME    cpu: the plain onnxruntime wheel, a small image that runs anywhere;
#                  gpu: onnxruntime-gpu with the CUDA 13 + cuDNN 9 runtime as pip wheels
#                  (several GB; needs an NVIDIA driver >= 580 on the host). The GPU image falls
#                  back to the CPU, with the reason in the model metadata, where there is no GPU.
#   TORCH          cuda: PyPI's torch, which is the CUDA build (several GB); cpu: the +cpu build
#   TORCH_VERSION  the torch release both choices install (matches scripts/install-torch.sh)
#   TORCH_CPU_INDEX  where TORCH=cpu finds torch==X+cpu; empty: only where PIP_OPTIONS points
#   PIP_OPTIONS    extra pip options for every install, e.g. "--find-links /wheels" with a
#                  local wheel folder mounted at build time
#
# Dependencies come before the source in every stage, so a code change rebuilds in seconds.
# The requirement lists are derived from pyproject.toml (deploy/requirements.py), never
# copied by hand.

ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# A fixed, unprivileged uid (not in any host's range of real users), primary group 0 so the
# image also runs under platforms that pick an arbitrary uid in group 0 (OpenShift).
RUN useradd --uid 10001 --gid 0 --no-log-init --create-home --home-dir /home/app app


# ---------------------------------------------------------------------------------------------
# The requirement lists, derived from pyproject.toml. Their own stage, because the layers below
# are keyed on these files' contents: editing pyproject.toml's tool settings leaves the
# dependency layers cached; only a change of dependencies reinstalls them.
# Training runs ONNX Runtime only for its CPU parity check, and onnxruntime-gpu's cuDNN wheel
# would share a folder with torch's: the train image always takes the CPU build.
FROM python AS requirements
ARG ONNXRUNTIME=cpu
COPY pyproject.toml deploy/requirements.py /tmp/build/
RUN mkdir /requirements \
 && python /tmp/build/requirements.py --onnxruntime "$ONNXRUNTIME" /tmp/build/pyproject.toml \
      > /requirements/serve.txt \
 && python /tmp/build/requirements.py --onnxruntime cpu --extra train --build-system \
      /tmp/build/pyproject.toml > /requirements/train.txt


# ---------------------------------------------------------------------------------------------
# The service's dependencies, in a venv copied whole into the serve stage (less pip, which
# the service does not need at run time). onnxruntime-gpu looks for the CUDA libraries on the
# loader's path: one stable name for the venv's site-packages keeps LD_LIBRARY_PATH (serve
# stage) independent of the Python version.
FROM python AS serve-deps
ARG PIP_OPTIONS=
COPY --from=requirements /requirements/serve.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
 && pip install $PIP_OPTIONS -r /tmp/requirements.txt \
 && pip uninstall -q -y pip setuptools \
 && ln -s "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
      /opt/venv/site-packages \
 && rm /tmp/requirements.txt


# ---------------------------------------------------------------------------------------------
FROM python AS train
ARG TORCH=cuda
ARG TORCH_VERSION=2.13.0
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
ARG PIP_OPTIONS=
# torch alone first: the largest layer, and the one that changes least.
# TORCH=cpu pins the local version (+cpu), so the multi-GB CUDA build can never be chosen.
RUN python -m venv /opt/venv \
 && case "$TORCH" in \
      cuda) pip install $PIP_OPTIONS "torch==$TORCH_VERSION" ;; \
      cpu)  pip install $PIP_OPTIONS ${TORCH_CPU_INDEX:+--extra-index-url "$TORCH_CPU_INDEX"} \
                "torch==$TORCH_VERSION+cpu" ;; \
      *)    echo "TORCH must be cpu or cuda, not '$TORCH'" >&2; exit 1 ;; \
    esac
COPY --from=requirements /requirements/train.txt /tmp/requirements.txt
RUN pip install $PIP_OPTIONS -r /tmp/requirements.txt && rm /tmp/requirements.txt
# Installed (not only copied) so the manifest records the package's version.
COPY pyproject.toml /tmp/src/
COPY service/ /tmp/src/service/
COPY training/ /tmp/src/training/
COPY uploads/ /tmp/src/uploads/
COPY modelrepo/ /tmp/src/modelrepo/
RUN pip install --no-deps --no-build-isolation /tmp/src && rm -rf /tmp/src
# The CLI's defaults are relative (models/, checkpoints/): from this working directory they are
# the two mount points. Both are world-writable with the sticky bit, like /tmp, so a run as the
# host user's uid (to own what it publishes into a bind mount) works without a matching account.
# /data is where your training data is mounted (`train NAME --images /data/DIR`), read-only.
RUN mkdir -p /models /checkpoints /workspace /data \
 && chmod 1777 /models /checkpoints \
 && ln -s /models /workspace/models \
 && ln -s /checkpoints /workspace/checkpoints
# `python -m training`, as the owner of /models when started as root (Compose does): what it
# publishes into a bind mount then belongs to whoever owns the folder on the host.
COPY deploy/train_entrypoint.py /opt/logitserve/train_entrypoint.py
WORKDIR /workspace
# Caches (matplotlib's fonts, torch's kernels) under a home any uid can write.
ENV HOME=/tmp
USER 10001
ENTRYPOINT ["python", "/opt/logitserve/train_entrypoint.py"]
CMD ["--help"]


# ---------------------------------------------------------------------------------------------
# Last, so a plain `docker build .` gives the serving image.
FROM python AS serve
COPY --from=serve-deps /opt/venv /opt/venv
# Only the service package and what it shares with training (the repository contract and the
# upload preprocessing): the training code and torch stay out of this image by design.
COPY service/ /app/service/
COPY modelrepo/ /app/modelrepo/
COPY uploads/ /app/uploads/
RUN python -m compileall -q /app/service /app/modelrepo /app/uploads
# The shipped models; a volume mounted at /models replaces them.
COPY models/ /models/
WORKDIR /app
# LD_LIBRARY_PATH: where onnxruntime-gpu's CUDA 13 and cuDNN 9 wheels put their libraries
# (absent, and so harmless, in the CPU image); the NVIDIA container runtime adds the driver.
ENV PYTHONPATH=/app \
    LOGITSERVE_MODELS_DIR=/models \
    LOGITSERVE_HOST=0.0.0.0 \
    LOGITSERVE_PORT=8000 \
    LOGITSERVE_GRPC_PORT=8001 \
    LD_LIBRARY_PATH=/opt/venv/site-packages/nvidia/cu13/lib:/opt/venv/site-packages/nvidia/cudnn/lib \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001
# HTTP (v1, v2, /metrics) and gRPC (the Open Inference Protocol, grpc.health.v1).
EXPOSE 8000 8001
# No curl in a slim image: the interpreter that is already there asks, bypassing any proxy.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request as u; o = u.build_opener(u.ProxyHandler({})); sys.exit(o.open('http://127.0.0.1:%s/v2/health/live' % os.environ.get('LOGITSERVE_PORT', '8000'), timeout=2).status != 200)"]
# Exec form: Python is PID 1 and gets SIGTERM itself; uvicorn then stops accepting, lets the
# requests in flight finish (LOGITSERVE_GRACEFUL_SHUTDOWN_S) and exits 0.
CMD ["python", "-m", "service"]
