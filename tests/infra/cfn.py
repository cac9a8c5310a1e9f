"""Reading a synthesized CloudFormation template in the infrastructure tests."""

from __future__ import annotations

from typing import Any

Template = dict[str, Any]


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id."""
    return {key: value for key, value in template["Resources"].items() if value["Type"] == type_}


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one item or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """A CloudFormation string expression as text: literal parts joined, tokens as ${LogicalId[.Attr]}
    (pseudo parameters as ${AWS::Region}...), `Fn::Select` of a split as ${Select[i]<text>}."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if "Ref" in value:
        return f"${{{value['Ref']}}}"
    if "Fn::GetAtt" in value:
        return f"${{{'.'.join(value['Fn::GetAtt'])}}}"
    if "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return f"${{Select[{index}]{render(items['Fn::Split'][1])}}}"
    raise AssertionError(f"unexpected intrinsic {value!r}")
