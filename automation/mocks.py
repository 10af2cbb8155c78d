"""Deterministic stand-ins for what providers compute: ids, addresses, generated secrets.

Inputs are echoed back as outputs (as the engine does for most properties); a few computed
properties get realistic values so that downstream code (addresses in SSH connections, a
token's format) is exercised the way a real deployment exercises it.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import string
import threading
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime import rpc

Outputs = dict[str, Any]


def _digest(name: str, length: int, alphabet: str) -> str:
    """A stable pseudo-random string for `name`: the same plan twice gives the same values."""
    out, counter = [], 0
    while len(out) < length:
        block = hashlib.sha256(f"{name}:{counter}".encode()).digest()
        out.extend(alphabet[b % len(alphabet)] for b in block)
        counter += 1
    return "".join(out[:length])


def _random_string(name: str, inputs: dict[str, Any]) -> Outputs:
    alphabet = ""
    if inputs.get("lower", True):
        alphabet += string.ascii_lowercase
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    if inputs.get("numeric", inputs.get("number", True)):
        alphabet += string.digits
    if inputs.get("special", True):
        alphabet += inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?"
    return {"result": _digest(name, int(inputs.get("length", 16)), alphabet)}


def _random_bytes(name: str, inputs: dict[str, Any]) -> Outputs:
    raw = hashlib.sha256(name.encode()).digest() * 4
    data = raw[: int(inputs.get("length", 32))]
    return {"base64": base64.b64encode(data).decode(), "hex": data.hex()}


def _pem(label: str, name: str) -> str:
    body = base64.b64encode(hashlib.sha256(f"{label}:{name}".encode()).digest()).decode()
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


class MockProviders(pulumi.runtime.Mocks):
    """Computed outputs by resource type; everything else echoes its inputs."""

    def __init__(self) -> None:
        self._hosts: set[int] = set()
        self._hosts_lock = threading.Lock()
        self.region = "us-east-1"
        self._computed: dict[str, Callable[[str, dict[str, Any]], Outputs]] = {
            "aws:ec2/instance:Instance": self._instance,
            "aws:lb/loadBalancer:LoadBalancer": lambda n, i: {
                "dnsName": f"{n}-0123456789.elb.{self.region}.amazonaws.com",
                "arn": self._arn("elasticloadbalancing", n),
            },
            "aws:lb/targetGroup:TargetGroup": lambda n, i: {
                "arn": self._arn("elasticloadbalancing", n)
            },
            "aws:ec2/keyPair:KeyPair": lambda n, i: {"keyName": n},
            "aws:iam/role:Role": lambda n, i: {"name": n, "arn": self._arn("iam", n)},
            "aws:iam/instanceProfile:InstanceProfile": lambda n, i: {"name": n},
            "aws:efs/fileSystem:FileSystem": lambda n, i: {
                "arn": self._arn("elasticfilesystem", n)
            },
            "aws:s3/bucket:Bucket": lambda n, i: {"arn": f"arn:aws:s3:::{i.get('bucket', n)}"},
            "aws:iam/user:User": lambda n, i: {"arn": self._arn("iam", f"user/{i.get('name', n)}")},
            # An access key's secret: 40 characters, as AWS makes them.
            "aws:iam/accessKey:AccessKey": lambda n, i: {
                "secret": _digest(n, 40, string.ascii_letters + string.digits + "+/")
            },
            # Stand-ins shaped like PEM, not real keys: nothing parses them offline.
            "tls:index/privateKey:PrivateKey": lambda n, i: {
                "privateKeyPem": _pem("PRIVATE KEY", n),
                "publicKeyPem": _pem("PUBLIC KEY", n),
            },
            "tls:index/selfSignedCert:SelfSignedCert": lambda n, i: {
                "certPem": _pem("CERTIFICATE", n)
            },
            "random:index/randomString:RandomString": _random_string,
            "random:index/randomPassword:RandomPassword": _random_string,
            "random:index/randomBytes:RandomBytes": _random_bytes,
        }

    def _arn(self, service: str, name: str) -> str:
        return f"arn:aws:{service}:{self.region}:123456789012:{name}"

    def _host_number(self, name: str) -> int:
        """A number for an instance from its name: instances are registered from several
        threads in no fixed order, and a counter would give a host another address on the
        next run (a change in every command that connects to it, for the offline diff)."""
        number = 11 + int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % 32000
        with self._hosts_lock:
            while number in self._hosts:  # two names on one number: the next free one
                number += 1
            self._hosts.add(number)
        return number

    def _instance(self, name: str, inputs: dict[str, Any]) -> Outputs:
        number = self._host_number(name)
        address = ipaddress.IPv4Address("10.0.128.0") + number
        outputs = {
            "privateIp": str(address),
            "privateDns": f"ip-{str(address).replace('.', '-')}.ec2.internal",
            "arn": self._arn("ec2", name),
        }
        if inputs.get("associatePublicIpAddress"):
            # TEST-NET-3 is a /24.
            outputs["publicIp"] = str(ipaddress.IPv4Address("203.0.113.0") + number % 250 + 1)
        return outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == "pulumi:providers:aws" and isinstance(args.inputs.get("region"), str):
            self.region = args.inputs["region"]
        computed = self._computed.get(args.typ)
        extra = computed(args.name, rpc.unwrap_rpc_secret(args.inputs)) if computed else {}
        return f"{args.name}-id", {**args.inputs, **extra}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{letter}" for letter in "abcdef"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 7)]}, []
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0123456789abcdef0", "name": "ubuntu-noble-24.04-mock"}, []
        return {}, []
