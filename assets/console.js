// Postdate console: the few things that need a script. Pages work without it (times then show in UTC).
"use strict";

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const local = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

// "in 5 min" / "3 h ago", with the local date and time after it; UTC stays in the title.
function relativeText(ms) {
  const seconds = Math.round((ms - Date.now()) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return "";
}

function formatTimes(root) {
  for (const el of root.querySelectorAll("time[data-ms]")) {
    const ms = Number(el.dataset.ms);
    if (!el.dataset.utc) el.dataset.utc = el.title;
    const zoned = el.closest("ol.fires") ? el.dataset.utc : local.format(new Date(ms));
    el.textContent = `${relativeText(ms)} · ${zoned}`;
  }
}

// The overview's live part reloads itself while the tab is visible.
function autoRefresh() {
  for (const el of document.querySelectorAll("[data-refresh]")) {
    const every = Number(el.dataset.every || 5) * 1000;
    setInterval(async () => {
      if (document.hidden) return;
      try {
        const response = await fetch(el.dataset.refresh, { credentials: "same-origin" });
        if (response.ok) {
          el.innerHTML = await response.text();
          formatTimes(el);
        }
      } catch (_) { /* the next round tries again */ }
    }, every);
  }
}

// The schedule form previews the next fire times as you type, and says what is wrong next to the field.
function cronPreview() {
  const input = document.querySelector("[data-cron-preview]");
  if (!input) return;
  const out = document.getElementById("cron-preview");
  const error = document.getElementById("cron-live");
  let timer;
  const update = async () => {
    const value = input.value.trim();
    if (!value) { out.replaceChildren(); error.hidden = true; input.removeAttribute("aria-invalid"); return; }
    const response = await fetch(`${input.dataset.cronPreview}?cron=${encodeURIComponent(value)}`, { credentials: "same-origin" });
    const body = await response.json().catch(() => ({ error: "no answer" }));
    if (!response.ok) {
      error.textContent = body.error || "invalid cron expression";
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      out.replaceChildren();
      return;
    }
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    const description = document.createElement("p");
    description.textContent = `Runs ${body.description}. Next five fire times (${body.zone}):`;
    const list = document.createElement("ol");
    list.className = "fires";
    for (const t of body.times) {
      const item = document.createElement("li");
      item.textContent = t.local;
      item.title = new Date(t.ms).toISOString();
      list.append(item);
    }
    out.replaceChildren(description, list);
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 200); });
  update();
}

// Signing keys are masked until revealed.
function reveal() {
  for (const button of document.querySelectorAll("[data-reveal]")) {
    button.addEventListener("click", () => {
      const code = button.parentElement.querySelector("[data-secret]");
      const shown = button.textContent === "Hide";
      if (!code.dataset.masked) code.dataset.masked = code.textContent;
      code.textContent = shown ? code.dataset.masked : code.dataset.secret;
      button.textContent = shown ? "Reveal" : "Hide";
    });
  }
}

// "Select all" for the DLQ's checkboxes.
function selectAll() {
  for (const box of document.querySelectorAll("[data-select-all]")) {
    box.addEventListener("change", () => {
      for (const item of document.querySelectorAll(`input[name="${box.dataset.selectAll}"]`)) item.checked = box.checked;
    });
  }
}

// Filter forms send the browser's UTC offset with their local date-times.
function localRange() {
  for (const form of document.querySelectorAll("[data-local-range]")) {
    form.addEventListener("submit", () => {
      form.elements.tz.value = String(new Date().getTimezoneOffset());
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  formatTimes(document);
  autoRefresh();
  cronPreview();
  reveal();
  selectAll();
  localRange();
});
