"""A readable plan of an offline evaluation: component tree, counts, hosts, exports."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from automation.engine import Evaluation, Registration
from automation.redact import MASK


def _children(registrations: list[Registration]) -> dict[str, list[Registration]]:
    children: dict[str, list[Registration]] = defaultdict(list)
    for registration in registrations:
        children[registration.parent].append(registration)
    return children


def tree_lines(evaluation: Evaluation, max_children: int = 12) -> list[str]:
    """Components with their children; long runs of one type are summarised."""
    children = _children(evaluation.registrations)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        kids = children.get(parent, [])
        # Registration order follows Output resolution; sorting keeps the plan stable.
        kids = sorted(kids, key=lambda k: (k.custom, k.type, k.name))
        shown = kids if len(kids) <= max_children else kids[: max_children - 1]
        for kid in shown:
            lines.append(f"{'  ' * depth}- {kid.name} ({kid.type})")
            walk(kid.urn, depth + 1)
        if len(kids) > len(shown):
            hidden = Counter(k.type for k in kids[len(shown) :])
            summary = ", ".join(f"{n} x {t}" for t, n in hidden.most_common())
            lines.append(f"{'  ' * depth}- ... and {len(kids) - len(shown)} more ({summary})")

    roots = [urn for urn in children if urn not in evaluation.by_urn()]
    for root in roots:
        walk(root, 0)
    return lines


def plan_document(evaluation: Evaluation) -> dict[str, Any]:
    """Everything the plan shows, as plain data (the --json output)."""
    # Export values come unwrapped from the engine; one secret part masks the whole output.
    exports = {name: MASK if e.secret else e.value for name, e in evaluation.exports.items()}
    return {
        "stack": evaluation.stack,
        "resources": len(evaluation.registrations),
        "countsByType": dict(sorted(Counter(r.type for r in evaluation.registrations).items())),
        "resourcesTree": [
            {"urn": r.urn, "type": r.type, "parent": r.parent} for r in evaluation.registrations
        ],
        "exports": exports,
    }


def _host_summary(host: dict[str, Any]) -> str:
    parts = [", ".join(host["roles"])]
    if host.get("gpu"):
        parts.append(f"gpu {host['gpu']}")
    if host.get("storageDevices"):
        parts.append(f"storage {' '.join(host['storageDevices'])}")
    return "; ".join(parts)


def render_text(evaluation: Evaluation) -> str:
    document = plan_document(evaluation)
    exports = document["exports"]
    out = [f"Offline plan of stack '{evaluation.stack}': {document['resources']} resources", ""]
    hosts = exports.get("hosts") or {}
    if hosts:
        out.append(f"Hosts ({len(hosts)}):")
        by_roles = Counter(",".join(h["roles"]) for h in hosts.values())
        out += [f"  {count:>4} x {roles}" for roles, count in sorted(by_roles.items())]
        # Stack outputs are maps: the engine keeps no order, so hosts are listed by name.
        out += [
            f"  {name:<12} {h['address']:<16} {_host_summary(h)}"
            for name, h in sorted(hosts.items())
        ]
        out.append("")
    if document["countsByType"]:
        out.append("Resources by type:")
        counts = sorted(document["countsByType"].items(), key=lambda item: (-item[1], item[0]))
        out += [f"  {count:>4}  {type_}" for type_, count in counts]
        out.append("")
        out.append("Components:")
        out += ["  " + line for line in tree_lines(evaluation)]
        out.append("")
    out.append("Exports:")
    for name, value in sorted(exports.items()):
        if name == "hosts":
            value = f"{len(hosts)} hosts (listed above)"
        shown = value if isinstance(value, str) else json.dumps(value)
        out.append(f"  {name}: {shown}")
    return "\n".join(out)
