"use strict";
// The latest connector runs, newest first.

function runRow(run) {
  // Statuses of connectors/engine.py: running, succeeded, failed, guard_stopped.
  const failed = run.status === "failed" || run.status === "guard_stopped";
  return el(
    "tr",
    failed ? { class: "failed" } : {},
    el("td", {}, formatTime(run.started_at)),
    el("td", {}, run.entity),
    el("td", {}, run.status),
    numberCell(run.duration_seconds === null ? null : Math.round(run.duration_seconds * 10) / 10),
    numberCell(run.records_read),
    numberCell(run.written),
    numberCell(run.deleted),
    numberCell(run.quarantined),
    numberCell(run.published),
    el("td", {}, run.error || ""),
  );
}

async function refresh() {
  const runs = await getJson("/api/runs?limit=100");
  const rows = runs.map(runRow);
  if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 10, class: "muted" }, "No connector runs yet.")));
  document.getElementById("runs").replaceChildren(...rows);
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

poll(refresh);
