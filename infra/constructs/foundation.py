"""`Foundation`: what every construct that owns Lambda functions builds on.

The function factory (infra/constructs/__init__.py), the storage (tables, video bucket)
and the notifications (events topic, secrets): `Delivery`, `Workflow` and `Api` take one
`Foundation` instead of the same three arguments each.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.constructs import LambdaFactory
from infra.constructs.notifications import Notifications
from infra.constructs.storage import Storage


@dataclass(frozen=True)
class Foundation:
    factory: LambdaFactory
    storage: Storage
    notifications: Notifications
