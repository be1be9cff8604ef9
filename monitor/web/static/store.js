"use strict";
// One store: documents delivered and lag over time, its queues and events.

const storeId = decodeURIComponent(location.pathname.split("/").pop());
const PALETTE = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#4e342e"];
const charts = {};

function timeAxis() {
  return {
    type: "linear",
    ticks: {
      maxTicksLimit: 8,
      callback: (value) =>
        new Date(value).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    },
  };
}

function makeChart(canvasId, yTitle) {
  if (typeof Chart === "undefined") return null;
  return new Chart(document.getElementById(canvasId), {
    type: "line",
    data: { datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: timeAxis(),
        y: { beginAtZero: true, title: { display: true, text: yTitle } },
      },
      plugins: {
        tooltip: {
          callbacks: { title: (items) => new Date(items[0].parsed.x).toLocaleString() },
        },
      },
    },
  });
}

// Replaces the chart's datasets with one line per entity of field `field`.
function updateChart(chart, history, field) {
  if (chart === null) return;
  chart.data.datasets = Object.keys(history)
    .sort()
    .map((entity, index) => ({
      label: entity,
      data: history[entity].map((point) => ({ x: Date.parse(point.at), y: point[field] })),
      borderColor: PALETTE[index % PALETTE.length],
      backgroundColor: PALETTE[index % PALETTE.length],
      pointRadius: 0,
      borderWidth: 2,
    }));
  chart.update("none");
}

function renderFacts(store) {
  const facts = [
    ["Status since", formatTime(store.since)],
    ["Last contact", `${formatAge(store.last_contact_at)} (${formatTime(store.last_contact_at)})`],
    ["Groups", store.groups.join(", ") || "none"],
    ["Transport", store.transport],
    ["Checked", formatTime(store.updated_at)],
  ];
  const items = facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]);
  document.getElementById("store-facts").replaceChildren(...items);
  const badge = document.getElementById("store-status");
  badge.className = `badge status-${store.status}`;
  badge.textContent = store.status;
  document.getElementById("store-title").textContent = `${store.store_id} ${store.name}`;
  document.title = `${store.store_id} ${store.name} · retail-hub monitor`;
}

function renderQueues(entities) {
  const rows = Object.keys(entities)
    .sort()
    .map((entity) => {
      const state = entities[entity];
      return el(
        "tr",
        {},
        el("td", {}, entity),
        numberCell(state.queue_depth),
        numberCell(state.consumers),
        numberCell(state.applied_revision),
        numberCell(state.hub_revision),
        numberCell(state.lag_revisions),
        numberCell(state.lag_seconds === null ? null : Math.round(state.lag_seconds)),
        numberCell(state.publish_rate),
        numberCell(state.deliver_rate),
      );
    });
  document.getElementById("queues").replaceChildren(...rows);
}

function renderEvents(events) {
  const rows = events.map((event) =>
    el("tr", {}, el("td", {}, formatTime(event.at)), el("td", {}, event.kind), el("td", {}, event.message)),
  );
  if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 3, class: "muted" }, "No events.")));
  document.getElementById("events").replaceChildren(...rows);
}

async function refresh() {
  const page = await getJson(`/api/stores/${encodeURIComponent(storeId)}`);
  renderFacts(page.store);
  charts.delivered ??= makeChart("delivered-chart", "documents");
  charts.lag ??= makeChart("lag-chart", "revisions");
  updateChart(charts.delivered, page.history, "delivered");
  updateChart(charts.lag, page.history, "lag_revisions");
  renderQueues(page.store.entities);
  renderEvents(page.events);
}

document.getElementById("store-title").textContent = storeId;
poll(refresh);
