"""Tags every AWS resource of a cluster carries."""

from __future__ import annotations


def cluster_tags(cluster_name: str, name: str, **extra: str) -> dict[str, str]:
    # The AWS cloud controller manager finds the cluster's subnets, security groups and
    # instances by this tag; "owned" lets it also clean up what it creates.
    return {
        "Name": f"{cluster_name}-{name}",
        f"kubernetes.io/cluster/{cluster_name}": "owned",
        **extra,
    }
