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
    url: str | None = typer.Option(None, help="Webhook URL (http or https); none: pull feed"),
    topic: list[str] | None = typer.Option(None, help="Topic to receive; repeat; * for all"),
    agreement: str | None = typer.Option(None, help="Agreement id (category subscription)"),
    category: list[str] | None = typer.Option(None, help="Data category; repeat"),
    purpose: str | None = typer.Option(None, help="Purpose the data is used for"),
    place: str | None = typer.Option(None, help="Where it is processed (default: own country)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register a webhook or pull subscription: topics, or categories under an agreement."""
    raw = {
        "url": url,
        "topics": topic or None,
        "agreement_id": agreement,
        "categories": category or None,
        "purpose": purpose,
        "place": place,
    }
    with platform_session() as platform:
        body = parse_model(SubscriptionIn, {k: v for k, v in raw.items() if v is not None})
        out = service.add_subscription(platform, caller_for(platform, as_org), body)
    if as_json:
        console.print_json(out.model_dump_json())
        return
    what = ",".join(out.categories or out.topics)
    console.print(f"subscription {out.id} ({out.kind}): {out.url or 'feed'} {what}")


@app.command("subscriptions")
def subscriptions(
    as_org: str = typer.Option(..., "--as"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """An organization's subscriptions."""
    with platform_session() as platform:
        subs = service.list_subscriptions(platform, caller_for(platform, as_org))
    if as_json:
        console.print_json(json.dumps([x.model_dump(mode="json") for x in subs]))
        return
    table = Table("id", "kind", "url", "topics / categories", "agreement", "active")
    for s in subs:
        table.add_row(
            str(s.id),
            s.kind,
            s.url or "",
            ",".join(s.categories or s.topics),
            s.agreement_id or "",
            "yes" if s.active else "no",
        )
    console.print(table)


@app.command("status")
def status(
    sub_id: int,
    as_org: str = typer.Option(..., "--as"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Delivery state of a subscription: lag, delivered, failures, dead letters, last error."""
    from silkgate.exchange.subscriptions import status as sub_status

    with platform_session() as platform:
        st = sub_status(platform, caller_for(platform, as_org), sub_id)
    if as_json:
        console.print_json(st.model_dump_json())
        return
    lag = f"{st.lag_seconds:.0f} s" if st.lag_seconds is not None else "none"
    console.print(
        f"subscription {sub_id} ({st.subscription.kind}): {st.undelivered} undelivered "
        f"(oldest {lag}), {st.delivered} delivered, {st.failures} failed tries, {st.dead} dead; "
        f"last error: {st.last_error or '-'}; last success: {st.last_success_at or '-'}"
    )


@app.command("feed")
def feed(
    as_org: str = typer.Option(..., "--as"),
    cursor: str | None = typer.Option(None, help="next_cursor of the last page"),
    limit: int = typer.Option(100, min=1, max=500),
) -> None:
    """Pull feed: the organization's messages after the cursor, and next_cursor (JSON)."""
    from silkgate.exchange.feed import read_feed

    with platform_session() as platform:
        page = read_feed(platform, caller_for(platform, as_org), cursor, limit)
    console.print_json(page.model_dump_json())


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
            str(r.id),
            r.message_id,
            r.topic,
            r.url,
            r.status,
            str(r.attempts),
            r.last_error or "",
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
