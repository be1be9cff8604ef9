"""Which alerts should be active, from one check's statuses, runs and health.

Alert names and labels:

- ``StoreSilent`` (critical) and ``StoreLagging`` (warning), with ``store_id``;
- ``ConnectorRunFailed`` (warning) and ``MassDeletionGuard`` (critical), with
  ``entity``, while the newest finished run of the entity has status
  ``failed`` or ``guard_stopped``;
- ``BrokerDown``, ``RepositoryDown`` and ``ManyStoresSilent`` (critical): the
  storm alerts, which hold the per-store alerts while any of them is active.
"""

from typing import Any

from monitor.alerts import Alert
from monitor.model import StoreStatus

__all__ = ["RUN_ALERTS", "STORE_ALERTS", "run_alerts", "store_alerts", "storm_alerts"]

STORE_ALERTS = frozenset({"StoreSilent", "StoreLagging"})
RUN_ALERTS = frozenset({"ConnectorRunFailed", "MassDeletionGuard"})


def store_alerts(statuses: dict[str, StoreStatus]) -> list[Alert]:
    """Return a StoreSilent or StoreLagging alert for each such store."""
    alerts: list[Alert] = []
    for store_id, store in sorted(statuses.items()):
        if store.status == "SILENT":
            contact = (
                store.last_contact_at.isoformat() if store.last_contact_at else "never"
            )
            alerts.append(
                Alert(
                    {
                        "alertname": "StoreSilent",
                        "store_id": store_id,
                        "severity": "critical",
                    },
                    f"store {store_id} ({store.name}) is silent",
                    "No consumer on its queues and no pull or heartbeat since"
                    f" {contact}.",
                )
            )
        elif store.status == "LAGGING":
            behind = [
                f"{entity} {numbers.lag_revisions} revisions"
                f" / {numbers.lag_seconds:.0f} s"
                for entity, numbers in sorted(store.entities.items())
                if numbers.lag_revisions
            ]
            alerts.append(
                Alert(
                    {
                        "alertname": "StoreLagging",
                        "store_id": store_id,
                        "severity": "warning",
                    },
                    f"store {store_id} ({store.name}) is lagging",
                    "Behind the hub: " + ", ".join(behind) + ".",
                )
            )
    return alerts


def run_alerts(runs: list[dict[str, Any]]) -> list[Alert]:
    """Return an alert per entity whose newest finished run failed or was stopped."""
    newest: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run.get("status") in (None, "running") or "entity" not in run:
            continue
        known = newest.get(run["entity"])
        if known is None or run["started_at"] > known["started_at"]:
            newest[run["entity"]] = run
    alerts: list[Alert] = []
    for entity, run in sorted(newest.items()):
        error = run.get("error") or "no error recorded"
        if run["status"] == "failed":
            labels = {"alertname": "ConnectorRunFailed", "entity": entity}
            labels["severity"] = "warning"
            summary = f"connector run {run['_id']} of {entity} failed"
        elif run["status"] == "guard_stopped":
            labels = {"alertname": "MassDeletionGuard", "entity": entity}
            labels["severity"] = "critical"
            summary = f"connector run {run['_id']} of {entity} stopped a mass deletion"
        else:
            continue
        alerts.append(Alert(labels, summary, error))
    return alerts


def storm_alerts(
    broker_error: str | None, repository_error: str | None, silent: int, stores: int
) -> list[Alert]:
    """Return the hub-wide alerts: the broker or repository down, many stores silent.

    ``silent`` is the number of SILENT stores while a ManyStoresSilent storm
    lasts, and 0 otherwise.
    """
    alerts: list[Alert] = []
    if broker_error is not None:
        alerts.append(
            Alert(
                {"alertname": "BrokerDown", "severity": "critical"},
                "RabbitMQ is unreachable",
                broker_error,
            )
        )
    if repository_error is not None:
        alerts.append(
            Alert(
                {"alertname": "RepositoryDown", "severity": "critical"},
                "the repository (MongoDB) is unreachable",
                repository_error,
            )
        )
    if silent:
        alerts.append(
            Alert(
                {"alertname": "ManyStoresSilent", "severity": "critical"},
                f"{silent} of {stores} stores are silent",
                "Many stores went silent at once, which points to a shared cause"
                " such as the network; per-store alerts are held meanwhile.",
            )
        )
    return alerts
