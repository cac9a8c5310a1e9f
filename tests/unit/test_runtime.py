"""videohook.runtime: what a process reads of its secrets."""

from __future__ import annotations

import pytest

from videohook.config import Settings
from videohook.models import ProviderName
from videohook.runtime import ProviderNotConfigured, Runtime


def test_a_provider_without_a_key_says_where_the_key_goes() -> None:
    # A fresh deployment's ProviderKeys secret is empty: every job is refused (503) until an
    # operator fills it, and the refusal's message (the API's error message) says how.
    with pytest.raises(ProviderNotConfigured) as caught:
        Runtime(Settings()).provider_key(ProviderName.XAI)
    message = str(caught.value)
    assert "'xai'" in message
    assert "ProviderKeys secret" in message
    assert '{"xai": "<key>"}' in message
    assert "docs/deploy.md" in message
    assert caught.value.provider is ProviderName.XAI
