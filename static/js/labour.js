// Review queue rows: a refused decision (400 bad input, 403, 409 already reviewed) comes
// back as the row with its message, so swap it in instead of htmx's default of ignoring
// error responses. No inline scripts anywhere (Content-Security-Policy).
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  const row = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("[data-review-row]");
  if (row && (status === 400 || status === 403 || status === 409)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
