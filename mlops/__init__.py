"""The reference MLOps loop: train, validate, register and promote, serve, watch, detect drift,
retrain. Each module is small and has a command line (``python -m mlops.<module> --help``).

Nothing is imported here on purpose: the service must import ``prometheus_client`` only after
BentoML has set ``PROMETHEUS_MULTIPROC_DIR`` in its worker (see ``mlops.service``).
"""
