/* Formloom layout editor: drag fields between sections (SortableJS; mouse and touch). The
   section menu and arrow buttons beside each field do the same without a mouse; this script
   only adds the drag. A drop sets the field's section menu and saves the whole layout (the
   form carries the draft revision and the CSRF token), so the page shows the draft as stored
   and the preview follows. It also re-applies live visibility to a preview htmx swapped in. */
(function () {
  "use strict";
  function start() {
    var form = document.getElementById("layout-form");
    if (!form || !window.Sortable) { return; }
    form.querySelectorAll("[data-drop-section]").forEach(function (list) {
      window.Sortable.create(list, {
        group: "layout", handle: ".drag-handle", animation: 150, ghostClass: "kanban-ghost", forceFallback: true,
        onEnd: function (event) {
          if (event.from === event.to && event.oldIndex === event.newIndex) { return; }
          var select = event.item.querySelector("[data-section-select]");
          if (select) { select.value = event.to.dataset.dropSection; }
          var save = form.querySelector('button[name="do"][value="save"]');
          if (form.requestSubmit && save) { form.requestSubmit(save); } else if (save) { save.click(); }
        }
      });
    });
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    var preview = event.target && event.target.id === "form-preview" ? event.target : null;
    var live = preview && preview.querySelector("form[data-live-form]");
    var first = live && live.querySelector("input, select, textarea");
    if (first) { first.dispatchEvent(new Event("change", { bubbles: true })); }
  });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
