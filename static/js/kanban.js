/* Formloom kanban: drag and drop between columns (SortableJS; mouse and touch), the
   gate dialog, and collapsible won/lost columns. The server decides every move:
   a drop is an htmx POST to the move endpoint; its answer (200, 409 or 422) puts the
   card where the record really is (out-of-band swap) and opens the dialog if needed.
   The keyboard alternative is the "Move to…" menu on each card (plain htmx buttons).
   No inline scripts, no eval: the page runs under a strict CSP. */
(function () {
  "use strict";

  var COLOR = /^#[0-9a-fA-F]{3,8}$/;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function boardQuery() {
    var state = document.getElementById("board-state");
    return state ? state.value : "";
  }

  function putBack(card) {
    var origin = card && card._kanbanOrigin;
    if (!origin || !origin.list.isConnected) { return; }
    origin.list.insertBefore(card, origin.list.firstChild);
    card._kanbanOrigin = null;
  }

  function move(card, to) {
    if (!window.htmx || !card.dataset.moveUrl) { putBack(card); return; }
    card.classList.add("is-moving");
    window.htmx.ajax("POST", card.dataset.moveUrl, {
      source: card,
      target: "#pipeline-dialog-slot",
      swap: "innerHTML",
      values: { to: to, version: card.dataset.version || "", view: "board", board_query: boardQuery() },
      headers: { "X-CSRFToken": csrfToken() }
    });
  }

  function initList(list) {
    if (list.dataset.sortableReady || !window.Sortable) { return; }
    list.dataset.sortableReady = "1";
    window.Sortable.create(list, {
      group: "kanban",
      sort: false,
      draggable: ".kanban-card[data-movable]",
      // the title is a link and a handle: pressing and moving drags the card, a click opens it
      filter: ".move-menu, .kanban-more, button, summary, input, select, textarea",
      preventOnFilter: false,
      delay: 150,
      delayOnTouchOnly: true,
      forceFallback: true,
      fallbackOnBody: true,
      animation: 120,
      ghostClass: "kanban-ghost",
      chosenClass: "kanban-chosen",
      dragClass: "kanban-drag",
      onStart: function (evt) { evt.item._kanbanDragged = true; },
      onEnd: function (evt) {
        var card = evt.item;
        // the release after a drag is not a click on the title link
        window.setTimeout(function () { card._kanbanDragged = false; }, 0);
        if (evt.from === evt.to) { return; }
        card._kanbanOrigin = { list: evt.from };
        move(card, evt.to.dataset.stage);
      }
    });
  }

  function initBoard(root) {
    (root || document).querySelectorAll(".kanban-cards").forEach(initList);
    (root || document).querySelectorAll(".kanban-col[data-color]").forEach(function (col) {
      if (COLOR.test(col.dataset.color)) { col.style.setProperty("--stage-color", col.dataset.color); }
    });
  }

  function openDialog(root) {
    var dialog = root && root.querySelector && root.querySelector("dialog[data-pipeline-dialog]");
    if (!dialog || dialog.open) { return; }
    if (typeof dialog.showModal === "function") {
      dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
    var first = dialog.querySelector(".gate-form input:not([type=hidden]), .gate-form select, .gate-form textarea");
    if (first) { first.focus(); }
  }

  // a card is dragged by SortableJS (pointer events), never by the browser's own link dragging
  document.addEventListener("dragstart", function (event) {
    if (event.target.closest && event.target.closest(".kanban-card")) { event.preventDefault(); }
  }, true);

  document.addEventListener("click", function (event) {
    var dragged = event.target.closest && event.target.closest(".kanban-card");
    if (dragged && dragged._kanbanDragged && event.target.closest("a")) {
      event.preventDefault();
      return;
    }
    var toggle = event.target.closest && event.target.closest("[data-collapse-toggle]");
    if (toggle) {
      var col = toggle.closest(".kanban-col");
      var collapsed = col.classList.toggle("collapsed");
      toggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
      return;
    }
    // a choice in the Move-to menu closes the menu
    var choice = event.target.closest && event.target.closest(".move-menu button");
    if (choice) {
      var menu = choice.closest("details");
      if (menu) { menu.open = false; }
    }
  });

  // opened once htmx has settled the dialog's content: before that its pickers and live checks
  // have no listeners yet, and what someone typed at once would send nothing
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "pipeline-dialog-slot") { openDialog(target); }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || !elt.classList || !elt.classList.contains("kanban-card")) { return; }
    elt.classList.remove("is-moving");
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status !== 200 && status !== 409 && status !== 422) {
      // refused outright (403, 404, network): the card goes back where it came from
      putBack(elt);
      var slot = document.getElementById("board-status");
      if (slot) { slot.textContent = "Not moved (" + (status || "no answer") + ")"; }
    }
  });

  // a closed dialog leaves nothing behind
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (dialog && dialog.matches && dialog.matches("dialog[data-pipeline-dialog]") && dialog.parentNode &&
        dialog.parentNode.id === "pipeline-dialog-slot" && !dialog.hasAttribute("data-keep")) {
      dialog.remove();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    initBoard(document);
    var slot = document.getElementById("pipeline-dialog-slot");
    if (slot && !slot.classList.contains("gate-page")) { openDialog(slot); }
  });
})();
