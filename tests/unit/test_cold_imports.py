"""What a handler's cold start imports: none of the heavy modules that only some invocations need.

Timing is `make bench`'s job (bench/cold_start.py); these tests keep the structure that
makes it lean: the X-Ray SDK comes with the tracer at the first invocation, events are
validated with the models themselves (not Powertools' parser), AWS and HTTP clients are
created when first used, the OpenAPI models only when the document is asked for. Each
import runs in a fresh interpreter, where nothing else has loaded those modules yet.
"""

from __future__ import annotations

import pytest

from bench.cold_start import handler_modules
from bench.procs import REPO
from tests.fakes import run_python

FUNCTIONS = REPO / "functions"
HEAVY = (
    "aws_xray_sdk",  # ~0.3-0.5 s with the botocore session it builds
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.event_handler.openapi.models",
    "boto3",
    "httpx",
)
# Powertools' event_handler package (every resolver: AppSync's brings asyncio, ssl and
# subprocess) and its event classes are the api's, as Powertools ships them: the state
# machine's and the scheduled handlers load none of it.
RESOLVERS = (
    "asyncio",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes.kafka_event",
)


@pytest.mark.parametrize("module", handler_modules())
def test_importing_a_handler_loads_no_heavy_module(module: str) -> None:
    heavy = HEAVY if module == "handlers.api" else HEAVY + RESOLVERS
    loaded = run_python(
        f"import json, sys; import {module}; "
        f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    assert loaded == [], f"{module} imports {loaded} at import time"


MODELS_BUILT = """
import json, sys
import handlers.{handler}
from videohook.models import Model

def built():
    seen, stack = set(), [Model]
    while stack:
        for model in stack.pop().__subclasses__():
            seen.add(model)
            stack.append(model)
    return sorted(m.__name__ for m in seen if m.__pydantic_complete__)

at_import = built()
from videohook.models import CreateVideoRequest
CreateVideoRequest.model_validate({{"prompt": "A red fox"}})
print(json.dumps({{"at_import": at_import, "after_one_validation": built()}}))
"""


@pytest.mark.parametrize("handler", ["api", "poll_provider"])
def test_a_model_is_built_at_its_first_use_not_at_import(handler: str) -> None:
    """Each of the twenty-odd models costs its validator's build: a cold start pays for those
    its invocation uses."""
    seen = run_python(MODELS_BUILT.format(handler=handler))
    assert seen["at_import"] == []
    assert seen["after_one_validation"] == ["CreateVideoRequest"]
