"""Deterministic stand-ins for what providers compute: ids, addresses, generated secrets.

Inputs are echoed back as outputs (as the engine does for most properties); a few computed
properties get realistic values so that downstream code (addresses in SSH connections, a
token's format) is exercised the way a real deployment exercises it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import string
import threading
from collections.abc import Callable
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
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


def _service(name: str, inputs: dict[str, Any]) -> Outputs:
    """A ClusterIP from the default Service range, derived from the name."""
    spec = dict(inputs.get("spec") or {})
    if spec.get("type", "ClusterIP") == "ClusterIP" and "clusterIP" not in spec:
        number = int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big")
        spec["clusterIP"] = str(ipaddress.IPv4Address("10.96.0.0") + 16 + number)
    return {"spec": spec}


def _private_key(name: str, _inputs: dict[str, Any]) -> Outputs:
    """A key pair derived from the resource's name (ed25519 whatever algorithm is asked: only
    its format matters offline; it opens nothing)."""
    seed = hashlib.sha256(f"offline-tls-key:{name}".encode()).digest()
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key()
    pem = serialization.Encoding.PEM
    return {
        "privateKeyPem": key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "privateKeyOpenssh": key.private_bytes(
            pem, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode(),
        "publicKeyPem": public.public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyOpenssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
        + "\n",
    }


def _self_signed_cert(name: str, inputs: dict[str, Any]) -> Outputs:
    """A self-signed certificate of the given key, with fixed dates and serial (ed25519
    signatures are deterministic): the same plan twice gives the same certificate."""
    if not isinstance(inputs.get("privateKeyPem"), str):
        return {}  # a preview: the key is not known yet
    key = serialization.load_pem_private_key(inputs["privateKeyPem"].encode(), password=None)
    subject = x509.Name(
        [
            x509.NameAttribute(
                NameOID.COMMON_NAME, (inputs.get("subject") or {}).get("commonName", name)
            )
        ]
    )
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    hours = int(inputs.get("validityPeriodHours", 24))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big"))
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(hours=hours))
        .add_extension(
            x509.BasicConstraints(ca=bool(inputs.get("isCaCertificate")), path_length=None),
            critical=True,
        )
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    certificate = builder.sign(key, algorithm)
    return {"certPem": certificate.public_bytes(serialization.Encoding.PEM).decode()}


def _unwrapped(value: Any) -> Any:
    """`value` with every secret wrapper removed, at any depth (a secret input of a secret)."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {key: _unwrapped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrapped(item) for item in value]
    return value


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
            "random:index/randomString:RandomString": _random_string,
            "random:index/randomPassword:RandomPassword": _random_string,
            "random:index/randomBytes:RandomBytes": _random_bytes,
            "kubernetes:core/v1:Service": _service,
            "tls:index/privateKey:PrivateKey": _private_key,
            "tls:index/selfSignedCert:SelfSignedCert": _self_signed_cert,
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
        extra = computed(args.name, _unwrapped(args.inputs)) if computed else {}
        return f"{args.name}-id", {**args.inputs, **extra}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{letter}" for letter in "abcdef"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 7)]}, []
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0123456789abcdef0", "name": "ubuntu-noble-24.04-mock"}, []
        return {}, []
