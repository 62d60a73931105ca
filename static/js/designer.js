/* Formloom designer: reorder fields by dragging (SortableJS). The arrow buttons beside
   each field do the same without a mouse; this script only adds the drag. After a drop
   the whole order is posted (with the draft revision and the CSRF token) and the page
   reloads, so it shows the draft as stored, with its problems. */
(function () {
  "use strict";
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) { return ""; }
  }
  function start() {
    var list = document.querySelector("[data-sortable]");
    if (!list || !window.Sortable) { return; }
    window.Sortable.create(list, {
      handle: ".drag-handle", animation: 150, ghostClass: "kanban-ghost", forceFallback: true,
      onEnd: function (event) {
        if (event.oldIndex === event.newIndex) { return; }
        var body = new URLSearchParams();
        body.append("revision", list.dataset.revision);
        list.querySelectorAll("[data-key]").forEach(function (item) { body.append("keys", item.dataset.key); });
        fetch(list.dataset.orderUrl, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" }
        }).then(function () { window.location.reload(); });
      }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
