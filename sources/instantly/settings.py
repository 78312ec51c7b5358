"""Constants of the Instantly API and of this source, in one place."""

DEFAULT_BASE_URL = "https://api.instantly.ai"
USER_AGENT = "instantly-dlt/0.1 (+dlt source; python-httpx)"
SOURCE_NAME = "instantly"

# Workspace-wide limits, shared by all keys of a workspace (NOTES.md, "Transport").
WORKSPACE_REQUESTS_PER_SECOND = 100
WORKSPACE_REQUESTS_PER_MINUTE = 6_000
# GET /api/v2/emails has its own, stricter limit.
EMAILS_REQUESTS_PER_MINUTE = 20
# A request counts in our windows from its answer (less this fraction of the window), the latest the server
# can have counted it, so latency and jitter never put more requests in the server's window than in ours.
# The windows are also this fraction longer than the server's (0.6 s on a minute, 10 ms on a second), for
# clock drift; that costs 1% of the allowed rate.
RATE_WINDOW_MARGIN = 0.01
# A 429 anyway means someone else spends the workspace's budget. With Retry-After, the limiter class (the
# workspace, or /emails) pauses for that long; without it, the class's rate is cut by this factor (at most
# once per round of requests, never below the floor) and regains this fraction of the configured rate per
# minute of successful requests.
RATE_DECREASE_FACTOR = 0.5
RATE_MIN_FRACTION = 0.05
RATE_RECOVERY_PER_MINUTE = 0.5
# Tests and benchmarks run against a simulator whose minute lasts 1/time_scale of a real one; the client's
# windows and Retry-After waits shrink by the same factor. 1.0 against the real API.
RATE_TIME_SCALE = 1.0

# Retries for 429, 5xx, timeouts, dropped connections and unreadable bodies. Without Retry-After we back off
# exponentially up to a delay that outlasts a per-minute window, so a retry budget survives a full minute.
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 65.0
REQUEST_TIMEOUT_SECONDS = 60.0
# An empty page that still carries a cursor, or a cursor that does not advance, is asked for again this many
# times (after the same backoff as a retry) before the walk ends early on it: a hiccup mid-walk must not end
# it. Four re-asks keep a workspace whose pages are odd one time in twenty from ending a walk early.
PAGE_REASKS = 4
# A resumed walk whose stored cursor gets one of these answers (its item was deleted while the sync was
# stopped) starts that walk again instead of failing on the cursor forever.
RESUME_CURSOR_REFUSED = (400, 404)
# How the API's 404 for an unknown route begins (Fastify's wording); any other 404 of a fan-out request is
# about its parent item, deleted after the parent list was read.
ROUTE_NOT_FOUND = "Route "

# Progress is committed (extract, normalize, load) after at most this long, so a killed run loses at most
# this much work.
CHECKPOINT_SECONDS = 300.0
# Time-keyed resources re-read this far behind their high-water mark, to catch items that became visible late.
OVERLAP_SECONDS = 300.0
# What a walk over a whole collection does to rows whose key it did not meet: `soft` sets `_deleted_at`,
# `hard` deletes them, `off` leaves them (sources.instantly.deletions).
DEFAULT_DELETES = "soft"
DELETED_AT_COLUMN = "_deleted_at"
# Warehouse keys are read back this many rows at a time to find the ones a walk did not meet.
DELETION_READ_ROWS = 100_000
# Daily analytics of recent days keep changing (late opens and replies): each run re-fetches this many days.
ANALYTICS_TRAILING_DAYS = 7
# After each load, the sync writes the change history of leads, campaigns and accounts (`<table>_history`,
# destinations/history.py); `history = false` under [sources.instantly] turns it off.
HISTORY = True
# First backfill of time-keyed resources starts here unless `start_date` is configured.
DEFAULT_START_DATE = "2015-01-01T00:00:00Z"

# Campaign and subsequence sequences nest three lists deep; deeper lists (odd data) stay JSON instead of
# becoming one child table per level (the source's `max_table_nesting`).
MAX_TABLE_NESTING = 5

# Postgres rejects NUL in text; we strip it at the one place items enter the pipeline.
NUL = "\x00"

# The Arrow fast path hands dlt this many items per table: dlt's cost per yielded item is paid per batch.
ARROW_BATCH_ITEMS = 10_000

# A sync allocates millions of short-lived containers (parsed pages, rows, dlt's bookkeeping) that reference
# counting frees; Python's default cyclic-GC thresholds (700, 10, 10) still run a collection every 700 of
# them, often a full one over every live object. Raised for the duration of a sync, they took 20% off a
# 200k-lead extract (17.5 s to 13.9 s).
SYNC_GC_THRESHOLDS = (50_000, 20, 100)

# dlt logs an ERROR starting so when its extract thread pool has not shut down 2 s after an extract failed,
# adding that the process "will most probably lock indefinitely". What it waits for is a parallel walk still
# in a request, and that thread ends with its request. The CLI keeps the line off stderr (pipelines/messages).
DLT_POOL_SHUTDOWN_LOG = "Shutdown of dlt thread pool"

# Pushed webhooks (`instantly-sync webhooks serve`, pipelines/webhooks/). Instantly POSTs each event with the
# headers the webhook was registered with; this one carries the shared secret (`[sources.instantly.webhooks]
# secret`), compared in constant time. Anything without it is refused and never stored.
WEBHOOK_SECRET_HEADER = "X-Instantly-Sync-Secret"
WEBHOOK_SECRET_ENV = "SOURCES__INSTANTLY__WEBHOOKS__SECRET"
WEBHOOKS_PUSHED_TABLE = "webhook_events_pushed"
# Polled events and pushed ones carry the same `payload`: both get its content hash, so one event that came
# both ways is recognisable (sources/instantly/payloads.py).
CONTENT_HASH_COLUMN = "content_hash"
# A payload bigger than this is refused (413) before it is read: Instantly's events are a few hundred bytes.
WEBHOOK_MAX_BODY_BYTES = 256 * 1024
# The spool is loaded into the warehouse every this many seconds, or sooner once this many events wait.
WEBHOOK_LOAD_INTERVAL_SECONDS = 10.0
WEBHOOK_LOAD_BATCH_EVENTS = 5_000
# Where `serve` listens by default.
WEBHOOK_HOST = "127.0.0.1"
WEBHOOK_PORT = 8788
