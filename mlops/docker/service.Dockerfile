# The prediction service: BentoML serving models:/<MLOPS_MODEL_NAME>@<MLOPS_MODEL_ALIAS> from
# MLflow on port 3000 (/predict, /livez, /readyz, /metrics). A plain image running
# `bentoml serve` on the package, not `bentoml containerize` (which needs a Docker engine at
# build time and a Bento store); the behaviour is the same service.
# Build from the repository root:
#   docker build -f mlops/docker/service.Dockerfile -t ghcr.io/OWNER/ml-platform/mlops-service:TAG .
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    BENTOML_HOME=/tmp/bentoml \
    BENTOML_DO_NOT_TRACK=true

WORKDIR /app
COPY requirements-mlops.txt .
RUN pip install -r requirements-mlops.txt
COPY mlops/ mlops/
ENV PYTHONPATH=/app

# Writes go to /tmp only (BentoML's home and Prometheus files, MLflow's model download):
# mount an emptyDir there and the root file system can be read-only.
USER 10001
EXPOSE 3000
CMD ["bentoml", "serve", "mlops.service:ModelService", "--host", "0.0.0.0", "--port", "3000"]
