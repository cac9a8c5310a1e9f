"""The functions' environment in the local stack: the template's, with the operator's settings over it."""

from __future__ import annotations

from typing import Any

from devstack.function_environment import deployment_settings, functions_environment

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "ApiFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "handlers.api.handler",
                "Environment": {
                    "Variables": {
                        "VIDEOHOOK_JOB_DEADLINE_SECONDS": "3600",
                        "VIDEOHOOK_DEFAULT_MODEL": "grok-imagine-video",
                        "POWERTOOLS_LOG_LEVEL": "INFO",
                        "VIDEOHOOK_JOBS_TABLE": {"Ref": "JobsTable"},
                        "VIDEOHOOK_TOPIC_ARN": {"Ref": "Topic"},
                    }
                },
            },
        },
        "PollFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "handlers.poll_provider.handler",
                "Environment": {"Variables": {"VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS": "3600"}},
            },
        },
        "JobsTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    }
}
RESOLVED = {
    "handlers.api.handler": {
        "VIDEOHOOK_JOB_DEADLINE_SECONDS": "3600",
        "VIDEOHOOK_DEFAULT_MODEL": "grok-imagine-video",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "VIDEOHOOK_JOBS_TABLE": "Videohook-JobsTable",
        "VIDEOHOOK_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:Videohook-Topic",
    },
    "handlers.poll_provider.handler": {"VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS": "3600"},
}


def test_the_deployment_settings_are_the_templates_plain_values() -> None:
    assert deployment_settings(TEMPLATE) == {
        "VIDEOHOOK_JOB_DEADLINE_SECONDS",
        "VIDEOHOOK_DEFAULT_MODEL",
        "POWERTOOLS_LOG_LEVEL",
        "VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS",
    }


def test_a_setting_in_the_environment_reaches_the_functions() -> None:
    operator = {
        "VIDEOHOOK_JOB_DEADLINE_SECONDS": "900",
        "VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS": "120",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "VIDEOHOOK_DEFAULT_MODEL": "",  # set but empty: the template's value stays
    }
    environment = functions_environment(TEMPLATE, RESOLVED, operator=operator, stack={})
    assert environment["VIDEOHOOK_JOB_DEADLINE_SECONDS"] == "900"
    assert environment["VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS"] == "120"
    assert environment["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert environment["VIDEOHOOK_DEFAULT_MODEL"] == "grok-imagine-video"


def test_the_local_resources_and_the_stacks_own_choices_are_kept() -> None:
    operator = {"VIDEOHOOK_JOBS_TABLE": "someone-elses-table", "VIDEOHOOK_JOB_DEADLINE_SECONDS": "900"}
    stack = {"VIDEOHOOK_TIME_SCALE": "0.5", "VIDEOHOOK_JOB_DEADLINE_SECONDS": "60"}
    environment = functions_environment(TEMPLATE, RESOLVED, operator=operator, stack=stack)
    assert environment["VIDEOHOOK_JOBS_TABLE"] == "Videohook-JobsTable"
    assert environment["VIDEOHOOK_TIME_SCALE"] == "0.5"
    assert environment["VIDEOHOOK_JOB_DEADLINE_SECONDS"] == "60"
    assert functions_environment(TEMPLATE, RESOLVED, operator={}, stack={}) == {
        **RESOLVED["handlers.api.handler"],
        **RESOLVED["handlers.poll_provider.handler"],
    }
