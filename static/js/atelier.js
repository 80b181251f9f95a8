// Atelier's only script besides htmx. No inline scripts anywhere (Content-Security-Policy).
(function () {
  "use strict";

  function humanDuration(ms) {
    const s = Math.max(0, Math.floor(Math.abs(ms) / 1000));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + m + " min";
    return m + " min " + (s % 60) + " s";
  }

  // Countdowns to a deadline: <time data-due="ISO">. The server renders the first text.
  function tickCountdowns() {
    const now = Date.now();
    document.querySelectorAll("[data-due]").forEach((el) => {
      const due = Date.parse(el.dataset.due);
      if (Number.isNaN(due)) return;
      const left = due - now;
      el.textContent = left >= 0 ? "due in " + humanDuration(left) : "overdue by " + humanDuration(left);
      el.classList.toggle("overdue", left < 0);
    });
  }

  // Keyboard moderation: j/k move through a [data-keyboard-list], Enter opens, x selects.
  function setupQueueKeys() {
    const table = document.querySelector("[data-keyboard-list]");
    if (!table) return;
    const rows = Array.from(table.querySelectorAll("tbody tr[data-href]"));
    let index = -1;
    function select(i) {
      if (!rows.length) return;
      index = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach((r) => r.classList.remove("selected"));
      rows[index].classList.add("selected");
      rows[index].focus();
    }
    document.addEventListener("keydown", (event) => {
      if (event.target.closest("input, textarea, select") || event.metaKey || event.ctrlKey) return;
      if (event.key === "j") select(index + 1);
      else if (event.key === "k") select(index - 1);
      else if (event.key === "Enter" && index >= 0) window.location = rows[index].dataset.href;
      else if (event.key === "x" && index >= 0) {
        const box = rows[index].querySelector("input[type=checkbox]");
        if (box) box.checked = !box.checked;
      }
    });
  }

  // On the review screen: a / r / c pick the decision (and focus what it needs).
  function setupDecisionKeys() {
    const form = document.querySelector("[data-decision-form]");
    if (!form) return;
    const pick = { a: "approve", r: "reject", c: "request_changes" };
    document.addEventListener("keydown", (event) => {
      if (event.target.closest("input[type=text], textarea, select") || event.metaKey || event.ctrlKey) return;
      const value = pick[event.key];
      if (!value) return;
      const radio = form.querySelector("input[name=decision][value=" + value + "]");
      if (!radio) return;
      radio.checked = true;
      const next = value === "reject" ? form.querySelector("select[name=reason_code]")
        : value === "request_changes" ? form.querySelector("textarea[name=note]") : form.querySelector("button[type=submit]");
      if (next) next.focus();
      event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    tickCountdowns();
    if (document.querySelector("[data-due]")) window.setInterval(tickCountdowns, 1000);
    setupQueueKeys();
    setupDecisionKeys();
  });
})();
