"""`instantly-sync webhooks serve`: receive pushed events, spool them durably, load them on a cadence.

Start-up loads whatever a killed process left in the spool before taking requests. Then the receiver
answers in its threads while this one loads the spool every `load_interval_seconds`, or sooner once
`load_batch_events` wait. SIGTERM or SIGINT: stop taking requests (503 to any still arriving), write what
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

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    target: Target
    pipelines_dir: str
    host: str
    port: int
    settings: WebhookSettings


def serve(options: ServeOptions) -> None:
    stop, wake = threading.Event(), threading.Event()

    def on_signal(*_: object) -> None:
        stop.set()
        wake.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    spool = Spool(spool_directory(options.target, options.pipelines_dir))
    try:
        loader = SpoolLoader(options.target, options.pipelines_dir, spool)
        check_destination(loader.pipeline, options.target)
        _load(loader, "left by an earlier process")
        receiver = Receiver(
            (options.host, options.port),
            options.settings.secret,
            spool,
            options.settings.max_body_bytes,
            options.settings.load_batch_events,
            wake,
        )
        threading.Thread(target=receiver.serve_forever, name="webhook-receiver", daemon=True).start()
        host, port = receiver.server_address[:2]
        print(f"receiving Instantly webhooks at http://{host}:{port}/ (SIGTERM or Ctrl-C stops)", flush=True)
        while not stop.is_set() and spool.failure is None:
            wake.wait(options.settings.load_interval_seconds)
            wake.clear()
            if not stop.is_set():
                _load(loader, "received")
        receiver.stop_accepting()
        spool.drain()
        _load(loader, "received before the stop", final=True)
    finally:
        spool.close()
    if spool.failure is not None:  # every request was refused since: stop, for a supervisor to see
        raise SpoolFailed(f"the webhook spool could not be written ({spool.failure}); what it held is loaded")


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
