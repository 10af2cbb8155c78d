"""Pull-request comments from engine events, built with the SDK's own event classes."""

from __future__ import annotations

from pulumi.automation.events import (
    DiagnosticEvent,
    DiffKind,
    EngineEvent,
    OpType,
    PolicyEvent,
    PropertyDiff,
    ResourcePreEvent,
    ResOutputsEvent,
    StepEventMetadata,
    StepEventStateMetadata,
    SummaryEvent,
)

from automation.comment import headline, render
from automation.events import EventCollector, collect
from automation.markdown import GITHUB_COMMENT_LIMIT

COMMAND = "command:remote:Command"
# How a secret arrives in engine events when secrets are not shown: the engine's secret
# signature with a blinded ciphertext, or (in older CLIs and in display) the plain mask.
SIG = "4dabf18193072939515e22adb298388d"
SECRET_MARKER = {SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}
TOKEN = "abcdef.0123456789abcdef"


def urn(name: str, type_: str = COMMAND) -> str:
    return f"urn:pulumi:lab::ml-platform::ml-platform:kubeadm:KubeadmCluster${type_}::{name}"


def state(name: str, inputs: dict, outputs: dict | None = None) -> StepEventStateMetadata:
    return StepEventStateMetadata(
        type=COMMAND,
        urn=urn(name),
        id=f"{name}-id",
        parent="",
        provider="",
        inputs=inputs,
        outputs=inputs if outputs is None else outputs,
    )


def pre(op: OpType, name: str, old=None, new=None, **details) -> EngineEvent:
    metadata = StepEventMetadata(
        op=op, urn=urn(name), type=COMMAND, provider="", old=old, new=new, **details
    )
    return EngineEvent(sequence=0, timestamp=0, resource_pre_event=ResourcePreEvent(metadata))


def summary_event(**changes: int) -> EngineEvent:
    summary = SummaryEvent(
        maybe_corrupt=False, duration_seconds=0, resource_changes=changes, policy_packs={}
    )
    return EngineEvent(sequence=99, timestamp=0, summary_event=summary)


def replacement(name: str, old: dict, new: dict, keys: list[str], diff: dict) -> list:
    """The three steps the engine takes to replace one resource (create before delete)."""
    details = {"keys": keys, "detailed_diff": diff}
    return [
        pre(OpType.CREATE_REPLACEMENT, name, state(name, old), state(name, new), **details),
        pre(OpType.REPLACE, name, state(name, old), state(name, new), **details),
        pre(OpType.DELETE_REPLACED, name, state(name, old), None),
    ]


def preview_events() -> list[EngineEvent]:
    hosts = ["cp-1", "gpu-01", "gpu-02"]
    return [
        pre(
            OpType.CREATE,
            "join-gpu-041",
            new=state(
                "join-gpu-041",
                {
                    "create": "sudo bash -s",
                    "stdin": SECRET_MARKER,
                    "connection": {"host": "192.168.11.1", "privateKey": "[secret]"},
                    "__defaults": [],
                },
            ),
        ),
        *replacement(
            "refresh-join",
            {"triggers": hosts},
            {"triggers": [*hosts, "gpu-041"]},
            keys=["triggers"],
            diff={"triggers[3]": PropertyDiff(DiffKind.ADD_REPLACE, input_diff=True)},
        ),
        pre(OpType.DELETE, "join-gpu-05", old=state("join-gpu-05", {"create": "sudo bash -s"})),
        pre(
            OpType.UPDATE,
            "init",
            old=state("init", {"stdin": "export A=1\nexport B=2\n", "token": SECRET_MARKER}),
            new=state("init", {"stdin": "export A=1\nexport B=3\n", "token": "[secret]"}),
            diffs=["stdin", "token"],
            detailed_diff={
                "stdin": PropertyDiff(DiffKind.UPDATE, input_diff=True),
                "token": PropertyDiff(DiffKind.UPDATE, input_diff=True),
            },
        ),
        pre(OpType.SAME, "prepare-cp-1", state("prepare-cp-1", {}), state("prepare-cp-1", {})),
        summary_event(create=1, replace=1, delete=1, update=1, same=120),
    ]


def test_one_entry_per_resource_with_the_operation_that_matters():
    summary = collect(preview_events(), "lab")
    ops = {r.name: r.op for r in summary.resources.values()}
    assert ops == {
        "join-gpu-041": "create",
        "refresh-join": "replace",
        "join-gpu-05": "delete",
        "init": "update",
        "prepare-cp-1": "same",
    }
    assert summary.resources[urn("refresh-join")].replace_keys == ["triggers"]
    assert summary.counts() == {"create": 1, "replace": 1, "delete": 1, "update": 1, "same": 120}
    assert summary.has_changes()


def test_counts_come_from_events_when_no_summary_event_arrived():
    summary = collect(preview_events()[:-1], "lab")
    assert summary.counts() == {"create": 1, "replace": 1, "delete": 1, "update": 1, "same": 1}


def test_the_comment_has_a_marker_a_table_and_the_dangerous_changes_first():
    body = render(collect(preview_events(), "lab"), context="Commit 0123456789.")
    assert body.startswith("<!-- ml-platform:preview:lab -->\n")
    assert "### Preview of stack `lab`: 1 to replace, 1 to delete, 1 to create, 1 to update" in body
    assert "| create | update | replace | delete | unchanged |" in body
    assert "| 1 | 1 | 1 | 1 | 120 |" in body
    assert "1 replacement and 1 deletion: check these first." in body
    order = [body.index(h) for h in ("#### Replaced", "#### Deleted", "#### Created", "<details>")]
    assert order == sorted(order)
    assert "- `refresh-join` (`command:remote:Command`), replaced because of `triggers`" in body
    assert '+    triggers[3]: "gpu-041" (forces replacement)' in body
    # The full diff is folded, and shows changed lines of a script, not the whole script.
    details = body[body.index("<details>") : body.index("</details>")]
    assert "-        export B=2\n+        export B=3" in details
    assert "__defaults" not in details


def test_secrets_are_masked_in_both_of_their_event_forms():
    events = preview_events()
    # A secret the engine sent in the clear would still be masked by its marker.
    events[0].resource_pre_event.metadata.new.inputs["stdin"] = {
        SIG: "1b47061264138c4ac30d75fd1eb44270",
        "value": f"export TOKEN={TOKEN}",
    }
    body = render(collect(events, "lab"))
    assert TOKEN not in body and SIG not in body and "ciphertext" not in body
    assert '+    stdin: "[secret]"' in body
    assert '"privateKey": "[secret]"' in body
    # Secret on one side, mask on the other: masked on both, the change still shown.
    assert "~    token: [secret] => [secret] (secret value changed)" in body


def test_a_long_comment_is_cut_to_githubs_limit_with_a_note():
    events = [
        pre(
            OpType.CREATE,
            f"worker-{n:04d}",
            new=state(f"worker-{n:04d}", {"stdin": "\n".join(f"line {i}" for i in range(50))}),
        )
        for n in range(2000)
    ]
    body = render(collect(events, "lab"))
    assert len(body) <= GITHUB_COMMENT_LIMIT
    assert "Cut to fit GitHub's limit of 65,536 characters per comment" in body
    assert body.count("<details>") == body.count("</details>") == 1
    assert body.count("```") % 2 == 0
    assert body.rstrip().endswith("Secret values are shown as `[secret]`.</sub>")
    small = render(collect(events[:3], "lab"))
    assert "Cut to fit" not in small


def test_a_refresh_counts_what_it_found_not_the_refresh_steps():
    collector = EventCollector("lab", "refresh-preview")
    name = "init"
    old = state(name, {"create": "x"}, {"stdout": "v1"})
    new = state(name, {"create": "x"}, {"stdout": "v2"})
    collector(pre(OpType.REFRESH, name, old, new))
    outputs = StepEventMetadata(
        op=OpType.UPDATE, urn=urn(name), type=COMMAND, provider="", old=old, new=new
    )
    collector(EngineEvent(1, 0, res_outputs_event=ResOutputsEvent(outputs)))
    summary = collector.summary()
    assert summary.resources[urn(name)].op == "update"
    assert summary.has_changes()
    body = render(summary)
    assert body.startswith("<!-- ml-platform:refresh-preview:lab -->")
    assert '~    stdout: "v1" => "v2"' in body


def test_no_changes_and_failures_say_so():
    quiet = collect([summary_event(same=143)], "lab")
    assert not quiet.has_changes()
    assert "### Preview of stack `lab`: no changes" in render(quiet)
    error = DiagnosticEvent(
        message="\x1b[31merror: ssh: handshake failed\x1b[0m", color="raw", severity="error"
    )
    failed = collect([EngineEvent(1, 0, diagnostic_event=error)], "lab")
    body = render(failed)
    assert "### Preview of stack `lab`: failed" in body
    assert "error: ssh: handshake failed" in body and "\x1b" not in body


def test_a_refresh_preview_keeps_the_programs_property_diffs():
    """`preview --refresh` takes a `refresh` step per resource before the program's steps; the
    update it then shows is the program's, a diff of inputs, not of refreshed outputs."""
    collector = EventCollector("lab", "preview")
    old = state("init", {"stdin": "export B=2\n"}, {"stdin": "export B=2\n", "stdout": "v1"})
    refreshed = state("init", {"stdin": "export B=2\n"}, {"stdin": "export B=2\n", "stdout": "v2"})
    # A preview's new state has the new inputs; its outputs are what the provider last reported.
    new = state("init", {"stdin": "export B=3\n"}, {"stdin": "export B=2\n", "stdout": "v2"})
    # The refresh step, as its pre event and (op `refresh`, not a result op) its outputs event.
    collector(pre(OpType.REFRESH, "init", old, refreshed))
    refresh_outputs = StepEventMetadata(
        op=OpType.REFRESH, urn=urn("init"), type=COMMAND, provider="", old=old, new=refreshed
    )
    collector(EngineEvent(1, 0, res_outputs_event=ResOutputsEvent(refresh_outputs)))
    diff = {"stdin": PropertyDiff(DiffKind.UPDATE, input_diff=True)}
    collector(pre(OpType.UPDATE, "init", refreshed, new, diffs=["stdin"], detailed_diff=diff))
    collector(summary_event(update=1))
    resource = collector.summary().resources[urn("init")]
    assert resource.op == "update"
    assert [c.path for c in resource.properties] == ["stdin"]
    body = render(collector.summary())
    assert "-        export B=2\n+        export B=3" in body
    assert "stdout" not in body


def test_policy_violations_are_listed_mandatory_first_in_summary_and_comment():
    def violation(level: str, policy: str, name: str | None) -> EngineEvent:
        event = PolicyEvent(
            message=f"<{{%fg 1%}}>{policy} is violated\n  by this resource<{{%reset%}}>\n",
            color="raw",
            policy_name=policy,
            policy_pack_name="ml-guard",
            policy_pack_version="0.3.0",
            policy_pack_version_tag="0.3.0",
            enforcement_level=level,
            resource_urn=urn(name) if name else None,
        )
        return EngineEvent(sequence=5, timestamp=0, policy_event=event)

    summary = SummaryEvent(
        maybe_corrupt=False,
        duration_seconds=0,
        resource_changes={"same": 4},
        policy_packs={"ml-guard": "0.3.0"},
    )
    events = [
        violation("advisory", "tagged-resources", "init"),
        violation("mandatory", "no-host-network", "join-gpu-041"),
        violation("advisory", "stack-budget", None),
        EngineEvent(sequence=9, timestamp=0, summary_event=summary),
    ]
    collected = collect(events, "lab")
    assert [v.policy for v in collected.mandatory_violations()] == ["no-host-network"]
    assert headline(collected) == "no changes; 3 policy violations (1 mandatory)"
    body = render(collected)
    assert "### Preview of stack `lab`: no changes; 3 policy violations (1 mandatory)" in body
    assert "Policy packs: `ml-guard` 0.3.0." in body
    assert "#### Policy violations (3)" in body
    assert "1 mandatory policy violation: the preview cannot go ahead until it is fixed." in body
    first = body.index("- **mandatory** `ml-guard/no-host-network` on `join-gpu-041`:")
    assert first < body.index("- advisory `ml-guard/tagged-resources` on `init`:")
    assert "- advisory `ml-guard/stack-budget`: stack-budget is violated by this resource" in body
    assert "<{%" not in body


def test_the_clis_colour_directives_are_removed_from_errors():
    error = DiagnosticEvent(
        message="<{%fg 1%}>error: <{%reset%}><{%bold%}>ssh: handshake failed<{%reset%}>\n",
        color="raw",
        severity="error",
    )
    summary = collect([EngineEvent(1, 0, diagnostic_event=error)], "lab")
    assert summary.errors == ["error: ssh: handshake failed"]
