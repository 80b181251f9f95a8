// Phones: the collapsible main nav, and tables that read as stacked rows. A static file:
// no inline script (Content-Security-Policy). Without it the nav wraps and tables scroll
// inside their frame, so every page stays usable.
(function () {
  "use strict";

  function setupNav() {
    const header = document.querySelector(".site-header");
    const toggle = document.querySelector(".nav-toggle");
    const nav = document.getElementById("main-nav");
    if (!header || !toggle || !nav) return;
    header.classList.add("nav-collapsible");
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        nav.classList.remove("open");
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }

  // Label every body cell with its column's header, so a narrow screen can show each row
  // as a block of "label: value" lines (CSS: table.stack). The table keeps its roles, so
  // screen readers still read a table when CSS changes how it is laid out.
  function stackTables() {
    document.querySelectorAll("main table").forEach((table) => {
      const heads = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
      if (!heads.length) return;
      table.classList.add("stack");
      table.setAttribute("role", "table");
      table.querySelectorAll("tr").forEach((tr) => tr.setAttribute("role", "row"));
      table.querySelectorAll("thead th").forEach((th) => th.setAttribute("role", "columnheader"));
      table.querySelectorAll("tbody tr, tfoot tr").forEach((tr) => {
        let column = 0;
        Array.from(tr.children).forEach((cell) => {
          if (cell.tagName === "TH") cell.setAttribute("role", "rowheader");
          else cell.setAttribute("role", "cell");
          if (!cell.hasAttribute("data-label") && cell.colSpan === 1 && heads[column] !== undefined) {
            cell.setAttribute("data-label", heads[column]);
          }
          column += cell.colSpan || 1;
        });
      });
      ["thead", "tbody", "tfoot"].forEach((part) => {
        const section = table.querySelector(part);
        if (section) section.setAttribute("role", "rowgroup");
      });
    });
  }

  function start() {
    setupNav();
    stackTables();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  // Rows swapped in by htmx get their labels too.
  document.addEventListener("htmx:afterSwap", stackTables);
})();
