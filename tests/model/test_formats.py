"""Config strings are checked by what they become: full matches, ASCII only."""

from __future__ import annotations

import ipaddress

import pytest

from model import formats
from model.values import AddressRange

ACCEPTED = [
    (formats.DNS_LABEL, "gpu-07"),
    (formats.DNS_SUBDOMAIN, "local-nvme.storage"),
    (formats.LABEL_VALUE, "rtx-4090"),
    (formats.LABEL_VALUE, "RTX_4090.a"),
    (formats.KUBERNETES_VERSION, "1.36.4"),
    (formats.DEVICE_PATH, "/dev/disk/by-id/nvme-Samsung_SSD_990_PRO_2TB_S7KHNJ0X123456"),
    (formats.INTERFACE, "enp3s0f0"),
    (formats.UNIX_USER, "ubuntu"),
    (formats.AWS_REGION, "us-east-1"),
    (formats.AWS_REGION, "us-gov-west-1"),
    (formats.INSTANCE_TYPE, "g6e.xlarge"),
    (formats.AMI, "ami-0123456789abcdef0"),
    (formats.PROMETHEUS_DURATION, "1d12h"),
    (formats.BINARY_SIZE, "200Gi"),
    (formats.EMAIL, "lee@lab.example.edu"),
    (formats.HTTPS_URL, "https://acme-staging-v02.api.letsencrypt.org/directory"),
    (formats.HOST, "bastion.lab.example.edu"),
    (formats.PINNED_IMAGE, "ghcr.io/lab/mlops-service:sha-0123abc"),
    (formats.PINNED_IMAGE, "registry.lab:5000/models/iris@sha256:" + "a" * 64),
    (formats.PINNED_IMAGE, "nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless"),
    (formats.CPU, "500m"),
    (formats.CPU, "2.5"),
    (formats.MEMORY, "4Gi"),
    (formats.ENV_NAME, "MLFLOW_TRACKING_URI"),
    (formats.SECRET_KEY_REF, "mlflow-credentials/password"),
]

REFUSED = [
    # A space or a comma would add a kubelet flag or a label through --node-labels.
    (formats.LABEL_VALUE, "rtx 4090 --anonymous-auth=true"),
    (formats.LABEL_VALUE, "a,b=c"),
    (formats.DNS_LABEL, "GPU-07"),
    (formats.DNS_LABEL, "gpu-07\n"),  # a trailing newline passes `re.match("...$")`
    (formats.KUBERNETES_VERSION, "1.3٦.4"),  # an Arabic-Indic digit passes `\d`
    (formats.PROMETHEUS_DURATION, ""),
    (formats.PROMETHEUS_DURATION, "15 days"),
    (formats.BINARY_SIZE, "50GB"),
    (formats.BINARY_SIZE, "0Gi"),
    (formats.DEVICE_PATH, "nvme1n1"),
    (formats.DEVICE_PATH, "/dev/../etc/passwd"),
    (formats.DEVICE_PATH, "/dev/sda; rm -rf /"),
    (formats.INTERFACE, "eno1 up"),
    (formats.UNIX_USER, "root;id"),
    (formats.EMAIL, "lee at lab"),
    (formats.HTTPS_URL, "http://acme.example/directory"),
    (formats.HTTPS_URL, "https://acme.example/dir ectory"),
    (formats.AMI, "ami-XYZ"),
    (formats.PINNED_IMAGE, "ghcr.io/lab/mlops-service"),  # no pin
    (formats.PINNED_IMAGE, "ghcr.io/lab/mlops-service:latest"),
    (formats.PINNED_IMAGE, "Ghcr.io/Lab/Service:1"),
    (formats.CPU, "1 core"),
    (formats.MEMORY, "4GB"),
    (formats.ENV_NAME, "1ST"),
    (formats.SECRET_KEY_REF, "just-a-secret"),
]


@pytest.mark.parametrize(("format", "text"), ACCEPTED, ids=[t for _, t in ACCEPTED])
def test_accepted(format, text):
    assert format.parse(text)[0], format.name


@pytest.mark.parametrize(("format", "text"), REFUSED, ids=[repr(t) for _, t in REFUSED])
def test_refused(format, text):
    ok, _, problem = format.parse(text)
    assert not ok and problem.startswith(format.problem)


def test_conversions():
    assert formats.CIDR.parse("10.0.0.0/16")[1] == ipaddress.IPv4Network("10.0.0.0/16")
    ok, _, problem = formats.CIDR.parse("10.0.0.1/16")
    assert not ok and "has host bits set" in problem
    assert formats.FRACTION.parse("1/4")[1] == 4
    assert not formats.FRACTION.parse("2/4")[0]
    first, last = ipaddress.IPv4Address("10.0.0.200"), ipaddress.IPv4Address("10.0.0.220")
    assert formats.ADDRESS_RANGE.parse("10.0.0.200-10.0.0.220")[1] == AddressRange(first, last)
    assert formats.ADDRESS_RANGE.parse("10.0.0.0/30")[1] == AddressRange(
        ipaddress.IPv4Address("10.0.0.0"), ipaddress.IPv4Address("10.0.0.3")
    )
    ok, _, problem = formats.ADDRESS_RANGE.parse("10.0.0.220-10.0.0.200")
    assert not ok and "ends before it starts" in problem
