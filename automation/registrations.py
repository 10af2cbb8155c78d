"""Every resource a stack's program registers offline, with its inputs, as plain JSON data.

`python -m automation registrations --stack NAME` prints it; the offline diff compares two of
them. No secret value appears: a secret becomes the engine's secret marker holding a digest
of the value, so a changed secret shows as changed without being shown. (Offline, secrets are
placeholders or mock results anyway: the engine never decrypts a `secure:` value.)

Relative imports only, on purpose: `automation/diff.py` loads this module, under another
package name, into a Python process running in a checkout of the base ref, where
`automation` is that checkout's own package and its engine evaluates its own program.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .redact import SECRET_SIG, SIG_KEY, is_secret

FORMAT = 1


def digest(value: Any) -> str:
    canonical = json.dumps(encode(value), sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _opaque(value: Any) -> Any:
    """Assets, archives and other SDK objects, by what identifies them (never by `repr`,
    which holds a memory address and would differ on every run)."""
    described = {
        attribute: encode(getattr(value, attribute))
        for attribute in ("path", "text", "uri", "assets")
        if isinstance(getattr(value, attribute, None), str | Mapping)
    }
    return {"object": type(value).__name__, **described}


def encode(value: Any) -> Any:
    """`value` as JSON data, every secret replaced by a marker with its digest."""
    if isinstance(value, Mapping) and is_secret(value):
        return {SIG_KEY: SECRET_SIG, "digest": digest(value.get("value"))}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return _opaque(value)


def document(evaluation: Any) -> dict[str, Any]:
    """The registrations and exports of an `automation.engine.Evaluation` (of this checkout
    or of another: only attributes every version of the engine has are read)."""
    resources = [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "custom": r.custom,
            "provider": r.provider,
            "inputs": encode(r.inputs),
            "dependencies": sorted(getattr(r, "all_dependencies", r.dependencies)),
            "replaceOnChanges": list(getattr(r, "replace_on_changes", ())),
            "deleteBeforeReplace": bool(getattr(r, "delete_before_replace", False)),
        }
        for r in sorted(evaluation.registrations, key=lambda r: r.urn)
    ]
    exports = {
        name: encode({SIG_KEY: SECRET_SIG, "value": e.value} if e.secret else e.value)
        for name, e in evaluation.exports.items()
    }
    error = evaluation.error
    return {
        "format": FORMAT,
        "stack": evaluation.stack,
        "error": None if error is None else str(error),
        "resources": resources,
        "exports": exports,
    }


def write_checkout_document(stack: str, output: str) -> int:
    """Evaluate `stack` with the engine of the checkout this process runs in and write the
    document to `output`; a checkout without the engine or the stack is written as such."""
    result: dict[str, Any] = {"format": FORMAT, "stack": stack, "error": None}
    try:
        from automation.engine import evaluate, load_stack  # the checkout's own engine
    except ImportError as error:
        result["error"] = f"this revision has no offline engine (automation/engine.py): {error}"
    else:
        try:
            settings = load_stack(stack)
        except FileNotFoundError as error:
            result["missing"] = str(error)
        else:
            result = document(evaluate(stack, settings))
    Path(output).write_text(json.dumps(result))
    return 0
