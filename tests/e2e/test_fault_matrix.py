"""Every sandbox fault mode through the local stack: what the caller and the provider end up with.

The modes (tests/e2e/fault_modes.py) run together, one batch per wire contract; each case
then checks its own job: final status and error code, exactly one terminal webhook of the
matching type, the submissions the provider accepted (none a duplicate), one S3 object for
a success and none otherwise, and no multipart upload left open.
"""

from __future__ import annotations

import pytest

from tests.e2e.fault_modes import MODES, FaultMode, Outcome, describe, run_modes

pytestmark = pytest.mark.e2e
# Per batch (one per contract); its slowest mode takes about 15 s.
BATCH_TIMEOUT = 90


@pytest.fixture(scope="module")
def outcomes(local_stack, module_receiver) -> dict[str, Outcome]:
    results = run_modes(local_stack, module_receiver, MODES, timeout=BATCH_TIMEOUT)
    print("\n" + describe(results))
    return {outcome.mode.name: outcome for outcome in results}


@pytest.mark.parametrize("mode", [mode.param() for mode in MODES])
def test_fault_mode_ends_as_a_caller_expects(outcomes, mode: FaultMode):
    outcome = outcomes[mode.name]
    assert outcome.fault_injected, f"the sandbox never injected {mode.fault}"
    assert outcome.observed() == mode.expected()
    if mode.status is None:
        assert outcome.job_records == 0  # a refused submit leaves no job behind
