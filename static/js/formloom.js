/* Formloom: the little the browser does on top of server-rendered pages.
   - live visible_if: each field carries its JSON Logic rule in data-visible-if;
     the same rule is evaluated on the server, which decides.
   - the reference picker: pick a search result, remove a picked one.
   - the filter form: offer only the operators of the chosen field.
   No inline scripts and no eval, so the page runs under a strict CSP. */
(function () {
  "use strict";

  var NUMBER = /^-?\d+(\.\d+)?$/;

  function formValues(form) {
    var data = {};
    var counts = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.type === "checkbox") { counts[el.name] = (counts[el.name] || 0) + 1; }
    });
    Array.prototype.forEach.call(form.elements, function (el) {
      var name = el.name;
      if (!name || name.charAt(0) === "_" || name === "csrf_token" || name === "q") { return; }
      if (el.type === "checkbox") {
        if (counts[name] > 1) {
          data[name] = data[name] || [];
          if (el.checked) { data[name].push(el.value); }
        } else {
          data[name] = el.checked;
        }
        return;
      }
      if (el.type === "radio") {
        if (el.checked) { data[name] = el.value; }
        return;
      }
      if (el.tagName === "SELECT" && el.multiple) {
        data[name] = Array.prototype.map.call(el.selectedOptions, function (o) { return o.value; });
        return;
      }
      var value = el.value;
      if (value === "") { value = null; } else if (NUMBER.test(value)) { value = Number(value); }
      if (el.hasAttribute("data-picker-value")) {
        var ids = el.value.split(/[\s,]+/).filter(function (v) { return v !== ""; }).map(Number);
        data[name] = el.closest("[data-picker]").dataset.multiple === "true" ? ids : (ids.length ? ids[0] : null);
        return;
      }
      if (!(name in data)) { data[name] = value; }
    });
    var now = new Date();
    data.$stage = form.dataset.stage || null;
    data.$now = now.toISOString();
    data.$today = now.toISOString().slice(0, 10);
    return data;
  }

  function applyVisibility(form) {
    if (!form || !window.jsonLogic) { return; }
    var data = formValues(form);
    form.querySelectorAll("[data-visible-if]").forEach(function (wrapper) {
      var shown = true;
      try {
        shown = window.jsonLogic.truthy(window.jsonLogic.apply(JSON.parse(wrapper.dataset.visibleIf), data));
      } catch (e) {
        shown = true;   // the server decides; never hide a field because the browser could not tell
      }
      wrapper.hidden = !shown;
    });
  }

  function liveForms(root) {
    (root || document).querySelectorAll("form[data-live-form]").forEach(applyVisibility);
  }

  // -- reference picker ------------------------------------------------------
  function pickedIds(picker) {
    var input = picker.querySelector("[data-picker-value]");
    return input.value.split(/[\s,]+/).filter(function (v) { return v !== ""; });
  }

  function setPickedIds(picker, ids) {
    picker.querySelector("[data-picker-value]").value = ids.join(", ");
  }

  function pick(button) {
    var picker = button.closest("[data-picker]");
    if (!picker) { return; }
    var id = String(button.dataset.pickId || "").replace(/[^0-9]/g, "");
    if (!id) { return; }
    var multiple = picker.dataset.multiple === "true";
    var ids = multiple ? pickedIds(picker) : [];
    var list = picker.querySelector(".picked");
    if (!multiple) { list.textContent = ""; }
    if (ids.indexOf(id) === -1) {
      ids.push(id);
      var item = document.createElement("li");
      item.dataset.id = id;
      var label = document.createElement("span");
      label.textContent = button.dataset.pickTitle || ("#" + id);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "unpick link";
      remove.setAttribute("aria-label", "×");
      remove.textContent = "×";
      item.appendChild(label);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(remove);
      list.appendChild(item);
    }
    setPickedIds(picker, ids);
    var results = picker.querySelector(".picker-results");
    if (results) { results.textContent = ""; }
    var search = picker.querySelector("input[type=search]");
    if (search) { search.value = ""; }
    var wrapper = picker.closest(".field");
    if (wrapper) {
      wrapper.classList.remove("has-error");
      wrapper.querySelectorAll(".error-text").forEach(function (p) { p.remove(); });
    }
    applyVisibility(picker.closest("form"));
  }

  function unpick(button) {
    var picker = button.closest("[data-picker]");
    var item = button.closest("li");
    var form = button.closest("form");
    setPickedIds(picker, pickedIds(picker).filter(function (v) { return v !== item.dataset.id; }));
    item.remove();
    applyVisibility(form);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) { return; }
    var choice = target.closest("button[data-pick-id]");
    if (choice) { event.preventDefault(); pick(choice); return; }
    var remove = target.closest("button.unpick");
    if (remove) { event.preventDefault(); unpick(remove); }
  });

  // -- filter form: only the operators the chosen field understands -----------
  function syncOperators(form) {
    var fieldSelect = form.querySelector("[data-filter-field]");
    var opSelect = form.querySelector("[data-filter-op]");
    if (!fieldSelect || !opSelect || !fieldSelect.selectedOptions.length) { return; }
    var allowed = (fieldSelect.selectedOptions[0].dataset.ops || "").split(" ");
    var firstAllowed = null;
    Array.prototype.forEach.call(opSelect.options, function (option) {
      var ok = allowed.indexOf(option.value) !== -1;
      option.hidden = !ok;
      option.disabled = !ok;
      if (ok && firstAllowed === null) { firstAllowed = option.value; }
    });
    if (opSelect.selectedOptions.length === 0 || opSelect.selectedOptions[0].disabled) {
      opSelect.value = firstAllowed;
    }
    syncValueInput(form, fieldSelect.value);
  }

  // the value is asked for the way the chosen field shows it (options, a picker, a name)
  function syncValueInput(form, key) {
    var inputs = form.querySelectorAll("[data-filter-value]");
    var special = form.querySelector('[data-filter-value="' + key + '"]') ? key : "";
    Array.prototype.forEach.call(inputs, function (el) {
      var on = el.dataset.filterValue === special;
      el.hidden = !on;
      var named = el.getAttribute("name") === "fv" ? [el] : el.querySelectorAll("[name=fv]");
      Array.prototype.forEach.call(named, function (input) { input.disabled = !on; });
    });
  }

  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form[data-live-form]");
    if (form) { applyVisibility(form); }
  });
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-live-form]");
    if (form) { applyVisibility(form); }
    var filter = event.target.closest && event.target.closest("form[data-filter-form]");
    if (filter) { syncOperators(filter); }
    // bulk edit: "select every record on this page" ticks the row boxes of the same form
    if (event.target.matches && event.target.matches("input[data-select-all]")) {
      var formId = event.target.getAttribute("form");
      document.querySelectorAll('input[name="ids"][form="' + formId + '"]').forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var form = event.target.closest && event.target.closest("form[data-live-form]");
    if (form) { applyVisibility(form); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    liveForms(document);
    document.querySelectorAll("form[data-filter-form]").forEach(syncOperators);
  });
})();
