"""Constants of the Instantly API and of this source, in one place."""

DEFAULT_BASE_URL = "https://api.instantly.ai"
USER_AGENT = "instantly-dlt/0.1 (+dlt source; python-httpx)"
SOURCE_NAME = "instantly"

# Workspace-wide limits, shared by all keys of a workspace (NOTES.md, "Transport").
WORKSPACE_REQUESTS_PER_SECOND = 100
WORKSPACE_REQUESTS_PER_MINUTE = 6_000
# GET /api/v2/emails has its own, stricter limit.
EMAILS_REQUESTS_PER_MINUTE = 20
# Requests reach the server a little later than we send them, with jitter; a window a bit longer than the
# server's keeps our count below its count without giving up more than ~1% of the allowed rate.
RATE_WINDOW_MARGIN_SECONDS = 0.5

# Retries for 429, 5xx, timeouts, dropped connections and unreadable bodies. Without Retry-After we back off
# exponentially up to a delay that outlasts a per-minute window, so a retry budget survives a full minute.
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 65.0
REQUEST_TIMEOUT_SECONDS = 60.0

# Progress is committed (extract, normalize, load) after at most this long, so a killed run loses at most
# this much work.
CHECKPOINT_SECONDS = 300.0
# Time-keyed resources re-read this far behind their high-water mark, to catch items that became visible late.
OVERLAP_SECONDS = 300.0
# Daily analytics of recent days keep changing (late opens and replies): each run re-fetches this many days.
ANALYTICS_TRAILING_DAYS = 7
# First backfill of time-keyed resources starts here unless `start_date` is configured.
DEFAULT_START_DATE = "2015-01-01T00:00:00Z"

# Postgres rejects NUL in text; we strip it at the one place items enter the pipeline.
NUL = "\x00"
