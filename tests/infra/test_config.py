"""infra/config.py: the typed configuration, its files, and `make synth` for a second environment."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from infra.config import (
    DEFAULT_CONFIG_FILE,
    LEGACY_CONTEXT_KEYS,
    ConfigError,
    VideohookConfig,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGING_CONFIG = "config/staging.example.json"
STAGING = REPO_ROOT / STAGING_CONFIG


def app_env(outdir: Path, layer: Path) -> dict[str, str]:
    """The environment of `make synth`: no CDK CLI, no AWS credentials, CDK_OUTDIR set."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDK_", "AWS_", "JSII_"))}
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps({"layer_path": str(layer)})
    return env


BROKEN = {"video_retention_days": 0, "alarms": {"emails": ["ops@example.com"]}}


class AppRuns:
    """`make synth CONFIG=...` for the staging example and for a broken file: infra/app.py run
    as subprocesses from the repo root, with an empty layer directory and no AWS credentials.

    Started when pytest imports this module, at collection: the synths (CPU-bound, ~20 s)
    then run while the tests collected before this module (the end-to-end ones, which
    mostly wait) run. Killed and cleaned up at exit if no test waited for them."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="videohook-app-runs-"))
        (self.workdir / "layer" / "python").mkdir(parents=True)
        self.broken_file = self.workdir / "broken.json"
        self.broken_file.write_text(json.dumps(BROKEN))
        self.staging_outdir = self.workdir / "staging" / "cdk.out"
        self.broken_outdir = self.workdir / "broken" / "cdk.out"
        self.staging = self._start("staging", STAGING_CONFIG, self.staging_outdir)
        self.broken = self._start("broken", self.broken_file, self.broken_outdir)
        atexit.register(self.stop)

    def _start(self, name: str, config: Path | str, outdir: Path) -> subprocess.Popen[bytes]:
        with (
            (self.workdir / f"{name}.out").open("wb") as out,
            (self.workdir / f"{name}.err").open("wb") as err,
        ):
            return subprocess.Popen(
                [sys.executable, "infra/app.py", "-c", f"config={config}"],
                cwd=REPO_ROOT,
                env=app_env(outdir, self.workdir / "layer"),
                stdout=out,
                stderr=err,
            )

    def wait(self, name: str) -> tuple[int, str]:
        returncode = getattr(self, name).wait(timeout=300)
        return returncode, (self.workdir / f"{name}.err").read_text()

    def stop(self) -> None:
        for process in (self.staging, self.broken):
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


APP_RUNS = AppRuns()


@pytest.fixture(scope="module")
def staging_synth() -> SimpleNamespace:
    returncode, stderr = APP_RUNS.wait("staging")
    template_file = APP_RUNS.staging_outdir / "VideohookStaging.template.json"
    template = json.loads(template_file.read_text()) if template_file.is_file() else {}
    return SimpleNamespace(
        returncode=returncode, stderr=stderr, outdir=APP_RUNS.staging_outdir, template=template
    )


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "env.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# ---- the model and its files ------------------------------------------------------


def test_default_file_spells_out_every_default() -> None:
    """config/default.json is the reference an operator copies: it must equal the model's defaults."""
    assert json.loads(DEFAULT_CONFIG_FILE.read_text()) == VideohookConfig().model_dump(mode="json")
    assert VideohookConfig.load() == VideohookConfig()


def test_staging_example_is_a_different_valid_environment() -> None:
    staging = VideohookConfig.load(STAGING)
    assert staging.stack_name == "VideohookStaging"
    assert staging.video_retention_days == 7 and staging.job_record_retention_days == 14
    assert staging.alarms.email == ["ops-staging@example.com"]
    assert staging.alarms.failed_job_rate_min_jobs == 5  # not in the file: the default
    assert staging.lambda_environment() == {
        "VIDEOHOOK_PROVIDER": "cometapi",
        "VIDEOHOOK_DEFAULT_MODEL": "grok-imagine-video-1.5",
        "VIDEOHOOK_JOB_DEADLINE_SECONDS": "1800",
        "VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS": "900",
        "VIDEOHOOK_JOB_RECORD_RETENTION_DAYS": "14",
        "VIDEOHOOK_ALLOWED_WEBHOOK_SCHEMES": "https",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }


def test_the_lambda_environment_uses_the_names_settings_reads() -> None:
    """Where videohook.config.Settings already reads a variable, the stack sets that one."""
    from videohook.config import Settings

    settings = Settings.from_env(VideohookConfig.load(STAGING).lambda_environment())
    assert settings.provider.value == "cometapi"
    assert settings.default_model == "grok-imagine-video-1.5"
    assert settings.job_deadline_seconds == 1800
    assert settings.download_url_ttl_seconds == 900


def test_a_partial_file_is_merged_over_the_defaults(tmp_path: Path) -> None:
    config = VideohookConfig.load(write(tmp_path, {"api": {"key_quota_per_day": 5}}))
    assert config.api.key_quota_per_day == 5
    assert config.api.key_rate_limit == 10 and config.video_retention_days == 30
    assert config.api_limits.key_quota_per_day == 5


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"video_retension_days": 7}, "video_retension_days: unknown key"),
        ({"video_retention_days": 0}, "video_retention_days: Input should be greater than or equal to 1"),
        ({"provider": "openai"}, "provider: Input should be 'cometapi', 'xai', 'aimlapi' or 'sandbox'"),
        ({"api": {"key_rate_limit": "fast"}}, "api.key_rate_limit: Input should be a valid number"),
        ({"api": {"quota": 5}}, "api.quota: unknown key"),
        ({"alarms": {"email": ["ops"]}}, "alarms.email.0: not an e-mail address"),
        (
            {"allowed_webhook_schemes": ["ftp"]},
            "allowed_webhook_schemes.0: Input should be 'https' or 'http'",
        ),
        ({"allowed_webhook_schemes": []}, "allowed_webhook_schemes: List should have at least 1 item"),
        ({"download_url_ttl_seconds": 8 * 86400}, "download_url_ttl_seconds: Input should be less than"),
        (
            {"job_deadline_seconds": 86400},
            "job_deadline_seconds: Input should be less than or equal to 82800",
        ),
        (
            {"job_record_retention_days": 7},
            "job_record_retention_days (7) is shorter than video_retention_days",
        ),
        ({"stack_name": "video hook"}, "stack_name: a CloudFormation stack name"),
        ({"log_level": "verbose"}, "log_level: Input should be"),
        ({"snap_start": "sometimes"}, "snap_start: Input should be a valid boolean"),
        ({"layer_path": "/tmp"}, "layer_path: a build setting"),
        ([1, 2], "must hold a JSON object"),
        ('{"provider": "xai",}', "is not valid JSON: "),
    ],
)
def test_invalid_configuration_names_the_bad_key(tmp_path: Path, data: Any, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        VideohookConfig.load(write(tmp_path, data))
    assert named in str(caught.value)
    assert str(tmp_path / "env.json") in str(caught.value)


def test_every_problem_is_listed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        VideohookConfig.load(write(tmp_path, {"video_retention_days": -1, "provider": "x", "colour": "red"}))
    message = str(caught.value)
    assert [line.split(":")[0].strip() for line in message.splitlines()[1:]] == [
        "provider",
        "video_retention_days",
        "colour",
    ]


def test_snap_start_is_an_option_off_by_default(tmp_path: Path) -> None:
    assert VideohookConfig().snap_start is False
    assert VideohookConfig.load(write(tmp_path, {"snap_start": True})).snap_start is True


def test_no_alarm_recipients_is_a_warning_at_synth(tmp_path: Path) -> None:
    (warning,) = VideohookConfig().operator_warnings()  # config/default.json names nobody
    assert warning.startswith("alarms.email is empty") and "nobody is told" in warning
    told = VideohookConfig.load(write(tmp_path, {"alarms": {"email": ["ops@example.com"]}}))
    assert told.operator_warnings() == []


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        VideohookConfig.load(tmp_path / "nope.json")


def test_older_context_keys_still_override_the_file() -> None:
    config = VideohookConfig.load(
        STAGING,
        overrides={"provider": "sandbox", "api_quota_per_day": "42", "video_retention_days": None},
    )
    assert (config.provider, config.api.key_quota_per_day, config.video_retention_days) == ("sandbox", 42, 7)
    assert config.api.key_rate_limit == 2  # the file's
    with pytest.raises(ConfigError, match=r"api\.key_burst_limit \(from -c api_burst_limit\)"):
        VideohookConfig.load(None, overrides={"api_burst_limit": "0"})
    assert set(LEGACY_CONTEXT_KEYS) >= {"provider", "video_retention_days", "api_quota_per_day", "stack_name"}


def test_from_context_reads_config_and_layer_path(tmp_path: Path) -> None:
    from aws_cdk import App

    app = App(context={"config": str(STAGING), "layer_path": str(tmp_path), "stack_name": "Other"})
    config = VideohookConfig.from_context(app.node)
    assert (config.stack_name, config.provider, config.layer_path) == ("Other", "cometapi", tmp_path)


# ---- make synth with a second environment's file ----------------------------------


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def test_make_synth_with_the_staging_file_works(staging_synth: SimpleNamespace) -> None:
    assert staging_synth.returncode == 0, staging_synth.stderr[-4000:]
    manifest = json.loads((staging_synth.outdir / "manifest.json").read_text())
    assert manifest["artifacts"]["VideohookStaging"]["type"] == "aws:cloudformation:stack"


def test_staging_lifecycle_ttl_and_function_environment(staging_synth: SimpleNamespace) -> None:
    template = staging_synth.template
    bucket = template["Resources"]["VideoBucket"]["Properties"]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-videos"] == {
        "Id": "expire-videos",
        "Prefix": "videos/",
        "ExpirationInDays": 7,
        "Status": "Enabled",
    }
    jobs = template["Resources"]["JobsTable"]["Properties"]
    assert jobs["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    functions = resources(template, "AWS::Lambda::Function")
    assert functions
    for logical_id, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        for name, value in VideohookConfig.load(STAGING).lambda_environment().items():
            assert variables[name] == value, (logical_id, name)


def test_staging_api_limits_and_tags(staging_synth: SimpleNamespace) -> None:
    template = staging_synth.template
    (plan,) = resources(template, "AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Throttle"] == {"RateLimit": 2, "BurstLimit": 5}
    assert plan["Properties"]["Quota"] == {"Limit": 500, "Period": "DAY"}
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    (settings,) = stage["Properties"]["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (10, 20)
    for resource in (template["Resources"]["JobsTable"], template["Resources"]["VideoBucket"]):
        assert {"Key": "environment", "Value": "staging"} in resource["Properties"]["Tags"]


def test_a_broken_config_fails_the_synth_naming_the_bad_key() -> None:
    returncode, stderr = APP_RUNS.wait("broken")
    assert returncode == 1
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [
        f"infra/app.py: invalid configuration in {APP_RUNS.broken_file}:",
        "  video_retention_days: Input should be greater than or equal to 1 (got 0)",
        "  alarms.emails: unknown key",
    ]
    assert not (APP_RUNS.broken_outdir / "manifest.json").exists()


def test_make_synth_passes_config_to_the_app() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "synth", f"CONFIG={STAGING_CONFIG}"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert f"infra/app.py -c config={STAGING_CONFIG}" in dry_run.stdout
    default = subprocess.run(["make", "-n", "synth"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert "infra/app.py\n" in default.stdout or "infra/app.py " in default.stdout
    assert "-c config=" not in default.stdout
