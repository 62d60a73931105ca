/* @mention picker for comment boxes (records/_activity.html): typing "@" and a few
   letters asks the server who may read the record, and offers only those people.
   Arrow keys move, Enter or Tab picks, Escape closes. Works after htmx swaps
   because it listens on the document. */
(function () {
  "use strict";
  var timer = null;

  function box(el) { return el && el.matches && el.matches("textarea[data-mention-url]") ? el : null; }
  function list(area) { return document.getElementById(area.getAttribute("aria-controls")); }

  function query(area) {
    var upto = area.value.slice(0, area.selectionStart);
    var m = /(^|\s)@([^\s@]{0,40})$/.exec(upto);
    return m ? { text: m[2], start: upto.length - m[2].length - 1 } : null;
  }

  function close(area) {
    var ul = list(area);
    if (!ul) return;
    ul.hidden = true; ul.innerHTML = "";
    area.removeAttribute("data-open");
    area.removeAttribute("aria-activedescendant");
  }

  function pick(area, li) {
    var q = query(area);
    if (!q) return close(area);
    var name = li.getAttribute("data-name");
    var before = area.value.slice(0, q.start), after = area.value.slice(area.selectionStart);
    area.value = before + "@" + name + " " + after;
    var at = (before + "@" + name + " ").length;
    area.setSelectionRange(at, at);
    close(area);
    area.focus();
  }

  function show(area, people) {
    var ul = list(area);
    if (!ul) return;
    ul.innerHTML = "";
    people.forEach(function (p, i) {
      var li = document.createElement("li");
      li.id = "mention-option-" + p.id;
      li.setAttribute("role", "option");
      li.setAttribute("data-name", p.name);
      li.setAttribute("aria-selected", i === 0 ? "true" : "false");
      li.textContent = p.name;
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(area, li); });
      ul.appendChild(li);
    });
    if (!people.length) return close(area);
    ul.hidden = false;
    area.setAttribute("data-open", "true");
    area.setAttribute("aria-activedescendant", ul.firstChild.id);
  }

  function lookup(area) {
    var q = query(area);
    if (!q) return close(area);
    var url = area.getAttribute("data-mention-url") + "?q=" + encodeURIComponent(q.text);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { people: [] }; })
      .then(function (body) { if (query(area)) show(area, body.people || []); })
      .catch(function () { close(area); });
  }

  document.addEventListener("input", function (e) {
    var area = box(e.target);
    if (!area) return;
    clearTimeout(timer);
    timer = setTimeout(function () { lookup(area); }, 150);
  });

  document.addEventListener("keydown", function (e) {
    var area = box(e.target);
    if (!area || area.getAttribute("data-open") !== "true") return;
    var ul = list(area), items = Array.prototype.slice.call(ul.children);
    var cur = items.findIndex(function (li) { return li.getAttribute("aria-selected") === "true"; });
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      var next = (cur + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === next ? "true" : "false"); });
      area.setAttribute("aria-activedescendant", items[next].id);
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      pick(area, items[Math.max(cur, 0)]);
    } else if (e.key === "Escape") {
      e.preventDefault();
      close(area);
    }
  });

  document.addEventListener("focusout", function (e) {
    var area = box(e.target);
    if (area) setTimeout(function () { close(area); }, 100);
  });
})();
