"""`instantly-sync webhooks serve`: receive pushed events, spool them durably, load them on a cadence.

Start-up loads whatever a killed process left in the spool before taking requests. Then the receiver
answers in its threads while a thread of its own loads the spool every `load_interval_seconds`, or sooner
once `load_batch_events` wait. SIGTERM or SIGINT: stop taking requests (503 to any still arriving), write what
is queued, load everything, exit 0. A failed load is logged and retried on the next turn; its events stay
in the spool. A spool that cannot be written (a full disk) refuses every request, so the process loads what
the spool holds and exits 1.
"""

import logging
import signal
import sys
import threading
from dataclasses import dataclass

from destinations import Target

from ..messages import describe_error
from ..sync import check_destination
from .config import WebhookSettings
from .loader import SpoolLoader, spool_directory
from .receiver import Receiver
from .spool import Spool, SpoolFailed

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    target: Target
    pipelines_dir: str
    host: str
    port: int
    settings: WebhookSettings


def serve(options: ServeOptions) -> None:
    # No signal handler: one that sets an Event deadlocks when it lands inside that Event's own lock. The
    # signals stay blocked (every thread started here inherits that) and this thread takes them with
    # `sigtimedwait`; loads run in a thread of their own.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    spool = Spool(spool_directory(options.target, options.pipelines_dir))
    try:
        loader = SpoolLoader(options.target, options.pipelines_dir, spool)
        check_destination(loader.pipeline, options.target)
        _load(loader, "left by an earlier process")
        wake, stop = threading.Event(), threading.Event()
        receiver = Receiver(
            (options.host, options.port),
            options.settings.secret,
            spool,
            options.settings.max_body_bytes,
            options.settings.load_batch_events,
            wake,
        )
        threading.Thread(target=receiver.serve_forever, name="webhook-receiver", daemon=True).start()
        turns = threading.Thread(
            target=_load_turns,
            args=(loader, wake, stop, options.settings.load_interval_seconds),
            name="loads",
        )
        turns.start()
        host, port = receiver.server_address[:2]
        print(f"receiving Instantly webhooks at http://{host}:{port}/ (SIGTERM or Ctrl-C stops)", flush=True)
        while spool.failure is None and signal.sigtimedwait(STOP_SIGNALS, 1.0) is None:
            pass
        stop.set()
        wake.set()
        turns.join()
        receiver.stop_accepting()
        spool.drain()
        _load(loader, "received before the stop", final=True)
    finally:
        spool.close()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if spool.failure is not None:  # every request was refused since: stop, for a supervisor to see
        raise SpoolFailed(f"the webhook spool could not be written ({spool.failure}); what it held is loaded")


def _load_turns(loader: SpoolLoader, wake: threading.Event, stop: threading.Event, interval: float) -> None:
    """Load every `interval` seconds, or when woken (enough events wait), until stopped."""
    while True:
        wake.wait(interval)
        wake.clear()
        if stop.is_set():
            return
        _load(loader, "received")


def _load(loader: SpoolLoader, what: str, final: bool = False) -> None:
    try:
        done = loader.load()
    except Exception as exc:  # the events stay in the spool; the next turn (or start) loads them
        if final:
            raise
        logger.error(
            "instantly-sync: loading webhook events failed, retried next turn: %s", describe_error(exc)
        )
        return
    if done.events or final:
        print(f"loaded {done.events} webhook event(s) {what}", file=sys.stderr, flush=True)
