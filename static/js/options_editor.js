/* Formloom designer: reorder the options of a choice field. The arrow buttons beside each
   option move its row up or down the table; the new order is what the settings form posts
   when saved (the server reads the rows in order). Without this script the order is kept. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-option-move]");
    if (!button) { return; }
    var row = button.closest("tr");
    var delta = Number(button.dataset.optionMove);
    var other = delta < 0 ? row.previousElementSibling : row.nextElementSibling;
    if (!other) { return; }
    if (delta < 0) { row.parentNode.insertBefore(row, other); } else { row.parentNode.insertBefore(other, row); }
    button.focus();
  });
})();
