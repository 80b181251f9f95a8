// The studio's forms. No inline scripts anywhere (Content-Security-Policy): behaviour is
// wired here from data attributes. Without this script every form still works; the server
// checks everything again.
(function () {
  "use strict";

  function readJSON(id) {
    const el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function fieldBox(form, name) {
    const input = form.querySelector("[name=" + name + "]");
    return input ? input.closest(".field") : null;
  }

  // New video: greys out what the chosen program or its model cannot make, with the reason.
  function setupOptions() {
    const options = readJSON("studio-options");
    document.querySelectorAll("form[data-studio-form]").forEach((form) => {
      const program = form.querySelector("select[name=program]");
      if (!options || !program) return;
      function apply() {
        const o = options.find((x) => String(x.program) === program.value);
        if (!o) return;
        const select = form.querySelector("select[name=resolution]");
        if (select) {
          const reasons = [];
          o.resolutions.forEach((r) => {
            const opt = select.querySelector("option[value='" + r.value + "']");
            if (!opt) return;
            opt.disabled = !r.allowed;
            opt.textContent = r.allowed ? r.value : r.value + " (not available: " + r.reason + ")";
            if (!r.allowed) reasons.push(r.value + ": " + r.reason + ".");
          });
          if (select.selectedOptions.length && select.selectedOptions[0].disabled) {
            const first = Array.from(select.options).find((opt) => !opt.disabled);
            if (first) select.value = first.value;
          }
          const help = select.closest(".field") && select.closest(".field").querySelector(".help");
          if (help) help.textContent = reasons.length ? "Greyed out: " + reasons.join(" ") : "";
        }
        form.querySelectorAll("input[data-max-seconds], input[name=duration_seconds]").forEach((input) => {
          input.max = o.max_duration_seconds;
        });
        document.querySelectorAll(".demo-model[data-program]").forEach((note) => {
          note.hidden = note.dataset.program !== program.value;
        });
        form.querySelectorAll("[data-needs-image-to-video]").forEach((el) => {
          el.hidden = !o.image_to_video;
        });
      }
      program.addEventListener("change", apply);
      apply();
    });
  }

  // Derived videos: show only the fields of the chosen mode.
  function setupModeFields() {
    document.querySelectorAll("form[data-mode-fields]").forEach((form) => {
      const mode = form.querySelector("select[name=mode]");
      const spec = readJSON(form.dataset.modeFields);
      if (!mode || !spec) return;
      const all = new Set();
      Object.values(spec).forEach((names) => names.forEach((n) => all.add(n)));
      function apply() {
        const shown = new Set(spec[mode.value] || []);
        all.forEach((name) => {
          const box = fieldBox(form, name);
          if (!box) return;
          box.hidden = !shown.has(name);
          box.querySelectorAll("input, select, textarea").forEach((el) => { el.disabled = !shown.has(name); });
        });
      }
      mode.addEventListener("change", apply);
      apply();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupOptions();
    setupModeFields();
  });
})();
