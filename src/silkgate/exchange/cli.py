"""`silkgate exchange deliver|subscribe|subscriptions|unsubscribe|deliveries|retry|prune`, and
the disclosure log's `disclosures` and `personal-transfers`."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from silkgate.core.cli_support import console, platform_session
from silkgate.core.validation import parse_model
from silkgate.exchange import service
from silkgate.exchange.schemas import DeliveryStatus, SubscriptionIn
from silkgate.registry.service import caller_for

app = typer.Typer(help="Outbox delivery: webhooks, retries, dead letters.", no_args_is_help=True)


@app.command("deliver")
def deliver(
    once: bool = typer.Option(False, "--once", help="One pass over due deliveries, then exit"),
) -> None:
    """Send due webhooks (``--once``), or run the delivery worker until interrupted."""
    with platform_session() as platform:
        if once:
            r = service.deliver_due(platform)
            console.print(f"delivered {r.delivered}, retrying {r.retried}, dead {r.dead}")
            return
        from silkgate.exchange.worker import DeliveryWorker

        worker = DeliveryWorker(platform)
        worker.start()
        try:
            while True:
                worker._supervised.stopping.wait(3600)
        except KeyboardInterrupt:
            worker.stop()


@app.command("subscribe")
def subscribe(
    as_org: str = typer.Option(..., "--as", help="Member id of the subscribing organization"),
    url: str = typer.Option(..., help="Webhook URL (http or https)"),
    topic: list[str] = typer.Option(["*"], help="Topic to receive; repeat; * for all"),
) -> None:
    """Register a webhook for an organization's messages (audited)."""
    with platform_session() as platform:
        body = parse_model(SubscriptionIn, {"url": url, "topics": topic})
        out = service.add_subscription(platform, caller_for(platform, as_org), body)
    console.print(f"subscription {out.id}: {out.url} {','.join(out.topics)}")


@app.command("subscriptions")
def subscriptions(as_org: str = typer.Option(..., "--as")) -> None:
    """An organization's webhooks."""
    with platform_session() as platform:
        subs = service.list_subscriptions(platform, caller_for(platform, as_org))
    table = Table("id", "url", "topics", "active")
    for s in subs:
        table.add_row(str(s.id), s.url, ",".join(s.topics), "yes" if s.active else "no")
    console.print(table)


@app.command("unsubscribe")
def unsubscribe(sub_id: int, as_org: str = typer.Option(..., "--as")) -> None:
    """Remove a webhook (its pending deliveries become dead letters)."""
    with platform_session() as platform:
        out = service.remove_subscription(platform, caller_for(platform, as_org), sub_id)
    console.print(f"subscription {out.id} removed")


@app.command("deliveries")
def deliveries(
    as_org: str | None = typer.Option(None, "--as", help="One organization; default all"),
    status: DeliveryStatus | None = typer.Option(None, help="pending, delivered or dead"),
    limit: int = typer.Option(100, min=1, max=500),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Deliveries, newest first; ``--status dead`` lists the dead letters."""
    with platform_session() as platform:
        caller = caller_for(platform, as_org) if as_org else None
        rows = service.list_deliveries(platform, caller, status, limit)
    if as_json:
        console.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table("id", "message", "topic", "url", "status", "tries", "last error")
    for r in rows:
        table.add_row(
            str(r.id), r.message_id, r.topic, r.url, r.status, str(r.attempts), r.last_error or ""
        )
    console.print(table)


@app.command("prune")
def prune(
    older_than_days: float | None = typer.Option(
        None, min=0.0, help="Default: SILKGATE_EXCHANGE_RETENTION_DAYS (30)"
    ),
) -> None:
    """Delete outbox messages past retention with no delivery pending (audited)."""
    from datetime import timedelta

    with platform_session() as platform:
        days = older_than_days
        r = service.prune_outbox(
            platform, "cli", timedelta(days=days) if days is not None else None
        )
    console.print(
        f"pruned {r.messages} messages and {r.deliveries} deliveries created before "
        f"{r.before.isoformat()}"
    )


@app.command("retry")
def retry(delivery_id: int, as_org: str = typer.Option(..., "--as")) -> None:
    """Send a dead letter again from its first try."""
    with platform_session() as platform:
        service.retry_delivery(platform, caller_for(platform, as_org), delivery_id)
    console.print(f"delivery {delivery_id} queued again")


def _register() -> None:
    from silkgate.exchange.disclosures.cli import register

    register(app)


_register()
