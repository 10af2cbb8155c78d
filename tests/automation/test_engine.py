"""The offline engine behaves like the real one where tests rely on it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from automation.engine import (
    DuplicateUrnError,
    StackSettings,
    evaluate,
    load_stack,
    secret_values,
)
from tests.helpers import plain_text

SETTINGS = StackSettings({}, frozenset())


def run_program(tmp_path: Path, source: str, preview: bool = False):
    program = tmp_path / "__main__.py"
    program.write_text(textwrap.dedent(source))
    return evaluate("test", SETTINGS, preview=preview, program=program)


def test_duplicate_urns_are_refused(tmp_path):
    evaluation = run_program(
        tmp_path,
        """
        import pulumi_random as random
        random.RandomPet("same")
        random.RandomPet("same")
        """,
    )
    assert isinstance(evaluation.error, DuplicateUrnError)
    assert "urn:pulumi:test::ml-platform::random:index/randomPet:RandomPet::same" in str(
        evaluation.error
    )


def test_additional_secret_outputs_stay_secret_downstream(tmp_path):
    evaluation = run_program(
        tmp_path,
        """
        import pulumi, pulumi_random as random
        password = random.RandomPassword("password", length=24)
        random.RandomPet("consumer", prefix=password.result)
        pulumi.export("password", password.result)
        """,
    )
    evaluation.check()
    assert evaluation.exports["password"].secret
    assert len(evaluation.exports["password"].value) == 24
    consumer = evaluation.named("consumer")
    assert secret_values(consumer.inputs["prefix"])
    assert evaluation.named("password").urn in consumer.all_dependencies


def test_update_mode_runs_apply_and_preview_mode_does_not(tmp_path):
    source = """
        import pulumi, pulumi_random as random
        pet = random.RandomPet("pet")
        def explode(_):
            raise pulumi.RunError("apply ran")
        pet.id.apply(explode)
        """
    assert "apply ran" in str(run_program(tmp_path, source).error)
    assert run_program(tmp_path, source, preview=True).error is None


def test_secure_values_are_placeholders_and_never_decrypted(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(
        "name: ml-platform\nconfig:\n  sshPrivateKey: {type: string, secret: true}\n"
    )
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n  ml-platform:token:\n    secure: v1:AAAAencrypted\n"
    )
    settings = load_stack("s", project_dir=tmp_path)
    assert settings.secret_keys == {"ml-platform:token", "ml-platform:sshPrivateKey"}
    assert "v1:AAAAencrypted" not in str(settings.values)
    assert settings.values["ml-platform:sshPrivateKey"].startswith("-----BEGIN PRIVATE KEY-----")


def test_a_secure_value_inside_structured_config_makes_its_key_secret(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: ml-platform\n")
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n  ml-platform:identity:\n    oidc:\n      clientId: c\n"
        "      clientSecret:\n        secure: v1:AAAAencrypted\n"
    )
    settings = load_stack("s", project_dir=tmp_path)
    assert settings.secret_keys == {"ml-platform:identity"}
    oidc = settings.values["ml-platform:identity"]["oidc"]
    assert oidc == {
        "clientId": "c",
        "clientSecret": "offline-placeholder-for-ml-platform:identity.oidc.clientSecret",
    }


def test_committed_stacks_have_unique_urns_and_no_plain_secret():
    for stack in ("lab", "dev"):
        evaluation = evaluate(stack).check()
        urns = [r.urn for r in evaluation.registrations]
        assert len(urns) == len(set(urns))
        key = load_stack(stack).values["ml-platform:sshPrivateKey"]
        body = key.splitlines()[1]
        for registration in evaluation.registrations:
            assert body not in plain_text(registration.inputs), registration.urn
        for export in evaluation.exports.values():
            assert body not in str(export.value) or export.secret
