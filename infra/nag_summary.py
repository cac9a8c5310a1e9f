"""What cdk-nag found and what of it the stack acknowledges: `make synth`'s summary line.

cdk-nag v3 (a policy-validation plugin) reports only the findings no acknowledgment
covers, and any of them fails the synth. To say how many it checked, the stack is
built a second time, unsynthesized, with its acknowledgments switched off (context
`nag_acknowledgments=false`, infra/constructs/__init__.py): cdk-nag's findings there
are all of them; those the real stack no longer shows are the acknowledged ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def open_findings(scope: IConstruct) -> int:
    """The AwsSolutions findings on `scope`'s tree that no acknowledgment covers (one per resource)."""
    report = AwsSolutionsChecks().validate_scope(scope)
    return sum(len(violation.violating_resources) for violation in report.violations)


@dataclass(frozen=True)
class NagSummary:
    checked: int  # findings of the stack built without acknowledgments
    open: int  # findings of the stack as built: they fail the synth

    @classmethod
    def of(cls, stack_scope: IConstruct, unacknowledged_scope: IConstruct) -> NagSummary:
        """From the stack as built and the same stack built without acknowledgments."""
        return cls(checked=open_findings(unacknowledged_scope), open=open_findings(stack_scope))

    @property
    def acknowledged(self) -> int:
        return self.checked - self.open

    def line(self) -> str:
        text = f"cdk-nag: {self.checked} findings checked, {self.acknowledged} acknowledged"
        if self.open:
            text += f", {self.open} open (listed in the assembly's validation-report.json)"
        return text
