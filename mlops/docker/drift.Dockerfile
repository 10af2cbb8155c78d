# The drift check, run by a CronJob: KS tests of recent inputs (S3) against the champion's
# training rows (MLflow), metrics to the Pushgateway, retraining through the KFP API.
# Build from the repository root:
#   docker build -f mlops/docker/drift.Dockerfile -t ghcr.io/OWNER/ml-platform/mlops-drift:TAG .
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

USER 10001
CMD ["python", "-m", "mlops.drift"]
