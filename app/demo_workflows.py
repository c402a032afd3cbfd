"""Three sample workflows for `hindsight demo`, written as a user would write them with
`app.reporter`: real Python that really raises, so failures carry real tracebacks.

The work itself is simulated with millisecond sleeps; `app.demo` stretches each run's
timeline afterwards so durations look like the real thing.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.reporter import Reporter, Run


@dataclass
class Placement:
    """Where a run goes on the timeline, and what app.reporter has no API for yet."""

    started_ms: int
    scale: float  # real elapsed time x scale = the duration shown
    groups: dict[str, int] = field(default_factory=dict)  # node id -> execution group
    artifacts: list[dict[str, Any]] = field(default_factory=list)


class Timeline:
    """Hands out run ids and records each run's placement for the reporter to apply."""

    def __init__(self) -> None:
        self.placements: dict[str, Placement] = {}
        self._counts: dict[str, int] = {}

    def place(self, workflow_id: str, placement: Placement) -> str:
        number = self._counts.get(workflow_id, 0) + 1
        self._counts[workflow_id] = number
        # Fixed ids: running the demo again replaces its runs instead of doubling them.
        run_id = f"demo-{workflow_id}-{number:03d}"
        self.placements[run_id] = placement
        return run_id


def _work(ms: float) -> None:
    time.sleep(ms / 1000)


# -- Invoice triage: fetch, parse, classify with an LLM, route -----------------------------
_VENDORS = [
    ("Northwind Traders", "249.00", "office supplies"),
    ("Contoso Cloud", "1180.50", "software"),
    ("Fabrikam Freight", "86.20", "logistics"),
    ("Adatum Legal", "3400.00", "legal"),
]


def parse_total(text: str) -> float:
    """Amounts come as "249.00"; some vendors write "1 249,00", which float() refuses."""
    return round(float(text), 2)


def invoice_triage(
    reporter: Reporter, run_id: str, rng: random.Random, fail: bool, timeline: Timeline
) -> None:
    vendor, total, category = rng.choice(_VENDORS)
    if fail:
        vendor, total, category = "Lumière SARL", "1 249,00", "consulting"
    invoice_id = rng.randint(10_000, 99_999)
    run = reporter.run(
        "invoice-triage",
        name="Invoice triage",
        trigger="webhook",
        trigger_data={"source": "mailbox", "invoiceId": invoice_id},
        params={"invoiceId": invoice_id, "currency": "EUR", "autoApproveBelow": 500},
        tags={"env": "demo", "team": "finance"},
        project="finance",
        version="1.4.2",
        run_id=run_id,
    )
    with run:
        with run.node("fetch", name="Fetch invoice", type="http") as node:
            node.input = {"url": f"https://erp.example.com/api/invoices/{invoice_id}"}
            _work(rng.uniform(1, 3))
            node.output = {"vendor": vendor, "total": total, "currency": "EUR", "lines": 3}
            run.log("info", "invoice fetched", invoiceId=invoice_id, vendor=vendor)
        with run.node("parse", name="Parse total", type="code", input={"total": total}) as node:
            _work(0.2)
            amount = parse_total(total)
            node.output = {"amount": amount}
        with run.node("classify", name="Classify expense", type="llm") as node:
            messages = [
                {"role": "system", "content": "Classify the invoice into one expense category."},
                {"role": "user", "content": f"Vendor: {vendor}\nAmount: {amount} EUR"},
            ]
            node.input = {"messages": messages}
            _work(rng.uniform(3, 6))
            answer = {"role": "assistant", "content": f"category: {category}"}
            prompt_tokens, completion_tokens = rng.randint(180, 260), rng.randint(6, 14)
            node.llm(
                model="gpt-4o-mini",
                prompt=messages,
                response=answer,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost_usd=round(prompt_tokens * 0.15e-6 + completion_tokens * 0.6e-6, 6),
                finish_reason="stop",
            )
            node.output = {"category": category}
        with run.node("route", name="Route for approval", type="code") as node:
            node.input = {"category": category, "amount": amount}
            _work(0.5)
            approver = "auto" if amount < 500 else "finance-lead"
            if approver != "auto":
                run.log("warn", "amount above auto-approval limit", amount=amount, limit=500)
            node.output = {"queue": category, "approver": approver}
        run.output = {"queue": category, "approver": approver}
        timeline.placements[run_id].artifacts.append(
            {
                "key": "invoice",
                "type": "json",
                "nodeId": "fetch",
                "data": {"vendor": vendor, "amount": amount, "category": category},
            }
        )


# -- Support reply drafter: two LLM steps, a retried timeout, a policy failure ----------------
class PolicyViolation(Exception):
    """The reviewer model flagged the draft; a person must answer this ticket."""


def _draft(reporter_run: Run, rng: random.Random, ticket: dict[str, Any], timeout: bool) -> str:
    attempts = 2 if timeout else 1
    for attempt in range(1, attempts + 1):
        try:
            with reporter_run.node("draft", name="Draft reply", type="llm") as node:
                messages = [
                    {"role": "system", "content": "You are a friendly support agent."},
                    {"role": "user", "content": ticket["body"]},
                ]
                node.input = {"messages": messages, "temperature": 0.3}
                _work(rng.uniform(5, 9))
                if attempt < attempts:
                    raise TimeoutError("model did not answer within 30 s")
                reply = f"Hi {ticket['customer']}, thanks for reaching out. " + ticket["answer"]
                prompt_tokens, completion_tokens = rng.randint(900, 1400), rng.randint(120, 260)
                node.llm(
                    model="claude-3-5-sonnet",
                    prompt=messages,
                    response={"role": "assistant", "content": reply},
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    cost_usd=round(prompt_tokens * 3e-6 + completion_tokens * 15e-6, 6),
                    finish_reason="stop",
                )
                node.output = {"reply": reply}
                return reply
        except TimeoutError:
            reporter_run.log("warn", "draft timed out, retrying", attempt=attempt)
    raise AssertionError("unreachable")


_TICKETS = [
    ("Ada", "I was charged twice this month.", "I have refunded the duplicate charge of 19 EUR."),
    ("Grace", "How do I export my data?", "Open Settings → Export and choose CSV."),
    ("Linus", "The app crashes on start.", "Please update to 2.3.1, which fixes that crash."),
]


def support_reply(
    reporter: Reporter, run_id: str, rng: random.Random, fail: bool, timeline: Timeline
) -> None:
    customer, body, answer = rng.choice(_TICKETS)
    if fail:
        customer, body = "Edsger", "Refund my annual plan, 1,200 EUR, today."
        answer = "I have refunded 1,200 EUR to your card."
    ticket = {"id": rng.randint(1000, 9999), "customer": customer, "body": body, "answer": answer}
    run = reporter.run(
        "support-reply",
        name="Support reply drafter",
        trigger="email",
        params={"ticketId": ticket["id"], "language": "en"},
        tags={"env": "demo", "team": "support"},
        project="support",
        run_id=run_id,
    )
    with run:
        with run.node("load", name="Load ticket", type="db", input={"id": ticket["id"]}) as node:
            _work(1)
            node.output = ticket
        with run.node("search", name="Search help centre", type="search") as node:
            node.input = {"query": body, "topK": 3}
            _work(rng.uniform(1, 2))
            node.output = {"articles": ["billing/refunds", "account/export", "releases/2.3.1"]}
            node.metrics = {"hits": 3, "latencyMs": 41}
        reply = _draft(run, rng, ticket, timeout=rng.random() < 0.3)
        with run.node("review", name="Review tone and policy", type="llm") as node:
            messages = [
                {"role": "system", "content": "Answer OK or FLAG: reason."},
                {"role": "user", "content": reply},
            ]
            node.input = {"messages": messages}
            _work(rng.uniform(2, 4))
            verdict = "FLAG: refund above the 100 EUR agent limit" if fail else "OK"
            node.llm(
                model="gpt-4o-mini",
                prompt=messages,
                response={"role": "assistant", "content": verdict},
                prompt_tokens=rng.randint(200, 320),
                completion_tokens=rng.randint(2, 12),
                cost_usd=0.00006,
                finish_reason="stop",
            )
            node.output = {"verdict": verdict}
            if verdict != "OK":
                raise PolicyViolation(verdict.removeprefix("FLAG: "))
        with run.node("send", name="Send reply", type="http") as node:
            node.input = {"to": f"{customer.lower()}@example.com", "body": reply}
            _work(1)
            node.output = {"messageId": f"<{ticket['id']}@support.example.com>"}
        run.log("info", "reply sent", ticket=ticket["id"])


# -- Nightly sales ETL: a long run whose extracts and transforms run in parallel --------------
REGIONS = ("eu", "us", "apac")
TABLES = ("orders", "customers")


def _in_parallel(jobs: list[Callable[[], None]]) -> list[BaseException]:
    """Run the jobs on threads; return the exceptions they raised (the nodes record them)."""
    errors: list[BaseException] = []

    def guard(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def extract(region: str, rows: int, unreachable: bool) -> dict[str, Any]:
    if unreachable:
        raise ConnectionError(f"warehouse-{region}.internal:5432: connection timed out after 30 s")
    return {"region": region, "rows": rows, "file": f"s3://sales/raw/{region}.parquet"}


def nightly_etl(
    reporter: Reporter, run_id: str, rng: random.Random, fail: bool, timeline: Timeline
) -> None:
    groups = timeline.placements[run_id].groups
    run = reporter.run(
        "nightly-etl",
        name="Nightly sales ETL",
        trigger="schedule",
        trigger_data={"cron": "0 2 * * *"},
        params={"date": "yesterday", "regions": list(REGIONS)},
        tags={"env": "demo", "team": "analytics"},
        project="analytics",
        run_id=run_id,
    )
    with run:
        extracted: dict[str, Any] = {}

        def extract_job(region: str) -> Callable[[], None]:
            def job() -> None:
                node_id = f"extract-{region}"
                groups[node_id] = 1
                with run.node(node_id, name=f"Extract {region.upper()}", type="sql") as node:
                    node.input = {"region": region, "query": "SELECT * FROM sales WHERE day = ?"}
                    _work(rng.uniform(6, 12))
                    rows = rng.randint(20_000, 90_000)
                    node.output = extract(region, rows, fail and region == "apac")
                    node.metrics = {"rows": rows}
                    extracted[region] = node.output

            return job

        failures = _in_parallel([extract_job(region) for region in REGIONS])
        if failures:
            run.log("error", f"{len(failures)} of {len(REGIONS)} extracts failed")
            raise RuntimeError(f"extract failed for {len(failures)} region(s); load skipped")

        def transform_job(table: str) -> Callable[[], None]:
            def job() -> None:
                node_id = f"transform-{table}"
                groups[node_id] = 2
                with run.node(node_id, name=f"Transform {table}", type="python") as node:
                    node.input = {"table": table, "sources": sorted(extracted)}
                    _work(rng.uniform(4, 8))
                    node.output = {"table": table, "rows": rng.randint(50_000, 200_000)}

            return job

        _in_parallel([transform_job(table) for table in TABLES])
        with run.node("load", name="Load warehouse", type="sql") as node:
            node.input = {"target": "analytics.sales_daily", "mode": "merge"}
            _work(rng.uniform(3, 6))
            node.output = {"inserted": rng.randint(1000, 5000), "updated": rng.randint(0, 400)}
        run.log("info", "load complete", **node.output)
        with run.node("summary", name="Write summary", type="llm") as node:
            prompt = "Summarise yesterday's sales by region in two sentences."
            node.input = {"prompt": prompt}
            _work(3)
            text = "EU led with 41% of revenue; APAC grew 8% week on week."
            node.llm(
                model="gpt-4o",
                prompt=[{"role": "user", "content": prompt}],
                response={"role": "assistant", "content": text},
                prompt_tokens=rng.randint(600, 900),
                completion_tokens=rng.randint(40, 70),
                cost_usd=0.0031,
                finish_reason="stop",
            )
            node.output = {"summary": text}
        timeline.placements[run_id].artifacts.append(
            {
                "key": "daily-report",
                "type": "json",
                "nodeId": "summary",
                "data": {"summary": text, "regions": extracted},
            }
        )
