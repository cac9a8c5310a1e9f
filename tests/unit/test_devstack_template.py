"""TemplateResolver: local names, ARNs and CloudFormation intrinsics over a small hand-written template."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from devstack.template import ACCOUNT, TemplateResolver, _physical_name, _s3_lifecycle

REGION = "eu-west-1"
STACK = "VideohookDev"
ENDPOINT = "http://127.0.0.1:5000"

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "local"},
        "NoDefault": {"Type": "String"},
    },
    "Resources": {
        "JobsTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]},
        },
        "VideoBucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "EventsTopic": {"Type": "AWS::SNS::Topic"},
        "DeadLetters": {"Type": "AWS::SQS::Queue"},
        "ProviderKeys": {"Type": "AWS::SecretsManager::Secret"},
        "PollFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Handler": "handlers.poll_provider.handler"},
        },
        "StateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}},
        "PollRole": {"Type": "AWS::IAM::Role", "Properties": {}},
    },
}


@pytest.fixture
def resolver() -> TemplateResolver:
    return TemplateResolver(TEMPLATE, region=REGION, stack_name=STACK, endpoint=ENDPOINT)


def test_only_supported_types_are_described(resolver: TemplateResolver) -> None:
    assert set(resolver.resources) == set(TEMPLATE["Resources"]) - {"PollRole"}
    assert [r.logical_id for r in resolver.of_type("AWS::SNS::Topic")] == ["EventsTopic"]
    assert resolver.of_type("AWS::IAM::Role") == []


# ---- Ref -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical_id", "expected"),
    [
        ("JobsTable", f"{STACK}-JobsTable"),
        ("VideoBucket", "videohookdev-videobucket"),
        ("EventsTopic", f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-EventsTopic"),
        ("PollFunction", f"{STACK}-PollFunction"),
        ("StateMachine", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-StateMachine"),
        ("DeadLetters", f"{ENDPOINT}/{ACCOUNT}/{STACK}-DeadLetters"),
    ],
)
def test_ref_of_each_resource_type(resolver: TemplateResolver, logical_id: str, expected: str) -> None:
    assert resolver.resolve({"Ref": logical_id}) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AWS::Region", REGION),
        ("AWS::AccountId", ACCOUNT),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::StackName", STACK),
    ],
)
def test_pseudo_parameters(resolver: TemplateResolver, name: str, expected: str) -> None:
    assert resolver.resolve({"Ref": name}) == expected


def test_parameter_default(resolver: TemplateResolver) -> None:
    assert resolver.resolve({"Ref": "Stage"}) == "local"


@pytest.mark.parametrize("name", ["Nowhere", "PollRole", "NoDefault", "AWS::NotificationARNs"])
def test_unknown_ref_raises_key_error_naming_it(resolver: TemplateResolver, name: str) -> None:
    with pytest.raises(KeyError, match=re.escape(name)):
        resolver.resolve({"Ref": name})


def test_unknown_ref_inside_a_structure_raises(resolver: TemplateResolver) -> None:
    with pytest.raises(KeyError, match="Missing"):
        resolver.resolve({"Environment": {"Variables": {"A": {"Ref": "Missing"}}}})


# ---- Fn::GetAtt --------------------------------------------------------------------


@pytest.mark.parametrize(
    "get_att",
    [["JobsTable", "Arn"], "JobsTable.Arn"],
    ids=["list", "dotted"],
)
def test_get_att_forms(resolver: TemplateResolver, get_att: Any) -> None:
    assert (
        resolver.resolve({"Fn::GetAtt": get_att})
        == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-JobsTable"
    )


@pytest.mark.parametrize(
    ("get_att", "expected"),
    [
        (["VideoBucket", "Arn"], "arn:aws:s3:::videohookdev-videobucket"),
        (["EventsTopic", "TopicName"], f"{STACK}-EventsTopic"),
        (["DeadLetters", "Arn"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-DeadLetters"),
        (["DeadLetters", "QueueUrl"], f"{ENDPOINT}/{ACCOUNT}/{STACK}-DeadLetters"),
        (["PollFunction", "Arn"], f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-PollFunction"),
        ("StateMachine.Name", f"{STACK}-StateMachine"),
    ],
)
def test_get_att_values(resolver: TemplateResolver, get_att: Any, expected: str) -> None:
    assert resolver.resolve({"Fn::GetAtt": get_att}) == expected


@pytest.mark.parametrize("get_att", [["JobsTable", "StreamArn"], "Nowhere.Arn", ["PollRole", "Arn"]])
def test_unknown_get_att_raises(resolver: TemplateResolver, get_att: Any) -> None:
    with pytest.raises(KeyError):
        resolver.resolve({"Fn::GetAtt": get_att})


# ---- Fn::Join / Fn::Sub / Fn::Select / Fn::Split ------------------------------------


def test_nested_join(resolver: TemplateResolver) -> None:
    value = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:::",
                {"Fn::Join": ["/", [{"Ref": "JobsTable"}, "index", "by_tenant"]]},
                "#",
                {"Fn::GetAtt": ["PollFunction", "Arn"]},
            ],
        ]
    }
    assert resolver.resolve(value) == (
        f"arn:aws:states:::{STACK}-JobsTable/index/by_tenant#"
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-PollFunction"
    )


def test_join_of_a_resolved_list(resolver: TemplateResolver) -> None:
    value = {"Fn::Join": [",", {"Fn::Split": ["-", "a-b-c"]}]}
    assert resolver.resolve(value) == "a,b,c"


def test_sub_with_pseudo_parameters_and_attributes(resolver: TemplateResolver) -> None:
    text = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:x/${JobsTable}|${PollFunction.Arn}"
    assert resolver.resolve({"Fn::Sub": text}) == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:x/{STACK}-JobsTable|"
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-PollFunction"
    )


def test_sub_with_explicit_variables(resolver: TemplateResolver) -> None:
    value = {
        "Fn::Sub": [
            '{"Resource": "${poll}", "Table": "${table}", "Region": "${AWS::Region}", "Lit": "${literal}"}',
            {
                "poll": {"Fn::GetAtt": ["PollFunction", "Arn"]},
                "table": {"Ref": "JobsTable"},
                "literal": "plain",
            },
        ]
    }
    assert json.loads(resolver.resolve(value)) == {
        "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-PollFunction",
        "Table": f"{STACK}-JobsTable",
        "Region": REGION,
        "Lit": "plain",
    }


def test_sub_variables_shadow_resources(resolver: TemplateResolver) -> None:
    assert resolver.resolve({"Fn::Sub": ["${JobsTable}", {"JobsTable": "shadowed"}]}) == "shadowed"


def test_sub_unknown_name_raises(resolver: TemplateResolver) -> None:
    with pytest.raises(KeyError, match="Missing"):
        resolver.resolve({"Fn::Sub": "x-${Missing}"})


def test_sub_leaves_jsonpath_dollars_alone(resolver: TemplateResolver) -> None:
    assert resolver.resolve({"Fn::Sub": '{"InputPath": "$.job_id", "R": "${AWS::Region}"}'}) == (
        f'{{"InputPath": "$.job_id", "R": "{REGION}"}}'
    )


def test_sub_escaped_literal(resolver: TemplateResolver) -> None:
    assert resolver.resolve({"Fn::Sub": "${!Literal}-${AWS::Region}"}) == f"${{Literal}}-{REGION}"


def test_select_and_split(resolver: TemplateResolver) -> None:
    arn = {"Fn::GetAtt": ["StateMachine", "Arn"]}
    assert resolver.resolve({"Fn::Select": [6, {"Fn::Split": [":", arn]}]}) == f"{STACK}-StateMachine"
    assert resolver.resolve({"Fn::Select": ["3", {"Fn::Split": [":", arn]}]}) == REGION
    assert resolver.resolve({"Fn::Split": ["/", {"Fn::GetAtt": ["DeadLetters", "QueueUrl"]}]})[-1] == (
        f"{STACK}-DeadLetters"
    )
    assert resolver.resolve({"Fn::Select": [1, ["a", {"Ref": "AWS::Region"}]]}) == REGION


def test_resolve_walks_dicts_and_lists(resolver: TemplateResolver) -> None:
    value = {
        "Variables": {
            "VIDEOHOOK_JOBS_TABLE": {"Ref": "JobsTable"},
            "VIDEOHOOK_TOPIC_ARN": {"Ref": "EventsTopic"},
            "COUNT": 3,
            "FLAG": True,
        },
        "List": [{"Ref": "AWS::Region"}, "x", None],
    }
    assert resolver.resolve(value) == {
        "Variables": {
            "VIDEOHOOK_JOBS_TABLE": f"{STACK}-JobsTable",
            "VIDEOHOOK_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-EventsTopic",
            "COUNT": 3,
            "FLAG": True,
        },
        "List": [REGION, "x", None],
    }


def test_resolve_does_not_mutate_the_template(resolver: TemplateResolver) -> None:
    before = json.dumps(TEMPLATE, sort_keys=True)
    resolver.resolve(TEMPLATE["Resources"])
    assert json.dumps(TEMPLATE, sort_keys=True) == before


# ---- physical names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "logical_id"),
    [
        ("VideohookDev", "VideoBucket"),
        ("Videohook_Stack.Dev", "VideosBucketA1B2C3D4"),
        ("A" * 40, "VeryLongLogicalIdForTheVideoBucket0123456789ABCDEF"),
    ],
)
def test_bucket_physical_names_are_valid(stack: str, logical_id: str) -> None:
    name = _physical_name(stack, logical_id, "AWS::S3::Bucket")
    assert name == name.lower()
    assert 3 <= len(name) <= 63
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", name), name


def test_other_physical_names_keep_case_and_fit_lambda_limit() -> None:
    assert _physical_name("Stack", "JobsTable", "AWS::DynamoDB::Table") == "Stack-JobsTable"
    assert len(_physical_name("S" * 50, "F" * 50, "AWS::Lambda::Function")) == 64


def test_resolver_bucket_ref_is_lowercase() -> None:
    template = {"Resources": {"VideosBucketABCDEF12": {"Type": "AWS::S3::Bucket"}}}
    resolver = TemplateResolver(template, region=REGION, stack_name="My" * 40, endpoint=ENDPOINT)
    name = resolver.resolve({"Ref": "VideosBucketABCDEF12"})
    assert name == name.lower() and len(name) <= 63


# ---- _s3_lifecycle -----------------------------------------------------------------


def test_s3_lifecycle_translation() -> None:
    cfn = {
        "Rules": [
            {
                "Id": "expire-videos",
                "Status": "Enabled",
                "Prefix": "videos/",
                "ExpirationInDays": 7,
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            },
            {"Status": "Disabled", "ExpirationInDays": "30"},
            {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": "2"}},
        ]
    }
    assert _s3_lifecycle(cfn) == {
        "Rules": [
            {
                "ID": "expire-videos",
                "Status": "Enabled",
                "Filter": {"Prefix": "videos/"},
                "Expiration": {"Days": 7},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            },
            {"ID": "rule-1", "Status": "Disabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}},
            {
                "ID": "rule-2",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
            },
        ]
    }


def test_s3_lifecycle_without_rules() -> None:
    assert _s3_lifecycle({}) == {"Rules": []}
