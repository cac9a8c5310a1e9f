"""devstack.asl_programs: each definition parsed once, every execution its own program."""

from __future__ import annotations

import json

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

from devstack import asl_programs

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@pytest.fixture
def parses(monkeypatch):
    """Count the real parser's runs; start with nothing kept."""
    calls: list[str] = []
    real = asl_programs._parse

    def counting(definition: str):
        calls.append(definition)
        return real(definition)

    monkeypatch.setattr(asl_programs, "_parse", counting)
    monkeypatch.setattr(asl_programs, "_parsed", {})
    return calls


def test_a_definition_is_parsed_once_and_each_caller_gets_its_own_program(parses) -> None:
    first, tree = asl_programs.parse_once(DEFINITION)
    second, same_tree = asl_programs.parse_once(DEFINITION)
    assert parses == [DEFINITION]
    assert first is not second
    assert type(first) is type(second)
    assert first.start_at.start_at_name == second.start_at.start_at_name == "Done"
    assert tree is same_tree


def test_a_bad_definition_raises_every_time_and_is_not_kept(parses) -> None:
    for _ in range(2):
        with pytest.raises(ASLParserException):
            asl_programs.parse_once("{not a state machine")
    assert len(parses) == 2


def test_install_puts_it_in_the_interpreters_path(monkeypatch) -> None:
    monkeypatch.setattr(AmazonStateLanguageParser, "parse", AmazonStateLanguageParser.parse)
    asl_programs.install()
    assert AmazonStateLanguageParser.parse is asl_programs.parse_once
