/* Formloom condition builder (templates/designer/_condition_builder.html): add and remove
   rows and groups, offer the operators of the chosen field's kind, swap the value input
   for the field's, and keep the "Show JSON" view in step. The server reads the rows back
   (design/condition_builder.py from_form) and decides; this script only edits the page.
   No inline scripts, no eval, no library. */
(function () {
  "use strict";

  function data(root, name) {
    try { return JSON.parse(root.getAttribute(name) || "{}"); } catch (e) { return {}; }
  }

  function fromTemplate(root, selector, id) {
    var template = root.querySelector(selector);
    if (!template) { return null; }
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.split("__ID__").join(id);
    return holder.firstElementChild ? holder : null;
  }

  function nextId(root) {
    var id = parseInt(root.dataset.nextId || "1", 10);
    root.dataset.nextId = String(id + 1);
    return id;
  }

  function rowId(row) { return row.getAttribute("data-cb-item"); }

  function setOperators(root, row, kind) {
    var ops = data(root, "data-operators");
    var select = row.querySelector("[data-cb-op]");
    var current = select.value;
    select.innerHTML = "";
    Object.keys(ops).forEach(function (name) {
      if (ops[name].kinds.indexOf(kind) < 0) { return; }
      var option = document.createElement("option");
      option.value = name;
      option.textContent = ops[name].text;
      if (name === current) { option.selected = true; }
      select.appendChild(option);
    });
  }

  function setValue(root, row) {
    var fields = data(root, "data-fields");
    var key = row.querySelector("[data-cb-field]").value;
    var holder = fromTemplate(root, 'template[data-cb-value-for="' + key + '"]', rowId(row)) ||
      fromTemplate(root, 'template[data-cb-value-kind="' + (fields[key] || "text") + '"]', rowId(row));
    var slot = row.querySelector("[data-cb-value]");
    if (holder) { slot.innerHTML = holder.innerHTML; }
    applyArity(root, row);
  }

  function applyArity(root, row) {
    var ops = data(root, "data-operators");
    var op = ops[row.querySelector("[data-cb-op]").value] || { arity: "one" };
    var input = row.querySelector("[data-cb-value] select, [data-cb-value] input");
    if (!input) { return; }
    input.disabled = op.arity === "none";
    row.querySelector("[data-cb-value]").hidden = op.arity === "none";
    if (input.tagName === "SELECT" && input.querySelector('option[value="true"]') === null) {
      input.multiple = op.arity === "many";
    }
    if (input.tagName === "INPUT" && op.arity === "many") { input.type = "text"; }
  }

  function typed(kind, text) {
    if (kind === "number") { var n = Number(text); return isNaN(n) ? text : n; }
    if (kind === "id" || kind === "ids") { var i = parseInt(String(text).replace("#", ""), 10); return isNaN(i) ? text : i; }
    if (kind === "bool") { return text === "true"; }
    return text;
  }

  function rowLogic(root, row) {
    var ops = data(root, "data-operators");
    var fields = data(root, "data-fields");
    var key = row.querySelector("[data-cb-field]").value;
    var op = ops[row.querySelector("[data-cb-op]").value];
    if (!key || !op) { return null; }
    var kind = fields[key] || "text";
    var v = { "var": key };
    var out = {};
    if (op.arity === "none") { out[op.logic] = v; return out; }
    var input = row.querySelector("[data-cb-value] select, [data-cb-value] input");
    var texts = [];
    if (input && input.tagName === "SELECT" && input.multiple) {
      texts = Array.prototype.map.call(input.selectedOptions, function (o) { return o.value; });
    } else if (input) {
      texts = op.arity === "many" ? input.value.split(/[,，]/) : [input.value];
    }
    texts = texts.map(function (t) { return t.trim(); }).filter(function (t) { return t !== ""; });
    var values = texts.map(function (t) { return typed(kind, t); });
    var value = op.arity === "many" ? values : (values.length ? values[0] : null);
    out[op.logic] = op.reversed ? [value, v] : [v, value];
    return out;
  }

  function groupLogic(root, list, mode) {
    var parts = [];
    Array.prototype.forEach.call(list.children, function (item) {
      if (item.classList.contains("cb-group")) {
        var inner = groupLogic(root, item.querySelector("[data-cb-group]"), item.querySelector("select").value);
        if (inner) { parts.push(inner); }
      } else {
        var logic = rowLogic(root, item);
        if (logic) { parts.push(logic); }
      }
    });
    if (!parts.length) { return null; }
    var out = {};
    out[mode === "any" ? "or" : "and"] = parts;
    return out;
  }

  function shown(logic) {          // as condition_builder.shown_json: one line when short
    var line = JSON.stringify(logic);
    return line.length <= 72 ? line : JSON.stringify(logic, null, 1);
  }

  function refreshJson(root) {
    var pre = root.querySelector("[data-cb-json]");
    var list = root.querySelector('[data-cb-group="root"]');
    if (!pre || !list) { return; }
    var mode = root.querySelector("[data-cb-mode]").value;
    var logic = groupLogic(root, list, mode);
    var top = list.children;
    if (logic && mode === "all" && top.length === 1 && !top[0].classList.contains("cb-group")) {
      logic = logic.and[0];
    }
    pre.textContent = shown(logic);
    var edit = root.querySelector("[data-cb-edit-json]");
    var area = root.querySelector("textarea");
    if (area && edit && !edit.checked) { area.value = logic ? shown(logic) : ""; }
  }

  function add(root, button) {
    var kind = button.getAttribute("data-cb-add");
    var group = button.closest(".cb-group");
    var list = group ? group.querySelector("[data-cb-group]") : root.querySelector('[data-cb-group="root"]');
    var id = nextId(root);
    if (group) { id = rowId(group) + "." + id; }
    var holder = fromTemplate(root, 'template[data-cb-template="' + kind + '"]', id);
    if (!holder) { return; }
    var item = holder.firstElementChild;
    list.appendChild(item);
    start(root, item);
    var empty = root.querySelector(".cb-empty");
    if (empty) { empty.hidden = true; }
    var first = item.querySelector("select");
    if (kind === "group") { item.querySelector('[data-cb-add="row"]').click(); }
    if (first) { first.focus(); }
    refreshJson(root);
  }

  function start(root, scope) {
    scope.querySelectorAll("[data-cb-add], [data-cb-remove]").forEach(function (b) { b.hidden = false; });
    scope.querySelectorAll(".cb-row").forEach(function (row) { applyArity(root, row); });
    if (scope.classList && scope.classList.contains("cb-row")) { applyArity(root, scope); }
  }

  function wire(root) {
    start(root, root);
    // groups nest one level: no "add group" inside a group
    root.addEventListener("click", function (event) {
      var button = event.target.closest("[data-cb-add], [data-cb-remove]");
      if (!button || !root.contains(button)) { return; }
      event.preventDefault();
      if (button.hasAttribute("data-cb-add")) { add(root, button); return; }
      button.closest("[data-cb-item]").remove();
      refreshJson(root);
    });
    root.addEventListener("change", function (event) {
      var row = event.target.closest(".cb-row");
      if (row && event.target.hasAttribute("data-cb-field")) {
        var fields = data(root, "data-fields");
        setOperators(root, row, fields[event.target.value] || "text");
        setValue(root, row);
      } else if (row && event.target.hasAttribute("data-cb-op")) {
        var slot = row.querySelector("[data-cb-value] select, [data-cb-value] input");
        var wasMany = slot && slot.multiple;
        applyArity(root, row);
        if (slot && wasMany !== slot.multiple) { setValue(root, row); }
      }
      refreshJson(root);
    });
    root.addEventListener("input", function (event) {
      if (event.target.tagName === "TEXTAREA") {     // typing JSON means using it
        var edit = root.querySelector("[data-cb-edit-json]");
        if (edit) { edit.checked = true; }
        return;
      }
      refreshJson(root);
    });
  }

  function boot() { document.querySelectorAll("[data-condition-builder]").forEach(wire); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", boot); } else { boot(); }
})();
