# The vidsearch image for KubeRay (k8s/): Ray's CUDA image, with the same Ray as `rayVersion` in the
# manifests, plus CUDA PyTorch, the project, ffmpeg and fpcalc.
#   docker build -t registry.example.com/vidsearch:0.1.0 .
# Model weights are not in the image and nothing downloads them at start: pods read the HF cache from
# a volume (HF_HOME, HF_HUB_OFFLINE=1 in k8s/base/settings.yaml). See docs/deploy-kuberay.md.
ARG RAY_IMAGE=rayproject/ray:2.60.0-py311-gpu
FROM ${RAY_IMAGE}

# ffmpeg decodes and probes, fpcalc (libchromaprint-tools) fingerprints audio, and KubeRay's health
# probes call wget.
USER root
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ffmpeg libchromaprint-tools wget \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /app && chown ray:users /app
USER ray

# PyPI's Linux wheels of torch are the CUDA builds; installed first, in a layer code edits keep.
ARG TORCH=torch==2.13.0
RUN pip install --no-cache-dir "${TORCH}"

# The working directory of every Ray process (workingDir in k8s/): `args.config` and `--config`
# name files under configs/ relative to it. Installed in place, so that the code that runs is the
# one in /app, with its data files (the web page). EXTRA_PACKAGES: e.g. s3fs to index s3:// URIs.
# The `cpu` build of FAISS: re-ranking runs on the CPU workers.
WORKDIR /app
COPY --chown=ray:users . /app
ARG EXTRA_PACKAGES=""
RUN pip install --no-cache-dir -e "/app[cpu]" ${EXTRA_PACKAGES}
