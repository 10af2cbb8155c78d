"""What a config string may look like, by what it becomes.

A string that reaches a kubelet flag, a shell, a Helm value rendered through `tpl` or a YAML
document is checked against the format of its destination, never passed through raw. Every
pattern is a full match over ASCII (`[0-9]`, not `\\d`, which also matches other digits), so
a trailing newline or a look-alike digit is refused. A format may also convert the text
(a CIDR into an `IPv4Network`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from model.values import AddressRange, DailySchedule


@dataclass(frozen=True)
class Format:
    """A kind of string: its name in the docs, its pattern, and how to say it is wrong."""

    name: str
    problem: str  # what is wrong, e.g. "is not a DNS label"
    fix: str  # how to write it instead
    pattern: str | None = None
    # Turns the text into the value the program uses; ValueError means "not this format".
    convert: Callable[[str], Any] | None = None
    # Adds the conversion error to the problem, where it says something useful.
    explain_error: bool = False

    def parse(self, text: str) -> tuple[bool, Any, str]:
        """(ok, value, problem) for `text`."""
        if not text.isascii() or (self.pattern and not re.fullmatch(self.pattern, text)):
            return False, None, self.problem
        if self.convert is None:
            return True, text, ""
        try:
            return True, self.convert(text), ""
        except ValueError as error:
            detail = f" ({error})" if self.explain_error else ""
            return False, None, f"{self.problem}{detail}"


def _address_range(text: str) -> AddressRange:
    """`first-last`, or a CIDR taken as all of its addresses."""
    if "/" in text:
        network = ipaddress.IPv4Network(text)
        return AddressRange(network[0], network[-1])
    first, _, last = text.partition("-")
    first_ip = ipaddress.IPv4Address(first.strip())
    last_ip = ipaddress.IPv4Address((last or first).strip())
    if last_ip < first_ip:
        raise ValueError("it ends before it starts")
    return AddressRange(first_ip, last_ip)


def _ssh_key(text: str) -> str:
    """`<type> <base64>` whose base64 decodes to a key blob of that same type (RFC 4253 6.6:
    the blob starts with the key type as an SSH string)."""
    kind, _, data = text.partition(" ")
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("its key data is not base64") from error
    if len(blob) < 4:
        raise ValueError("its key data is too short")
    (length,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + length] != kind.encode():
        raise ValueError(f"its key data is not a {kind} key")
    return text


def _fraction(text: str) -> int:
    """The N of `1/N`."""
    return int(text.removeprefix("1/"))


DNS_LABEL_PATTERN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"

DNS_LABEL = Format(
    "DNS label",
    "is not a DNS label",
    "use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
    DNS_LABEL_PATTERN,
)
DNS_SUBDOMAIN = Format(
    "DNS name",
    "is not a DNS-1123 name",
    "use lowercase letters, digits, '-' and '.', e.g. local-nvme",
    rf"(?=.{{1,253}}$){DNS_LABEL_PATTERN}(\.{DNS_LABEL_PATTERN})*",
)
# A Kubernetes label value: it reaches the kubelet's --node-labels flag, where a space or a
# comma would start another flag or label.
LABEL_VALUE = Format(
    "label value",
    "is not a Kubernetes label value",
    "use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?",
)
KUBERNETES_VERSION = Format(
    "1.MINOR.PATCH", "must be an exact version 1.MINOR.PATCH", "e.g. 1.36.4", r"1\.[0-9]+\.[0-9]+"
)
IPV4 = Format(
    "IPv4 address",
    "is not an IPv4 address",
    "write it as four dotted numbers, 192.0.2.10",
    convert=ipaddress.IPv4Address,
)
CIDR = Format(
    "CIDR",
    "is not an IPv4 CIDR",
    "write it as network/prefix with no host bits set, 10.0.0.0/16",
    r"[0-9.]+/[0-9]{1,2}",
    convert=ipaddress.IPv4Network,
    explain_error=True,
)
ADDRESS_RANGE = Format(
    "first-last or CIDR",
    "is not an address range",
    "write it as first-last, lowest address first (192.0.2.200-192.0.2.220), or as a CIDR",
    r"[0-9./ -]+",
    convert=_address_range,
    explain_error=True,
)
HOST = Format(
    "address or DNS name",
    "is not an IPv4 address or a DNS name",
    "write it as 192.0.2.10 or bastion.example.edu",
    rf"[0-9.]+|{DNS_LABEL_PATTERN}(\.{DNS_LABEL_PATTERN})*",
)
DEVICE_PATH = Format(
    "/dev path",
    "is not an absolute /dev path",
    "e.g. /dev/nvme1n1 or /dev/disk/by-id/nvme-...",
    # No `.` or `..` component: the path stays under /dev.
    r"/dev(/(?!\.\.?(/|$))[A-Za-z0-9._:+@-]+)+",
)
# Linux interface names: at most 15 bytes, no '/' or white space.
INTERFACE = Format(
    "interface name", "is not a network interface name", "e.g. eno1", r"[A-Za-z0-9_.:-]{1,15}"
)
UNIX_USER = Format("user name", "is not a Unix user name", "e.g. ubuntu", r"[a-z_][a-z0-9_-]{0,31}")
AWS_ZONE = Format(
    "AWS availability zone",
    "is not an AWS availability zone name",
    "e.g. us-east-1a",
    r"[a-z]{2}(-[a-z]+)+-[0-9][a-z]",
)
# What pulumi-command verifies a host against (its `hostKey`, parsed with x/crypto/ssh
# ParseAuthorizedKey; pulumi/pulumi-command@v1.2.1:provider/pkg/provider/remote/connection.go).
# RSA host keys are refused: pulumi-command then offers only the `ssh-rsa` (SHA-1) host-key
# algorithm, which OpenSSH 8.8 and later servers no longer accept.
SSH_HOST_KEY = Format(
    "SSH host key",
    "is not an ed25519 or ECDSA SSH host key",
    "write the key as `ssh-keyscan` prints it without the host name: "
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... (tools/host_keys.py collects them)",
    r"(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}",
    convert=_ssh_key,
    explain_error=True,
)
# An OpenSSH public key for authorized_keys, without options or comment.
SSH_PUBLIC_KEY = Format(
    "SSH public key",
    "is not an SSH public key",
    "write it as the first two fields of a .pub file: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA...",
    r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}",
    convert=_ssh_key,
    explain_error=True,
)
AWS_REGION = Format(
    "AWS region", "is not an AWS region name", "e.g. us-east-1", r"[a-z]{2}(-[a-z]+)+-[0-9]"
)
INSTANCE_TYPE = Format(
    "EC2 instance type",
    "is not an EC2 instance type",
    "e.g. m7i.large",
    r"[a-z][a-z0-9-]*\.[a-z0-9]+",
)
AMI = Format("AMI id", "is not an AMI id", "e.g. ami-0123456789abcdef0", r"ami-[0-9a-f]{8,17}")
# Prometheus' duration syntax, units largest first: 15d, 2w, 1d12h.
PROMETHEUS_DURATION = Format(
    "Prometheus duration",
    "is not a Prometheus duration",
    "write it like 15d, 2w or 36h (units y w d h m s ms)",
    r"(?=[0-9])([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?",
)
# A cron schedule that runs every day, as Kubernetes' CronJob reads it: numbers, ranges,
# lists and steps in the minute and hour fields, `*` in the others (no names, no @macros).
DAILY_CRON = Format(
    "daily cron schedule",
    "is not a five-field cron schedule that runs every day",
    "write it like 17 * * * * or 0 */6 * * * (minute hour, then * * *)",
    r"[0-9*/,-]+ [0-9*/,-]+ \* \* \*",
    convert=DailySchedule.parse,
    explain_error=True,
)
# What the MLOps loop trains on (mlops/data.py `load`): a data set that ships with
# scikit-learn by name, or `package.module:function` in the training image.
DATASET = Format(
    "data set",
    "is not a data set name or package.module:function",
    "e.g. breast_cancer, or mypackage.data:load for a function in your training image",
    r"[a-z][a-z0-9_]*|[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*",
)
BINARY_SIZE = Format(
    "size in Mi, Gi or Ti",
    "is not a size in Mi, Gi or Ti",
    "write it like 50Gi",
    r"[1-9][0-9]*(Mi|Gi|Ti)",
)
EMAIL = Format(
    "e-mail address",
    "is not an e-mail address",
    "write it as name@example.edu",
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
)
HTTPS_URL = Format(
    "https URL",
    "must be an https:// URL",
    "e.g. https://acme-v02.api.letsencrypt.org/directory",
    r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?",
)
FRACTION = Format(
    "1/N", "must be 1/N", "write it as 1/1, 1/2, 1/4 ...", r"1/[1-9][0-9]*", convert=_fraction
)
# A tenant's user when usernames are not e-mail addresses: what JupyterHub keeps (it lowercases
# names) and what a RoleBinding names after the OIDC prefix.
USERNAME = Format(
    "user name",
    "is not a user name",
    "use lowercase letters, digits, '.', '_' and '-', at most 64, starting and ending with a "
    "letter or digit",
    r"[a-z0-9]([-a-z0-9._]{0,62}[a-z0-9])?",
)
# An OIDC client id as identity providers issue them (Keycloak names, Google's
# ...apps.googleusercontent.com, Entra GUIDs).
CLIENT_ID = Format(
    "OIDC client id",
    "is not an OIDC client id",
    "use letters, digits and . _ ~ : @ / + -, e.g. ml-platform",
    r"[A-Za-z0-9._~:@/+-]{1,255}",
)
# A JWT claim's name (`email`, `preferred_username`, or a URL-shaped custom claim).
CLAIM = Format(
    "claim name",
    "is not a JWT claim name",
    "e.g. email, preferred_username or groups",
    r"[A-Za-z0-9_][A-Za-z0-9_:./-]{0,127}",
)


def _pinned_image(text: str) -> str:
    if text.partition("@")[0].rsplit("/", 1)[-1].endswith(":latest"):
        raise ValueError("`latest` is not a pin")
    return text


_IMAGE_NAME = r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
# A container image pinned by tag or digest (never by nothing, never by `latest`): what runs
# is what the config says, and a `pulumi up` rolls out only when it changes.
PINNED_IMAGE = Format(
    "image pinned by tag or digest",
    "is not a container image pinned by a tag (other than latest) or a digest",
    "write it as registry/name:tag or registry/name@sha256:<digest>",
    rf"{_IMAGE_NAME}(:[A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}(@sha256:[0-9a-f]{{64}})?|@sha256:[0-9a-f]{{64}})",
    convert=_pinned_image,
    explain_error=True,
)
CPU = Format(
    "CPU quantity",
    "is not a CPU quantity",
    "write it as 500m, 1 or 2.5",
    r"[1-9][0-9]*m|[0-9]+(\.[0-9]+)?",
)
MEMORY = Format(
    "memory quantity",
    "is not a memory quantity in Mi or Gi",
    "write it like 512Mi or 4Gi",
    r"[1-9][0-9]*(Mi|Gi)",
)
ENV_NAME = Format(
    "environment variable name",
    "is not an environment variable name",
    "use letters, digits and '_', not starting with a digit",
    r"[A-Za-z_][A-Za-z0-9_]*",
)
SECRET_KEY_REF = Format(
    "secret/key",
    "is not a Secret key reference",
    "write it as <secret name>/<key>, e.g. mlflow-credentials/password",
    rf"{DNS_LABEL_PATTERN}(\.{DNS_LABEL_PATTERN})*/[-._A-Za-z0-9]+",
)
# The start of S3 bucket names (`<prefix>-<consumer>`): what S3's naming rules allow at the
# start of a name (3-63 lowercase letters, digits and '-'; no prefix `xn--`, `sthree-` or
# `amzn-s3-demo-`), without dots (a dotted name breaks virtual-hosted TLS), and short enough
# that the longest consumer suffix still fits in 63.
BUCKET_PREFIX = Format(
    "S3 bucket name prefix",
    "is not a valid start of S3 bucket names",
    "use 3 to 40 lowercase letters, digits and '-', starting and ending with a letter or digit, "
    "e.g. uni-ml-lab",
    r"(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9-]{1,38}[a-z0-9]",
)
# An absolute directory on the hosts: no `.` or `..` component, nothing a shell or a YAML
# document would read differently.
HOST_DIRECTORY = Format(
    "absolute host path",
    "is not an absolute directory path",
    "e.g. /var/lib/longhorn (letters, digits, '.', '_' and '-' between slashes)",
    r"(/(?!\.\.?(/|$))[A-Za-z0-9._-]+)+/?",
)
# Go's time.ParseDuration as Traefik reads its timeouts, whole units only: 90s, 10m, 1h30m.
GO_DURATION = Format(
    "duration (h, m, s)",
    "is not a duration in hours, minutes and seconds",
    "write it like 1h, 10m or 1h30m",
    r"(?=[0-9])([0-9]+h)?([0-9]+m)?([0-9]+s)?",
)
# A point in time with its offset, as PostgreSQL reads a recovery target:
# 2026-11-29T10:00:00Z or 2026-11-29 11:00:00+01:00.
TIMESTAMP = Format(
    "timestamp with offset",
    "is not a timestamp with its UTC offset",
    "write it like 2026-11-29T10:00:00Z or 2026-11-29 11:00:00+01:00",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)",
)
# A cron schedule as Kubernetes' CronJob reads it: five fields of numbers, ranges, lists and
# steps (no names, no @macros).
CRON = Format(
    "cron schedule",
    "is not a five-field cron schedule",
    "write it like 17 * * * * (minute hour day month weekday)",
    r"([0-9*/,-]+ ){4}[0-9*/,-]+",
)
