"""docs/benchmarks.md: the latest `make bench` table, the machine it ran on, and how to read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.run import Report

METHOD = """\
## How each figure is measured

Every figure sits beside its baseline from the same run; ratios are figure / baseline.

- **Polling** (`bench/polling_sim.py`): a pure, seeded simulation of 10,000 jobs; every
  policy sees the same jobs and the same 429s. Kinds: provider (xAI 45%, CometAPI 35%,
  AI/ML API 20%) x model x resolution x duration. True completion time per job: a queue
  delay (exponential, mean 3 s; 10% of jobs mean 25 s), a generation time growing with
  duration, resolution and model (lognormal, sigma 0.12), a heavy tail (5% of jobs 1.8x to
  6x slower, Pareto) and stalls (10% of jobs: progress freezes for 10-80% of the render, a
  third of them at 95-99.5%). The xAI shape reports integer progress along a curved line
  (exponent lognormal, sigma 0.15) and `queued` while queued; the AI/ML API shape reports
  neither. 1% of polls get a 429 (two in three with a Retry-After of 1-10 s). The adaptive
  policy is `videohook.wait_policy` as deployed: the first wait from the formula (no history at
  submit), then the poll step's inputs, including the history of the kind's earlier jobs
  (the same 32-sample ring `videohook.job_history` keeps, fed with the same
  `observed_completion_seconds`). Detection lag = first poll at or after the completion
  minus the completion; waits are whole seconds (Step Functions' Wait).
- **Copy**: FinalizeVideo's copy (`copy_url_to_s3` with its defaults: 8 MiB parts, 6
  upload threads, 7 part buffers allocated once) from the sandbox's video URL, vs boto3
  `upload_file` (default TransferConfig) of the same bytes from a local file, to the same
  moto S3 server; sandbox, moto and each transfer run in separate processes, everything on
  127.0.0.1, the modes alternate. The sandbox renders the video once, before the first run
  (as the baseline's file is written before), and serves it with sendfile; the extra row
  copies the baseline's own file from a plain sendfile server. Both transfers compute
  botocore's CRC32 per part and sign each part's payload (SHA-256: the endpoint is plain
  HTTP); the copy also hashes the whole video (SHA-256, stored with the job). Peak RSS growth =
  VmHWM after the transfer minus VmRSS before it (the kernel's peak mark is reset just
  before the transfer), largest over the runs.
- **Copy, the simplest alternative** (`bench.copy_worker.upload_fileobj`, not deployed): the
  same download behind a file object that hashes (SHA-256) and counts as boto3 reads it,
  handed to `upload_fileobj` with a tuned TransferConfig (8 MiB parts and threshold, 6
  threads, at most 4 parts in memory: with 7, its peak RSS grew to 110 MB at 1 GiB against
  78 MB at 64 MiB), in the same runs, from the same sandbox URL. It has to meet the
  copier's targets (>= 0.8x `upload_file`, <= 100 MB and constant peak RSS growth) for the
  hand-written multipart code (`videohook.multipart_upload`: a fixed pool of part buffers
  filled straight from the socket) to go. In the copy section run when it was added, it met
  the memory targets (78 and 71 MB at 64 MiB and 1 GiB) and the 1 GiB throughput (1.31x
  `upload_file`) but missed the 64 MiB throughput (0.72x, where the copier made 0.81x; the
  run before, with 7 parts in memory: 0.48x against 0.88x). In the full run recorded below
  it met every target (1.45x at 64 MiB, 1.11x at 1 GiB, 71 and 73 MB), so by the rule the
  simple one should replace the copier. A replacement was written and passed the copier's
  own tests, but not the test of a FinalizeVideo killed mid-copy: the simulated kill is
  raised in the upload thread, and s3transfer's worker threads catch only `Exception`, so
  the killed attempt never ends. The hand-written copier stays until the kill is simulated
  the way Lambda kills a process (no thread survives it). Figures at 64 MiB vary from run
  to run on a shared machine; the alternative's rows say whether each run agrees.
- **Zero-copy**: jobs through the local stack where the sandbox speaks the xAI contract and
  PUTs the video to the presigned URL of the job's incoming key given at submit; "bytes
  through FinalizeVideo" is `transfer.bytes_copied` of its output (also logged as
  `bytes_through_lambda`). The 12 bytes per job are the MP4 header read back to check the
  `ftyp` box; the SHA-256 is computed by S3 during the server-side CopyObject that moves the
  video to its final key (ChecksumAlgorithm=SHA256), not here. Baseline:
  jobs of the same run where the sandbox speaks the AI/ML API contract (no upload_url).
- **Cold start** (`bench/cold_start.py`, `bench/cold_probe.py`): what a user feels of a
  cold start, the handler module's import plus its first invocation, timed inside a fresh
  `python -S` of Lambda's Python version (the stack's runtime, python3.12; the note says if
  the dev Python had to stand in) with only the Lambda layer's dependencies on the path
  (installed from uv.lock for that Python into .tools/bench/ by `make bench` before it
  measures: `python -m bench.cold_start`), bytecode precompiled. Baseline:
  `bench/reference_handler.py`, built the way aws-lambda-handler-cookbook builds one
  (Powertools' APIGatewayRestResolver with `enable_validation=True`, a Powertools Logger
  around the handler, one pydantic model, one route, nothing else), run right before each
  handler (A/B pairs, round after round); medians of 10 each, ratio = handler / reference.
  Each process sees what Lambda sets: the functions' static environment
  (`PYDANTIC_DISABLE_PLUGINS=1`: no entry-point scan at the first model build), the
  runtime's variables and, as the stack's functions have active tracing, the trace header
  (the tracer is created at the first invocation, as in the cloud; it patches botocore
  only, and httpx only in a process that creates the runtime's HTTP client). First
  invocation: the handler's sample event from events/ (the api: its submit,
  `api_create_video.json`, the same request the reference's route validates). Every AWS call
  goes to a moto server on 127.0.0.1 (`AWS_ENDPOINT_URL`) that holds no resources, and an
  audit hook in the probe refuses any other address: each handler parses and validates its
  event, creates its boto3 client and makes its first AWS call, which moto answers with
  ResourceNotFoundException (each row names the outcome; the api's first call reads the
  provider keys through Powertools' secrets provider, which raises GetParameterError). That
  counts the cold costs an invocation pays once (imports deferred to it, clients, the
  tracer, the validators it builds) and leaves out the rest of a successful invocation
  (further calls on warm clients, the provider's answer): a lower bound of the real first
  invocation. The reference makes no AWS call and has no tracer, as specified. Without
  SnapStart no handler meets 1.3x (each measured about 2x when SnapStart was added): each
  first invocation pays for boto3, a client and the X-Ray SDK with its botocore patch,
  which the reference does not. For all of them the deployment configuration's
  `snap_start` (docs/deploy.md) is the option: Lambda restores new instances from a
  snapshot taken after the import, with the tracer and the AWS clients already created
  (`videohook.snap_start`); these figures are without it.
- **Cost** (`bench/cost.py`): one job of 107 s (AI/ML API's 720p example), 2 s queued, then
  linear progress, the kind's history warm; mean over ten sub-second phases of its end.
  Per poll: WaitForProvider, PollProvider, IsJobDone = 3 transitions and one poll Lambda;
  the states after the loop, the other invocations, memory sizes and median durations come
  from the local-stack run.
- **Local stack** (`bench/stack_bench.py`): `devstack.stack.LocalStack` (moto, the
  synthesized state machine, in-process handlers, the sandbox), jobs submitted at once from
  100 threads, each with a loopback webhook receiver. "Provider done" = the sandbox job's
  submit time + its generation time; "webhook received" = arrival at the receiver. Baseline:
  a few jobs run one at a time in the same stack before. Every wait of the workflow and the
  sandbox's generation times are multiplied by the time scale; Lambda and HTTP overheads are
  not. The local stack is one Python process (moto's server, its Step Functions interpreter,
  every handler, the API): 100 jobs at once measure its throughput under the GIL, not what
  AWS would do with 100 concurrent Lambdas. Its API emulator runs the api function's
  instances side by side (`devstack.lambda_instances`: one request at a time per instance,
  each with its own resolver, as many instances as requests up to the function's
  concurrency, 100 unless the template reserves one), so simultaneous submits do not queue
  behind each other; they share the process's CPU with everything else the stack runs.
"""


def document(report: Report, table: str, summary: str) -> str:
    machine = "\n".join(f"- {key}: {value}" for key, value in report.machine.items())
    notes = "\n".join(f"- {note}" for note in report.notes)
    return f"""# Benchmarks

`make bench` (`python -m bench`) writes this page. Latest run: {report.started:%Y-%m-%d %H:%M} UTC,
{report.seconds / 60:.1f} minutes.

{machine}

{table}

**{summary}.**

{notes}

{METHOD}"""
