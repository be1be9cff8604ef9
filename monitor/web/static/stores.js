"use strict";
// The grid of every store: counts per status, search, group and status filters.

const STATUS_LABELS = {
  SILENT: "Silent",
  NEVER_CONNECTED: "Never connected",
  LAGGING: "Lagging",
  OK: "OK",
  REMOVED: "Removed",
};
const filters = { q: "", group: "", status: "" };

function renderCounts(counts) {
  const buttons = Object.entries(counts).map(([status, count]) => {
    const selected = filters.status === status ? " selected" : "";
    const button = el(
      "button",
      { type: "button", class: `count status-${status}${selected}`, "data-status": status },
      STATUS_LABELS[status] || status,
      el("b", {}, count),
    );
    button.addEventListener("click", () => {
      filters.status = filters.status === status ? "" : status;
      refresh();
    });
    return button;
  });
  document.getElementById("counts").replaceChildren(...buttons);
}

function renderGroups(groups) {
  const select = document.getElementById("group");
  const options = groups.map((group) => el("option", { value: group }, group));
  select.replaceChildren(el("option", { value: "" }, "all groups"), ...options);
  select.value = groups.includes(filters.group) ? filters.group : "";
}

function tileTitle(store) {
  return [
    `${store.store_id} ${store.name}`,
    `${STATUS_LABELS[store.status] || store.status} since ${formatTime(store.since)}`,
    `last contact ${formatAge(store.last_contact_at)}`,
    `lag ${formatNumber(store.lag_revisions)} revisions, ${formatNumber(store.lag_seconds)} s`,
    `groups: ${store.groups.join(", ") || "none"}`,
  ].join("\n");
}

function renderGrid(stores) {
  const tiles = stores.map((store) =>
    el(
      "a",
      {
        class: `tile status-${store.status}`,
        href: `/stores/${encodeURIComponent(store.store_id)}`,
        title: tileTitle(store),
        "data-store-id": store.store_id,
        "data-status": store.status,
      },
      el("b", {}, store.store_id),
      store.name,
    ),
  );
  document.getElementById("grid").replaceChildren(...tiles);
}

async function refresh() {
  const query = new URLSearchParams(filters);
  const overview = await getJson(`/api/overview?${query}`);
  renderCounts(overview.counts);
  renderGroups(overview.groups);
  renderGrid(overview.stores);
  document.getElementById("matched").textContent =
    `${overview.matched} of ${overview.registered} stores`;
  document.getElementById("updated").textContent =
    `updated ${new Date().toLocaleTimeString()}`;
}

document.getElementById("search").addEventListener("input", (event) => {
  filters.q = event.target.value;
  refresh().catch(() => {});
});
document.getElementById("group").addEventListener("change", (event) => {
  filters.group = event.target.value;
  refresh().catch(() => {});
});
document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());

poll(refresh);
