"""AWS volumes: the EBS CSI driver (encrypted gp3, the default class) and the EFS CSI driver
(a ReadWriteMany class on the file system of the AWS layer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import versions
from components.addons.helm import CONTROL_PLANE_TOLERATION, PRIVILEGED, namespace, release

# The CSI controllers call the EC2 and EFS APIs with the instance role: only the control-plane
# role carries their policies (components/aws/iam.py), so they run there.
ON_CONTROL_PLANES = {
    "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
    "tolerations": [CONTROL_PLANE_TOLERATION],
}

# The ReadWriteMany class on the AWS layer's EFS file system.
EFS_CLASS = "efs"


@dataclass(frozen=True)
class AwsStorageArgs:
    # None: no ReadWriteMany class (the EFS driver is left out).
    file_system_id: pulumi.Input[str] | None
    depends_on: Sequence[pulumi.Resource]


def ebs_values() -> dict[str, Any]:
    return {
        "controller": {"replicaCount": 2, "enableMetrics": True, **ON_CONTROL_PLANES},
        # Workers' pods cannot reach the instance metadata (hop limit 1): the node plugin reads
        # its instance id and zone from its Node object (set by the cloud controller manager;
        # chart 2.64.0 values.yaml: node.metadataSources, "imds", "kubernetes").
        "node": {"tolerateAllTaints": True, "metadataSources": "kubernetes"},
        "storageClasses": [
            {
                "name": "gp3",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                "volumeBindingMode": "WaitForFirstConsumer",
                "reclaimPolicy": "Delete",
                "allowVolumeExpansion": True,
                "parameters": {
                    "type": "gp3",
                    "encrypted": "true",
                    "csi.storage.k8s.io/fstype": "ext4",
                },
            }
        ],
    }


def efs_values(file_system_id: str) -> dict[str, Any]:
    return {
        "controller": {
            "replicaCount": 2,
            "enableMetrics": True,
            "serviceMonitor": {"enabled": True},
            **ON_CONTROL_PLANES,
        },
        "storageClasses": [
            {
                "name": EFS_CLASS,
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
                "parameters": {
                    # One access point per volume, each its own directory and owner.
                    "provisioningMode": "efs-ap",
                    "fileSystemId": file_system_id,
                    "directoryPerms": "700",
                    "basePath": "/dynamic_provisioning",
                },
            }
        ],
    }


class AwsStorage(pulumi.ComponentResource):
    NAMESPACE = "aws-storage"

    def __init__(
        self, name: str, args: AwsStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-platform:platform:AwsStorage", name, None, opts)
        # The CSI node plugins mount on the host.
        ns = namespace(self.NAMESPACE, PRIVILEGED, self, args.depends_on)
        release("aws-ebs-csi-driver", versions.AWS_EBS_CSI_DRIVER, ns, ebs_values(), self)
        if args.file_system_id is not None:
            release(
                "aws-efs-csi-driver",
                versions.AWS_EFS_CSI_DRIVER,
                ns,
                pulumi.Output.from_input(args.file_system_id).apply(efs_values),
                self,
            )
        self.register_outputs({})
