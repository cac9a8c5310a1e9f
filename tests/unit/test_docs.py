"""The docs' commands are the ones the code accepts; the snippets that can run here, run.

- every `python` and `sh` block is runnable, a fragment or checked only (tests/docs_text.py
  says which is which): fragments and checked-only blocks parse, and the latter name only
  programs the deploy guide's prerequisites provide;
- docs/webhooks.md: the verification snippet and the whole receiver, fed webhooks that
  videohook's own signer produced (and forged ones);
- `make` targets, `-c` context keys, `CONFIG=` files, stack outputs and logical ids,
  configuration keys, the example error message, the provider-key JSON;
- every `(file.md#anchor)` link, and every alarm's runbook anchor.

The runbook's metric table is checked with the other users of the metric names
(tests/infra/test_observability.py); the `curl` lines and the architecture diagram run
against the local stack, and so does every runnable block: the webhooks.md receiver
verifying a real delivery (tests/e2e/test_docs_local_stack.py).
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.docs_text import DOC_FILES, DOCS, REPO, Block, all_code_blocks, blocks, commands, shell_lines


def all_shell_lines() -> list[str]:
    return [line for path in DOC_FILES for line in shell_lines(path)]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


# ---- every code block: runnable, a fragment, or checked only -----------------------

# What the deploy guide's prerequisites (Python, make, Node.js and npm, the AWS CLI), any POSIX
# shell, the project's `videohook` CLI and jq (README.md's CLI examples) provide.
PROGRAMS = {"aws", "npx", "npm", "make", "python3", "python", "curl", "cp", "export", "jq", "videohook"}
SHELL_OPERATORS = {";", "|", "||", "&&", "&", "(", ")", "$(", "{", "}"}


def programs(block: Block) -> list[str]:
    """The first word of every command of a shell block (variable assignments skipped)."""
    found = []
    for line in commands(block.code):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.wordchars += "$"
        words = list(lexer)
        starts = [0] + [i + 1 for i, word in enumerate(words) if word in SHELL_OPERATORS or word == "$"]
        for start in starts:
            rest = words[start:]
            while rest and re.fullmatch(r"\w+=.*", rest[0]):
                rest = rest[1:]
            if rest and rest[0] not in SHELL_OPERATORS:
                found.append(rest[0])
    return found


def defined_functions(path: Path) -> set[str]:
    return {
        name for code in blocks(path, "sh") for name in re.findall(r"^\s*(\w+)\(\)\s*\{", code, re.MULTILINE)
    }


def kind(block: Block) -> str:
    return "fragment" if block.fragment else "checked only" if block.checked_only else "runnable"


def test_every_program_block_is_runnable_a_fragment_or_checked_only() -> None:
    found: dict[tuple[str, str], str] = {}
    for block in all_code_blocks():
        if block.lang not in ("python", "sh"):
            assert block.lang in ("text", "http", "json", "mermaid"), f"{block.name}: what is `{block.lang}`?"
            continue
        assert block.runnable == (kind(block) == "runnable")
        for needle in ("Webhook(secret)", "serve_forever", "webhook_url", "make deploy", "make test"):
            if needle in block.code:
                found[block.path.name, needle] = kind(block)
    # The classification works: one of each kind, as the docs mean them.
    assert found == {
        ("README.md", "Webhook(secret)"): "fragment",  # names from your web framework
        ("webhooks.md", "serve_forever"): "runnable",  # the receiver
        ("webhooks.md", "webhook_url"): "runnable",  # the job that reports to it
        ("deploy.md", "make deploy"): "checked only",  # needs an AWS account
        ("README.md", "make deploy"): "checked only",
        ("README.md", "make test"): "checked only",  # the whole suite
    }


@pytest.mark.parametrize(
    "block", [b for b in all_code_blocks() if b.lang == "python" and not b.runnable], ids=lambda b: b.name
)
def test_python_fragments_parse(block: Block) -> None:
    ast.parse(block.code, filename=block.name)


@pytest.mark.parametrize(
    "block", [b for b in all_code_blocks() if b.lang == "sh" and not b.runnable], ids=lambda b: b.name
)
def test_shell_blocks_that_cannot_run_here_parse_and_name_known_programs(block: Block) -> None:
    """Blocks that need AWS credentials or a deployment (`aws`, `npx cdk deploy`), download
    (`make layer`, `npm ci`) or run long (`make dev`, `make test`) are not run: bash parses
    them, and every program they call is a prerequisite or a function the same page defines."""
    parsed = subprocess.run(["bash", "-n", "-c", block.code], capture_output=True, text=True)
    assert parsed.returncode == 0, (block.name, parsed.stderr)
    known = PROGRAMS | defined_functions(block.path)
    used = programs(block)
    assert used, block.name
    assert set(used) <= known, (block.name, set(used) - known)


# ---- the webhook receiver guide ----------------------------------------------------


@pytest.fixture
def receiver_guide(monkeypatch) -> dict[str, Any]:
    """docs/webhooks.md's Python blocks, run in order as one module (not as __main__)."""
    from devstack.stack import new_webhook_secret

    secret = new_webhook_secret()
    monkeypatch.setenv("VIDEOHOOK_WEBHOOK_SECRET", secret)
    namespace: dict[str, Any] = {"__name__": "webhooks_guide"}
    code = blocks(DOCS / "webhooks.md", "python")
    assert len(code) >= 2
    exec(compile("\n".join(code), str(DOCS / "webhooks.md"), "exec"), namespace)  # noqa: S102
    namespace["secret"] = secret
    return namespace


def signed(secret: str, event: dict[str, Any], event_id: str = "evt_01test_succeeded") -> tuple[bytes, dict]:
    """A webhook exactly as videohook's sender signs it."""
    from videohook.webhook_signing import sign_event

    body = json.dumps(event).encode()
    return body, sign_event(secret=secret, event_id=event_id, body=body, timestamp=datetime.now(UTC))


EVENT = {
    "type": "video.succeeded",
    "timestamp": "2026-01-01T00:00:00Z",
    "data": {"id": "vid_01test", "status": "succeeded", "video": {"download_url": "https://example/v.mp4"}},
}


def test_the_verification_snippet_accepts_videohooks_signature_and_nothing_else(receiver_guide) -> None:
    verify = receiver_guide["verify"]
    error = receiver_guide["WebhookVerificationError"]
    body, headers = signed(receiver_guide["secret"], EVENT)
    assert verify(body, headers) == EVENT
    with pytest.raises(error):
        verify(body.replace(b"succeeded", b"failed", 1), headers)
    with pytest.raises(error):
        verify(body, {**headers, "webhook-id": "evt_other"})
    stale = datetime.now(UTC) - timedelta(minutes=6)
    from videohook.webhook_signing import sign_event

    with pytest.raises(error):
        verify(
            body, sign_event(secret=receiver_guide["secret"], event_id="evt_x", body=body, timestamp=stale)
        )


def test_the_snippet_accepts_both_secrets_during_a_rotation(receiver_guide) -> None:
    from devstack.stack import new_webhook_secret

    old = receiver_guide["secret"]
    body, headers = signed(f"{new_webhook_secret()} {old}", EVENT)  # "<new> <old>", as the guide says
    assert receiver_guide["verify"](body, headers) == EVENT


def test_the_receiver_verifies_answers_and_processes_each_event_once(receiver_guide, capsys) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver_guide["Receiver"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/videohook"
    try:
        body, headers = signed(receiver_guide["secret"], EVENT)
        headers["content-type"] = "application/json"
        first = httpx.post(url, content=body, headers=headers)
        again = httpx.post(url, content=body, headers=headers)  # a retry: same webhook-id
        forged = httpx.post(url, content=body.replace(b"vid_01test", b"vid_01evil"), headers=headers)
    finally:
        server.shutdown()
        server.server_close()
    assert (first.status_code, again.status_code, forged.status_code) == (204, 204, 401)
    assert capsys.readouterr().out.splitlines() == ["vid_01test ready: https://example/v.mp4"]


def test_the_local_secret_recipe_makes_a_secret_the_signer_and_verifier_accept() -> None:
    (line,) = [line for line in shell_lines(DOCS / "webhooks.md") if "VIDEOHOOK_WEBHOOK_SECRET=" in line]
    program = re.search(r"python3 -c '([^']+)'", line)[1]
    secret = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout
    from standardwebhooks import Webhook

    body, headers = signed(secret.strip(), EVENT)
    assert Webhook(secret.strip()).verify(body, headers) == EVENT


def test_the_readme_verification_line_runs() -> None:
    from devstack.stack import new_webhook_secret

    (code,) = [c for c in blocks(REPO / "README.md", "python") if "standardwebhooks" in c]
    secret = new_webhook_secret()
    request_body, request_headers = signed(secret, EVENT)
    namespace = {"secret": secret, "request_body": request_body, "request_headers": request_headers}
    exec(code, namespace)  # noqa: S102
    assert namespace["event"] == EVENT


# ---- commands and names ---------------------------------------------------------------


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))


def test_make_targets_in_the_docs_exist() -> None:
    used = {m for line in all_shell_lines() for m in re.findall(r"(?:^|&&\s*)make\s+([\w-]+)", line)}
    assert {"setup", "layer", "synth", "dev"} <= used
    assert used <= make_targets()


def test_context_keys_and_config_files_in_the_docs_are_accepted() -> None:
    from infra.config import LEGACY_CONTEXT_KEYS, ConfigError, VideohookConfig

    accepted = {"config", "layer_path", "nag", *LEGACY_CONTEXT_KEYS}
    lines = all_shell_lines()
    copied = {shlex.split(line)[2] for line in lines if line.startswith("cp config/")}
    files = set()
    for line in lines:
        for key, value in re.findall(r"(?:-c|--context)\s+(\w+)=(\S+)", line):
            assert key in accepted, line
            if key == "config":
                files.add(value)
        files |= set(re.findall(r"\bCONFIG=(\S+)", line))
    assert files
    for name in files:
        if name in copied:
            continue  # the docs create it from an example first
        VideohookConfig.load(REPO / name)  # exists, and is valid
    for line in lines:
        if line.startswith("cp config/"):
            VideohookConfig.load(REPO / shlex.split(line)[1])
    with pytest.raises(ConfigError):
        VideohookConfig.load(REPO / "config" / "nope.json")


def test_stack_outputs_and_logical_ids_named_in_the_docs_exist() -> None:
    stack_source = (REPO / "infra" / "stack.py").read_text()
    outputs = set(re.findall(r'CfnOutput\(\s*self,\s*"(\w+)"', stack_source))
    # Logical ids set by hand, directly or through the builders that set them (state machine,
    # table, bucket, secret).
    pattern = (
        r'set_logical_id\([^,]+,\s*"(\w+)"\)'
        r'|\b(?:standard_state_machine|table|_private_bucket|_operator_rotated_secret)\(\s*self,\s*"(\w+)"'
    )
    logical_ids = {
        name
        for path in (REPO / "infra").rglob("*.py")
        for names in re.findall(pattern, path.read_text())
        for name in names
        if name
    }
    text = "\n".join(path.read_text() for path in DOC_FILES)
    used_outputs = set(re.findall(r"\$\(out (\w+)\)|`out (\w+)`|^out (\w+)", text, re.MULTILINE))
    used_outputs = {name for names in used_outputs for name in names if name}
    used_resources = set(re.findall(r"\$\(resource (\w+)\)|--logical-resource-id (\w+)", text))
    used_resources = {name for names in used_resources for name in names if name}
    assert {"ApiUrl", "ApiKeyId", "ProviderKeysSecretArn", "WebhookSecretArn", "OpsTopicArn"} <= used_outputs
    # The pattern works: one id set by each way.
    assert {
        "JobsTable",
        "StateMachine",
        "ReconcileSubmissionsSchedule",
        "VideoBucket",
        "WebhookSecret",
    } <= logical_ids
    assert used_outputs <= outputs
    assert {"WebhookDeadLetterQueue", "DeliveryStateMachine", "UsagePlan"} <= used_resources
    assert used_resources <= logical_ids


def test_the_provider_keys_json_uses_the_secrets_key_names() -> None:
    from infra.constructs.notifications import PROVIDER_KEY_NAMES

    (line,) = [line for line in shell_lines(DOCS / "deploy.md") if "put-secret-value" in line]
    keys = json.loads(re.search(r"--secret-string '([^']+)'", line)[1])
    assert set(keys) <= set(PROVIDER_KEY_NAMES)


def test_the_configuration_table_lists_every_key() -> None:
    from infra.config import VideohookConfig

    table = (DOCS / "deploy.md").read_text().split("## 3.")[1].split("## 4.")[0]
    documented = set(re.findall(r"^\| `([\w.]+)`|, `([\w.]+)`", table, re.MULTILINE))
    documented_keys = {key for pair in documented for key in pair if key}
    expected = set()
    for name, field in VideohookConfig.model_fields.items():
        if field.exclude:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            expected |= {f"{name}.{sub}" for sub in annotation.model_fields}
        else:
            expected.add(name)
    assert expected <= documented_keys, expected - documented_keys


def test_the_example_error_message_is_what_synth_prints(tmp_path: Path) -> None:
    from infra.config import ConfigError, VideohookConfig

    (example,) = [c for c in blocks(DOCS / "deploy.md", "text") if "invalid configuration" in c]
    broken = tmp_path / "prod.json"
    broken.write_text(json.dumps({"video_retention_days": 0, "alarms": {"emails": ["ops@example.com"]}}))
    with pytest.raises(ConfigError) as caught:
        VideohookConfig.load(broken)
    documented = example.strip().splitlines()
    printed = f"infra/app.py: {caught.value}".replace(str(broken), "config/prod.json").splitlines()
    assert printed == documented


# ---- links, anchors, alarms --------------------------------------------------------


def test_links_between_docs_resolve_to_headings() -> None:
    for path in DOC_FILES:
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?#([\w-]+)\)", path.read_text()):
            linked = (path.parent / target).resolve() if target else path
            assert linked.is_file(), (path.name, target)
            headings = {slug(h) for h in re.findall(r"^#+ (.+)$", linked.read_text(), re.MULTILINE)}
            assert anchor in headings, (path.name, target, anchor)


def test_every_alarm_points_at_a_section_of_the_runbook() -> None:
    source = (REPO / "infra" / "constructs" / "observability.py").read_text()
    anchors = set(re.findall(r'anchor="([\w-]+)"', source))
    headings = {slug(h) for h in re.findall(r"^## (.+)$", (DOCS / "runbook.md").read_text(), re.MULTILINE)}
    assert len(anchors) == 6
    assert anchors <= headings


def test_package_json_pins_the_cdk_cli() -> None:
    package = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    version = package["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "pin an exact version"
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == version
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]


def test_one_deploy_path_the_pinned_cli_through_make() -> None:
    """The docs deploy only with `make deploy`: `npm ci`, then the lockfile's CDK CLI deploys
    the cdk.out that `make synth` made of CONFIG."""
    config = "config/staging.example.json"
    dry_run = subprocess.run(  # -n: print the commands, run none; -B: as on a fresh clone
        ["make", "-nB", "deploy", f"CONFIG={config}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    dry_run = [line.strip() for line in dry_run]
    synth = dry_run.index(f"CDK_OUTDIR=cdk.out .venv/bin/python infra/app.py -c config={config}")
    npm_ci = dry_run.index("npm ci --no-audit --no-fund")
    deploy = dry_run.index("npx --no-install cdk deploy --app cdk.out")
    assert synth < deploy and npm_ci < deploy
    lines = all_shell_lines()
    assert any(line.startswith("make deploy CONFIG=") for line in shell_lines(DOCS / "deploy.md"))
    assert any(line.startswith("make deploy CONFIG=") for line in shell_lines(REPO / "README.md"))
    direct = [line for line in lines if re.search(r"(?:^|[;&|(]\s*)(?:npx|npm|cdk)\b", line)]
    assert not direct, "the docs run the CDK CLI through make"
