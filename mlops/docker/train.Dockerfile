# The training image: the pipeline's steps (kfp lightweight components run `python3 -m
# kfp.dsl.executor_main` with kfp from here, installing nothing at start) and the CI gate.
# Build from the repository root:
#   docker build -f mlops/docker/train.Dockerfile -t ghcr.io/OWNER/ml-platform/mlops-train:TAG .
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true

WORKDIR /app
COPY requirements-mlops.txt .
RUN pip install -r requirements-mlops.txt
COPY mlops/ mlops/
ENV PYTHONPATH=/app

# A numeric user, so that Pod Security `restricted` (runAsNonRoot) can check it.
USER 10001
CMD ["python", "-m", "mlops.train", "--help"]
