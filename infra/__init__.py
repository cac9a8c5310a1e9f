"""The videohook CDK app: one construct per concern (storage, notifications,
workflow, api), assembled by one stack (`infra.stack.VideohookStack`).

Importing this package first silences the jsii runtime's Node.js support
banner (printed on stderr when `aws_cdk` is imported with an end-of-life or
untested Node.js). Values already set are kept; the end-of-life list is extended.
"""

from __future__ import annotations

import os

# jsii's node runtime honours these (see checkNode in jsii-runtime): the end-of-life
# one is a comma-separated list of Node.js MAJOR versions (so "1" silences nothing
# on Node 20), the other two are on when set to anything.
_EOL_VARIABLE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
_eol_majors = [major.strip() for major in os.environ.get(_EOL_VARIABLE, "").split(",") if major.strip()]
os.environ[_EOL_VARIABLE] = ",".join(dict.fromkeys([*_eol_majors, "18", "20"]))
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
