"use strict";
// Helpers of every dashboard page: polling JSON, the health banner, formatting.

const REFRESH_MS = 5000;
// Polling stops after about 12 hours, so a forgotten tab does not poll forever.
const MAX_REFRESHES = (12 * 3600 * 1000) / REFRESH_MS;

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) {
    let message = `${url}: HTTP ${response.status}`;
    try {
      const body = await response.json();
      if (body.detail) message = `${message}: ${JSON.stringify(body.detail)}`;
    } catch (error) {
      // The body was not JSON; the status line is all there is.
    }
    throw new Error(message);
  }
  return response.json();
}

function showBanner(id, lines) {
  const banner = document.getElementById(id);
  banner.replaceChildren(...lines.map((line) => el("p", {}, line)));
  banner.hidden = lines.length === 0;
}

// Calls load() now and every REFRESH_MS; a failure shows a banner and the
// page keeps what it showed last.
function poll(load) {
  let refreshes = 0;
  let lastSuccess = null;
  const run = async () => {
    refreshes += 1;
    try {
      await load();
      lastSuccess = new Date();
      showBanner("fetch-error", []);
    } catch (error) {
      const since = lastSuccess ? ` Showing the data of ${lastSuccess.toLocaleTimeString()}.` : "";
      showBanner("fetch-error", [`Cannot load the data: ${error.message}.${since}`]);
    }
    if (refreshes < MAX_REFRESHES) {
      setTimeout(run, REFRESH_MS);
    } else {
      showBanner("fetch-error", ["Automatic refresh stopped after 12 hours; reload the page."]);
    }
  };
  run();
}

async function loadHealth() {
  try {
    const health = await getJson("/api/health");
    showBanner("health-banner", health.problems);
  } catch (error) {
    showBanner("health-banner", [`Cannot reach the monitor: ${error.message}`]);
  }
}

// Creates an element with attributes and children; strings become text, so
// store names never become markup.
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  node.append(...children.map((child) => (child instanceof Node ? child : String(child ?? ""))));
  return node;
}

function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "never";
}

function formatNumber(value) {
  return value === null || value === undefined ? "–" : value.toLocaleString();
}

function formatAge(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

function numberCell(value) {
  return el("td", { class: "number" }, formatNumber(value));
}

poll(loadHealth);
