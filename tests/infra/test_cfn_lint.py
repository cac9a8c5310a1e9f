"""cfn-lint on the synthesized template.

The template comes from the session fixture `synthesized` (tests/infra/conftest.py).
cfn-lint runs with its error and warning rules (informational ones, such as "prefer
Fn::Sub over Fn::Join", only restate how CDK writes templates) plus the experimental
ones, for several regions since the stack is environment-agnostic. Every finding fails
the test unless an entry of `IGNORED_FINDINGS` matches it, and every entry there must
still match something. The template's security properties: test_template_security.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from cfnlint.rules import Match

from tests.infra.cfn import Template, as_list

LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]

# ---- cfn-lint -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ignored:
    """A cfn-lint finding accepted on purpose: which rule, which occurrences, and why."""

    rule_id: str
    matches: Callable[[Match, Template], bool]
    justification: str


def _redundant_role_dependency(match: Match, template: Template) -> bool:
    """W3005 on `DependsOn: <role>` of a resource whose `Role` / `RoleArn` already is `GetAtt <role>.Arn`."""
    path = list(match.path)
    if len(path) != 4 or path[0] != "Resources" or path[2] != "DependsOn":
        return False
    resource = template["Resources"][path[1]]
    target = as_list(resource["DependsOn"])[path[3]]
    if template["Resources"].get(target, {}).get("Type") != "AWS::IAM::Role":
        return False
    properties = resource.get("Properties", {})
    role_ref = {"Fn::GetAtt": [target, "Arn"]}
    return properties.get("Role") == role_ref or properties.get("RoleArn") == role_ref


IGNORED_FINDINGS = [
    Ignored(
        "W3005",
        _redundant_role_dependency,
        # lambda.Function and sfn.StateMachine add an explicit DependsOn on their execution role
        # (next to the role's default policy, which is the dependency that matters: the function
        # must not run before its permissions exist). The role entry duplicates the implicit
        # dependency of the GetAtt; it is harmless, and removing it would mean escape hatches on
        # CDK internals in every construct. Only the role entry is ignored, only where the same
        # resource GetAtts that role's ARN.
        "CDK's explicit DependsOn on the execution role duplicates the GetAtt of its ARN: harmless",
    ),
]


def _describe(match: Match) -> str:
    return f"{match.rule.id} {'/'.join(str(part) for part in match.path)}: {match.message}"


@pytest.fixture(scope="module")
def lint_findings(synthesized: SimpleNamespace) -> list[Match]:
    config = ManualArgs(regions=LINT_REGIONS, include_experimental=True)
    return lint(json.dumps(synthesized.json, indent=1), config=config)


def test_cfn_lint_finds_nothing_beyond_the_justified_ignores(
    lint_findings: list[Match], synthesized: SimpleNamespace
) -> None:
    used: set[int] = set()
    unexpected = []
    for match in lint_findings:
        hits = [
            index
            for index, ignored in enumerate(IGNORED_FINDINGS)
            if ignored.rule_id == match.rule.id and ignored.matches(match, synthesized.json)
        ]
        used.update(hits)
        if not hits:
            unexpected.append(_describe(match))
    assert not unexpected, "cfn-lint findings:\n" + "\n".join(unexpected)
    stale = [ignored.rule_id for index, ignored in enumerate(IGNORED_FINDINGS) if index not in used]
    assert not stale, f"ignore entries that match nothing any more (delete them): {stale}"


def test_ignore_entries_are_narrow_and_justified() -> None:
    for ignored in IGNORED_FINDINGS:
        assert re.fullmatch(r"[EWI]\d{4}", ignored.rule_id), ignored.rule_id
        assert len(ignored.justification) >= 40, ignored


def test_cfn_lint_is_wired_up(synthesized: SimpleNamespace) -> None:
    """The same configuration reports a real error in (a copy of) one of our resources."""
    bucket = json.loads(json.dumps(synthesized.json["Resources"]["VideoBucket"]))
    bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["Status"] = "Maybe"
    bucket["Properties"].pop("LoggingConfiguration", None)  # it refers to the other bucket
    broken = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"VideoBucket": bucket}}
    findings = lint(json.dumps(broken), config=ManualArgs(regions=LINT_REGIONS, include_experimental=True))
    assert [(match.rule.id, match.path[:2]) for match in findings] == [
        ("E3030", ["Resources", "VideoBucket"])
    ]
