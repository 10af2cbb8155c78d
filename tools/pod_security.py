"""The Pod Security Standards as Kubernetes 1.36's Pod Security admission enforces them.

A port of k8s.io/pod-security-admission/policy at release-1.36 (kubernetes/kubernetes
staging/src/k8s.io/pod-security-admission/policy; its published mirror
kubernetes/pod-security-admission@release-1.36, 9fb58f1, identical to tag kubernetes-1.36.2).
Every check keeps its upstream ID, level, versions, overrides and messages; each function
names the Go function it ports. Pods are dicts in PodSpec shape (JSON field names, as in a
manifest or in the facts tools/chart_facts.py records), `metadata` holding at least the
annotations.

How upstream evaluates (policy/registry.go): a namespace's level and version (the
`pod-security.kubernetes.io/enforce` and `-version` labels; no label is `privileged` under
kubeadm's default admission configuration, a missing version is `latest`). `privileged` checks
nothing. For a version, each check applies in its newest revision whose MinimumVersion is not
newer; `latest`, or a version newer than every revision, is the newest revision overall.
`baseline` runs the baseline checks; `restricted` runs the restricted checks plus the baseline
checks that no applicable restricted check overrides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"

Pod = Mapping[str, Any]  # {"metadata": {...}, "spec": {...}}


@dataclass(frozen=True)
class Result:
    """policy.CheckResult"""

    allowed: bool
    reason: str = ""
    detail: str = ""


ALLOWED = Result(True)
CheckFn = Callable[[Mapping[str, Any], Mapping[str, Any]], Result]


@dataclass(frozen=True)
class Revision:
    """policy.VersionedCheck: `minimum` is the minor of 1.x it applies from."""

    minimum: int
    check: CheckFn
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    revisions: tuple[Revision, ...] = field(default_factory=tuple)


# ---- helpers.go, visitor.go ------------------------------------------------------------------


def join_quote(items: list[str]) -> str:
    """joinQuote"""
    return '"' + '", "'.join(items) + '"' if items else ""


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def named(kind: Literal["container", "volume"], names: list[str]) -> str:
    """`container "a"` or `containers "a", "b"`: the phrase every check's detail starts with."""
    return f"{pluralize(kind, kind + 's', len(names))} {join_quote(names)}"


def relax_for_user_namespace(spec: Mapping[str, Any]) -> bool:
    """relaxPolicyForUserNamespacePod: hostUsers is set and false."""
    return spec.get("hostUsers") is False


def visit_containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """visitContainers: init containers, containers, then ephemeral containers."""
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(kind) or []


def security_context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("securityContext") or {}


def is_windows(spec: Mapping[str, Any]) -> bool:
    return (spec.get("os") or {}).get("name") == "windows"


# ---- baseline checks -------------------------------------------------------------------------


def privileged_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_privileged.go privileged_1_0"""
    bad = [c["name"] for c in visit_containers(spec) if security_context(c).get("privileged")]
    if bad:
        return Result(
            False,
            "privileged",
            f"{named('container', bad)} must not set securityContext.privileged=true",
        )
    return ALLOWED


def host_namespaces_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_hostNamespaces.go hostNamespaces_1_0"""
    found = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if found:
        return Result(False, "host namespaces", ", ".join(found))
    return ALLOWED


def host_ports_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_hostPorts.go hostPorts_1_0"""
    bad, ports = [], set()
    for container in visit_containers(spec):
        used = [p["hostPort"] for p in container.get("ports") or [] if p.get("hostPort")]
        if used:
            bad.append(container["name"])
            ports |= {str(p) for p in used}
    if bad:
        return Result(
            False,
            "hostPort",
            f"{named('container', bad)} "
            f"{pluralize('uses', 'use', len(bad))} {pluralize('hostPort', 'hostPorts', len(ports))} "
            f"{', '.join(sorted(ports))}",
        )
    return ALLOWED


def host_path_volumes_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_hostPathVolumes.go hostPathVolumes_1_0"""
    bad = [v["name"] for v in spec.get("volumes") or [] if v.get("hostPath") is not None]
    if bad:
        return Result(
            False,
            "hostPath volumes",
            f"{named('volume', bad)}",
        )
    return ALLOWED


CAPABILITIES_ALLOWED_1_0 = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def capabilities_baseline_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_capabilities_baseline.go capabilitiesBaseline_1_0"""
    bad, found = [], set()
    for container in visit_containers(spec):
        capabilities = security_context(container).get("capabilities")
        if capabilities is None:
            continue
        added = {c for c in capabilities.get("add") or [] if c not in CAPABILITIES_ALLOWED_1_0}
        if added:
            bad.append(container["name"])
            found |= added
    if bad:
        return Result(
            False,
            "non-default capabilities",
            f"{named('container', bad)} must not include "
            f"{join_quote(sorted(found))} in securityContext.capabilities.add",
        )
    return ALLOWED


def _allowed_apparmor_annotation(value: str) -> bool:
    """allowedAnnotationValue"""
    return not value or value == "runtime/default" or value.startswith("localhost/")


def app_armor_profile_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_appArmorProfile.go appArmorProfile_1_0"""
    allowed_types = ("RuntimeDefault", "Localhost")
    setters, values = [], set()
    pod_profile = security_context(spec).get("appArmorProfile")
    if pod_profile is not None and pod_profile.get("type") not in allowed_types:
        setters.append("pod")
        values.add(pod_profile.get("type") or "")
    bad = []
    for container in visit_containers(spec):
        profile = security_context(container).get("appArmorProfile")
        if profile is not None and profile.get("type") not in allowed_types:
            bad.append(container["name"])
            values.add(profile.get("type") or "")
    if bad:
        setters.append(f"{named('container', bad)}")
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    annotations = sorted(
        f'{k}="{v}"'
        for k, v in (metadata.get("annotations") or {}).items()
        if k.startswith(prefix) and not _allowed_apparmor_annotation(v)
    )
    listed = sorted(values) + annotations
    if annotations:
        setters.append(pluralize("annotation", "annotations", len(annotations)))
    if setters:
        return Result(
            False,
            pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(listed)),
            f"{' and '.join(setters)} must not set AppArmor profile type to {join_quote(listed)}",
        )
    return ALLOWED


SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}


def _se_linux_options(spec: Mapping, allowed_types: frozenset[str]) -> Result:
    """check_seLinuxOptions.go seLinuxOptions"""
    setters, bad_types = [], set()
    user = role = False

    def valid(options: Mapping) -> bool:
        nonlocal user, role
        ok = True
        if (options.get("type") or "") not in allowed_types:
            ok = False
            bad_types.add(options.get("type") or "")
        if options.get("user"):
            ok, user = False, True
        if options.get("role"):
            ok, role = False, True
        return ok

    pod_options = security_context(spec).get("seLinuxOptions")
    if pod_options is not None and not valid(pod_options):
        setters.append("pod")
    bad = [
        c["name"]
        for c in visit_containers(spec)
        if security_context(c).get("seLinuxOptions") is not None
        and not valid(security_context(c)["seLinuxOptions"])
    ]
    if bad:
        setters.append(f"{named('container', bad)}")
    if setters:
        data = []
        if bad_types:
            data.append(
                f"{pluralize('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}"
            )
        if user:
            data.append("user may not be set")
        if role:
            data.append("role may not be set")
        return Result(
            False,
            "seLinuxOptions",
            f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
            f"{'; '.join(data)}",
        )
    return ALLOWED


def se_linux_options_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """seLinuxOptions1_0"""
    return _se_linux_options(spec, SELINUX_TYPES_1_0)


def se_linux_options_1_31(metadata: Mapping, spec: Mapping) -> Result:
    """seLinuxOptions1_31"""
    return _se_linux_options(spec, SELINUX_TYPES_1_31)


def proc_mount_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_procMount_baseline.go procMount_1_0"""
    bad, types = [], set()
    for container in visit_containers(spec):
        proc_mount = security_context(container).get("procMount")
        if proc_mount is not None and proc_mount != "Default":
            bad.append(container["name"])
            types.add(proc_mount)
    if bad:
        return Result(
            False,
            "procMount",
            f"{named('container', bad)} must not set "
            f"securityContext.procMount to {join_quote(sorted(types))}",
        )
    return ALLOWED


def proc_mount_1_35_baseline(metadata: Mapping, spec: Mapping) -> Result:
    """procMount1_35baseline"""
    if relax_for_user_namespace(spec):
        return ALLOWED
    return proc_mount_1_0(metadata, spec)


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"


def _valid_seccomp(profile_type: Any) -> bool:
    """validSeccomp"""
    return profile_type in ("Localhost", "RuntimeDefault")


def _valid_seccomp_annotation(value: str) -> bool:
    """validSeccompAnnotationValue"""
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_profile_baseline_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_seccompProfile_baseline.go seccompProfileBaseline_1_0"""
    annotations = metadata.get("annotations") or {}
    forbidden = set()
    value = annotations.get(SECCOMP_POD_ANNOTATION)
    if value is not None and not _valid_seccomp_annotation(value):
        forbidden.add(f'{SECCOMP_POD_ANNOTATION}="{value}"')
    for container in visit_containers(spec):
        key = SECCOMP_CONTAINER_ANNOTATION + container["name"]
        value = annotations.get(key)
        if value is not None and not _valid_seccomp_annotation(value):
            forbidden.add(f'{key}="{value}"')
    if forbidden:
        return Result(
            False,
            "seccompProfile",
            f"forbidden {pluralize('annotation', 'annotations', len(forbidden))} "
            f"{', '.join(sorted(forbidden))}",
        )
    return ALLOWED


def seccomp_profile_baseline_1_19(metadata: Mapping, spec: Mapping) -> Result:
    """seccompProfileBaseline_1_19"""
    setters, values = [], set()
    profile = security_context(spec).get("seccompProfile")
    if profile is not None and not _valid_seccomp(profile.get("type")):
        setters.append("pod")
        values.add(profile.get("type") or "")
    bad = []
    for container in visit_containers(spec):
        profile = security_context(container).get("seccompProfile")
        if profile is not None and not _valid_seccomp(profile.get("type")):
            bad.append(container["name"])
            values.add(profile.get("type") or "")
    if bad:
        setters.append(f"{named('container', bad)}")
    if setters:
        return Result(
            False,
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{join_quote(sorted(values))}",
        )
    return ALLOWED


SYSCTLS_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _sysctls(allowed: frozenset[str]) -> CheckFn:
    """check_sysctls.go sysctls, with the allowed set of sysctlsV1Dot0/27/29/32"""

    def check(metadata: Mapping, spec: Mapping) -> Result:
        forbidden = [
            s.get("name")
            for s in security_context(spec).get("sysctls") or []
            if s.get("name") not in allowed
        ]
        if forbidden:
            return Result(False, "forbidden sysctls", ", ".join(forbidden))
        return ALLOWED

    return check


def windows_host_process_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_windowsHostProcess.go windowsHostProcess_1_0"""

    def host_process(obj: Mapping) -> bool:
        return (security_context(obj).get("windowsOptions") or {}).get("hostProcess") is True

    bad = [c["name"] for c in visit_containers(spec) if host_process(c)]
    setters = ["pod"] if host_process(spec) else []
    if bad:
        setters.append(f"{named('container', bad)}")
    if setters:
        return Result(
            False,
            "hostProcess",
            f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true",
        )
    return ALLOWED


def _forbidden_hosts(handler: Any) -> list[str]:
    """getForbiddenHostProbes / getForbiddenHostLifecycle"""
    if not handler:
        return []
    return [
        handler[kind]["host"]
        for kind in ("httpGet", "tcpSocket")
        if (handler.get(kind) or {}).get("host")
    ]


def host_probes_and_host_lifecycle_1_34(metadata: Mapping, spec: Mapping) -> Result:
    """check_hostProbesAndhostLifecycle.go hostProbesAndHostLifecycleV1Dot34"""
    bad, hosts = set(), set()
    for container in visit_containers(spec):
        lifecycle = container.get("lifecycle") or {}
        handlers = [container.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
        for handler in handlers:
            found = _forbidden_hosts(handler)
            if found:
                bad.add(container["name"])
                hosts |= set(found)
    if bad:
        return Result(
            False,
            "probe or lifecycle host",
            f"{named('container', sorted(bad))} "
            f"{pluralize('uses', 'use', len(bad))} "
            f"{pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
            f"{join_quote(sorted(hosts))}",
        )
    return ALLOWED


# ---- restricted checks -----------------------------------------------------------------------


def allow_privilege_escalation_1_8(metadata: Mapping, spec: Mapping) -> Result:
    """check_allowPrivilegeEscalation.go allowPrivilegeEscalation_1_8"""
    bad = [
        c["name"]
        for c in visit_containers(spec)
        if security_context(c).get("allowPrivilegeEscalation") is not False
    ]
    if bad:
        return Result(
            False,
            "allowPrivilegeEscalation != false",
            f"{named('container', bad)} must set securityContext.allowPrivilegeEscalation=false",
        )
    return ALLOWED


def allow_privilege_escalation_1_25(metadata: Mapping, spec: Mapping) -> Result:
    """allowPrivilegeEscalation_1_25: Windows pods are exempt."""
    if is_windows(spec):
        return ALLOWED
    return allow_privilege_escalation_1_8(metadata, spec)


def capabilities_restricted_1_22(metadata: Mapping, spec: Mapping) -> Result:
    """check_capabilities_restricted.go capabilitiesRestricted_1_22"""
    missing_drop_all, adding, forbidden = [], [], set()
    for container in visit_containers(spec):
        capabilities = security_context(container).get("capabilities")
        if capabilities is None:
            missing_drop_all.append(container["name"])
            continue
        if "ALL" not in (capabilities.get("drop") or []):
            missing_drop_all.append(container["name"])
        added = {c for c in capabilities.get("add") or [] if c != "NET_BIND_SERVICE"}
        if added:
            adding.append(container["name"])
            forbidden |= added
    details = []
    if missing_drop_all:
        details.append(
            f"{named('container', missing_drop_all)} "
            'must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{named('container', adding)} must not "
            f"include {join_quote(sorted(forbidden))} in securityContext.capabilities.add"
        )
    if details:
        return Result(False, "unrestricted capabilities", "; ".join(details))
    return ALLOWED


def capabilities_restricted_1_25(metadata: Mapping, spec: Mapping) -> Result:
    """capabilitiesRestricted_1_25: Windows pods are exempt."""
    if is_windows(spec):
        return ALLOWED
    return capabilities_restricted_1_22(metadata, spec)


# check_restrictedVolumes.go: the inline volume sources restricted pods may use.
ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
RESTRICTED_VOLUME_TYPES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def restricted_volumes_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_restrictedVolumes.go restrictedVolumes_1_0"""
    bad, types = [], set()
    for volume in spec.get("volumes") or []:
        sources = {k for k, v in volume.items() if k != "name" and v is not None}
        if sources & ALLOWED_VOLUME_TYPES:
            continue
        bad.append(volume["name"])
        known = [t for t in RESTRICTED_VOLUME_TYPES if t in sources]
        types.add(known[0] if known else "unknown")
    if bad:
        return Result(
            False,
            "restricted volume types",
            f"{named('volume', bad)} "
            f"{pluralize('uses', 'use', len(bad))} "
            f"{pluralize('restricted volume type', 'restricted volume types', len(types))} "
            f"{join_quote(sorted(types))}",
        )
    return ALLOWED


def run_as_non_root_1_0(metadata: Mapping, spec: Mapping) -> Result:
    """check_runAsNonRoot.go runAsNonRoot1_0"""
    setters = []
    pod_value = security_context(spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    explicit, implicit = [], []
    for container in visit_containers(spec):
        value = security_context(container).get("runAsNonRoot")
        if value is not None:
            if value is False:
                explicit.append(container["name"])
        elif pod_value is not True:
            implicit.append(container["name"])
    if explicit:
        setters.append(f"{named('container', explicit)}")
    if setters:
        return Result(
            False,
            "runAsNonRoot != true",
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicit:
        return Result(
            False,
            "runAsNonRoot != true",
            f"pod or {named('container', implicit)} must set securityContext.runAsNonRoot=true",
        )
    return ALLOWED


def run_as_non_root_1_35(metadata: Mapping, spec: Mapping) -> Result:
    """runAsNonRoot1_35"""
    if relax_for_user_namespace(spec):
        return ALLOWED
    return run_as_non_root_1_0(metadata, spec)


def run_as_user_1_23(metadata: Mapping, spec: Mapping) -> Result:
    """check_runAsUser.go runAsUser1_23"""
    setters = ["pod"] if security_context(spec).get("runAsUser") == 0 else []
    bad = [c["name"] for c in visit_containers(spec) if security_context(c).get("runAsUser") == 0]
    if bad:
        setters.append(f"{named('container', bad)}")
    if setters:
        return Result(False, "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0")
    return ALLOWED


def run_as_user_1_35(metadata: Mapping, spec: Mapping) -> Result:
    """runAsUser1_35"""
    if relax_for_user_namespace(spec):
        return ALLOWED
    return run_as_user_1_23(metadata, spec)


def seccomp_profile_restricted_1_19(metadata: Mapping, spec: Mapping) -> Result:
    """check_seccompProfile_restricted.go seccompProfileRestricted_1_19"""
    setters, values = [], set()
    pod_set = False
    profile = security_context(spec).get("seccompProfile")
    if profile is not None:
        if not _valid_seccomp(profile.get("type")):
            setters.append("pod")
            values.add(profile.get("type") or "")
        else:
            pod_set = True
    explicit, implicit = [], []
    for container in visit_containers(spec):
        profile = security_context(container).get("seccompProfile")
        if profile is not None:
            if not _valid_seccomp(profile.get("type")):
                explicit.append(container["name"])
                values.add(profile.get("type") or "")
        elif not pod_set:
            implicit.append(container["name"])
    if explicit:
        setters.append(f"{named('container', explicit)}")
    if setters:
        return Result(
            False,
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{join_quote(sorted(values))}",
        )
    if implicit:
        return Result(
            False,
            "seccompProfile",
            f"pod or {named('container', implicit)} "
            'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
        )
    return ALLOWED


def seccomp_profile_restricted_1_25(metadata: Mapping, spec: Mapping) -> Result:
    """seccompProfileRestricted_1_25: Windows pods are exempt."""
    if is_windows(spec):
        return ALLOWED
    return seccomp_profile_restricted_1_19(metadata, spec)


# ---- the registry (policy/checks.go DefaultChecks at release-1.36) ---------------------------

CHECKS: tuple[Check, ...] = (
    Check("privileged", BASELINE, (Revision(0, privileged_1_0),)),
    Check("hostNamespaces", BASELINE, (Revision(0, host_namespaces_1_0),)),
    Check("hostPorts", BASELINE, (Revision(0, host_ports_1_0),)),
    Check("hostPathVolumes", BASELINE, (Revision(0, host_path_volumes_1_0),)),
    Check("capabilities_baseline", BASELINE, (Revision(0, capabilities_baseline_1_0),)),
    Check("appArmorProfile", BASELINE, (Revision(0, app_armor_profile_1_0),)),
    Check(
        "seLinuxOptions",
        BASELINE,
        (Revision(0, se_linux_options_1_0), Revision(31, se_linux_options_1_31)),
    ),
    Check(
        "procMount", BASELINE, (Revision(0, proc_mount_1_0), Revision(35, proc_mount_1_35_baseline))
    ),
    Check(
        "seccompProfile_baseline",
        BASELINE,
        (Revision(0, seccomp_profile_baseline_1_0), Revision(19, seccomp_profile_baseline_1_19)),
    ),
    Check(
        "sysctls",
        BASELINE,
        (
            Revision(0, _sysctls(SYSCTLS_1_0)),
            Revision(27, _sysctls(SYSCTLS_1_27)),
            Revision(29, _sysctls(SYSCTLS_1_29)),
            Revision(32, _sysctls(SYSCTLS_1_32)),
        ),
    ),
    Check("windowsHostProcess", BASELINE, (Revision(0, windows_host_process_1_0),)),
    Check(
        "hostProbesAndHostLifecycle",
        BASELINE,
        (Revision(34, host_probes_and_host_lifecycle_1_34),),
    ),
    Check(
        "allowPrivilegeEscalation",
        RESTRICTED,
        (
            Revision(8, allow_privilege_escalation_1_8),
            Revision(25, allow_privilege_escalation_1_25),
        ),
    ),
    Check(
        "capabilities_restricted",
        RESTRICTED,
        (
            Revision(22, capabilities_restricted_1_22, ("capabilities_baseline",)),
            Revision(25, capabilities_restricted_1_25, ("capabilities_baseline",)),
        ),
    ),
    Check(
        "procMount_restricted",
        RESTRICTED,
        (Revision(35, proc_mount_1_0, ("procMount",)),),
    ),
    Check(
        "restrictedVolumes",
        RESTRICTED,
        (Revision(0, restricted_volumes_1_0, ("hostPathVolumes",)),),
    ),
    Check(
        "runAsNonRoot",
        RESTRICTED,
        (Revision(0, run_as_non_root_1_0), Revision(35, run_as_non_root_1_35)),
    ),
    Check(
        "runAsUser", RESTRICTED, (Revision(23, run_as_user_1_23), Revision(35, run_as_user_1_35))
    ),
    Check(
        "seccompProfile_restricted",
        RESTRICTED,
        (
            Revision(19, seccomp_profile_restricted_1_19, ("seccompProfile_baseline",)),
            Revision(25, seccomp_profile_restricted_1_25, ("seccompProfile_baseline",)),
        ),
    ),
)
# The newest MinimumVersion of any check: `latest` and newer versions evaluate as this one.
MAX_MINOR = max(r.minimum for c in CHECKS for r in c.revisions)


def parse_version(version: str | None) -> int:
    """A policy version label (`latest`, `v1.36`) as the minor of 1.x to evaluate."""
    if not version or version == "latest":
        return MAX_MINOR
    major, _, minor = version.removeprefix("v").partition(".")
    if major != "1" or not minor.isdigit():
        raise ValueError(f"not a Pod Security version: {version!r}")
    return min(int(minor), MAX_MINOR)


def _revision(check: Check, minor: int) -> Revision | None:
    applicable = [r for r in check.revisions if r.minimum <= minor]
    return applicable[-1] if applicable else None


def checks_for(level: str, version: str | None = "latest") -> list[tuple[str, CheckFn]]:
    """(ID, function) of the checks a level and version run, baseline IDs first, each group
    sorted by ID (upstream's order of messages)."""
    if level not in LEVELS:
        raise ValueError(f"not a Pod Security level: {level!r}")
    if level == PRIVILEGED:
        return []
    minor = parse_version(version)
    baseline, restricted, overridden = {}, {}, set()
    for check in CHECKS:
        revision = _revision(check, minor)
        if revision is None:
            continue
        if check.level == BASELINE:
            baseline[check.id] = revision.check
        elif level == RESTRICTED:
            restricted[check.id] = revision.check
            overridden |= set(revision.overrides)
    selected = [(i, baseline[i]) for i in sorted(baseline) if i not in overridden]
    return selected + [(i, restricted[i]) for i in sorted(restricted)]


def evaluate_pod(pod: Pod, level: str, version: str | None = "latest") -> list[Result]:
    """The forbidden results of the checks `level` runs on `pod` (empty: admitted)."""
    metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    return [
        r for _, check in checks_for(level, version) if not (r := check(metadata, spec)).allowed
    ]


def forbidden_detail(results: list[Result]) -> str:
    """AggregateCheckResult.ForbiddenDetail: `reason (detail), reason (detail)`."""
    return ", ".join(f"{r.reason} ({r.detail})" if r.detail else r.reason for r in results)


def namespace_level(labels: Mapping[str, str] | None) -> tuple[str, str]:
    """(level, version) a namespace enforces; no label is privileged (kubeadm configures no
    cluster-wide default)."""
    labels = labels or {}
    return labels.get(ENFORCE_LABEL, PRIVILEGED), labels.get(ENFORCE_VERSION_LABEL, "latest")
