/* Formloom formula editor (designer/_macros.html formula_editor): insert a function or a field
   at the cursor, and complete field keys and labels while typing. The live result comes from
   the server (htmx); this script only edits the text. No inline scripts, no eval, no library. */
(function () {
  "use strict";

  function wordBefore(area) {
    var text = area.value.slice(0, area.selectionStart);
    var match = /[^\s()（），,&+\-*/^=<>"']*$/.exec(text);
    return match ? match[0] : "";
  }

  function insert(area, text, replace) {
    var start = area.selectionStart - (replace || 0);
    var end = area.selectionEnd;
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    area.selectionStart = area.selectionEnd = start + text.length;
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function suggest(editor, area) {
    var list = editor.querySelector("[data-formula-suggestions]");
    var word = wordBefore(area).toLowerCase();
    list.innerHTML = "";
    if (!word) { list.hidden = true; return; }
    var shown = 0;
    editor.querySelectorAll("[data-formula-fields] [data-insert]").forEach(function (button) {
      var key = button.getAttribute("data-insert");
      var label = (button.getAttribute("data-label") || "").toLowerCase();
      if (shown >= 8 || key === word || (key.indexOf(word) !== 0 && label.indexOf(word) < 0)) { return; }
      var item = document.createElement("li");
      var choice = document.createElement("button");
      choice.type = "button";
      choice.className = "link";
      choice.setAttribute("data-complete", key);
      choice.textContent = button.getAttribute("data-label") + " — " + key;
      item.appendChild(choice);
      list.appendChild(item);
      shown += 1;
    });
    list.hidden = shown === 0;
  }

  function wire(editor) {
    var area = editor.querySelector("textarea");
    if (!area) { return; }
    editor.addEventListener("click", function (event) {
      var button = event.target.closest("[data-insert], [data-complete]");
      if (!button) { return; }
      event.preventDefault();
      if (button.hasAttribute("data-complete")) {
        insert(area, button.getAttribute("data-complete"), wordBefore(area).length);
        editor.querySelector("[data-formula-suggestions]").hidden = true;
      } else {
        insert(area, button.getAttribute("data-insert"), 0);
      }
    });
    area.addEventListener("input", function () { suggest(editor, area); });
    area.addEventListener("keydown", function (event) {
      var first = editor.querySelector("[data-formula-suggestions]:not([hidden]) [data-complete]");
      if (event.key === "Tab" && first) { event.preventDefault(); first.click(); }
      if (event.key === "Escape") { editor.querySelector("[data-formula-suggestions]").hidden = true; }
    });
  }

  function boot() { document.querySelectorAll("[data-formula-editor]").forEach(wire); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", boot); } else { boot(); }
})();
