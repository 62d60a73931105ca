/* The dashboard builder's widget form: show only the controls the chosen kind of widget and
   measure use (what each kind needs comes from the registry, in data-kinds), and reload the
   form when the entity changes (its fields are the choices; a series' entity: the server
   re-offers that series' choices). The live preview is htmx's. */
(function () {
  "use strict";
  function init() {
    var form = document.getElementById("widget-form");
    if (!form) { return; }
    var kinds = JSON.parse(form.getAttribute("data-kinds"));
    var type = form.querySelector("#w-type");
    var agg = form.querySelector("#w-agg");
    function sync() {
      var kind = kinds.filter(function (k) { return k.value === type.value; })[0] || {};
      Array.prototype.forEach.call(form.querySelectorAll("[data-needs]"), function (el) {
        el.hidden = !kind[el.getAttribute("data-needs")];
      });
      Array.prototype.forEach.call(form.querySelectorAll("[data-only]"), function (el) {
        el.hidden = el.getAttribute("data-only") !== type.value;
      });
      if (!agg) { return; }          // a widget of series: each row has its own measure
      var needs = agg.options[agg.selectedIndex] ? agg.options[agg.selectedIndex].getAttribute("data-field") : "none";
      Array.prototype.forEach.call(form.querySelectorAll("[data-agg-needs]"), function (el) {
        var want = el.getAttribute("data-agg-needs");
        el.hidden = want === "parts" ? needs !== "parts" : (needs === "none" || needs === "parts");
      });
    }
    type.addEventListener("change", sync);
    if (agg) { agg.addEventListener("change", sync); }
    var refresh = form.querySelector("#series-refresh");
    Array.prototype.forEach.call(form.querySelectorAll("[data-series-entity]"), function (select) {
      select.addEventListener("change", function () { if (refresh) { refresh.click(); } });
    });
    var entity = form.querySelector("#w-entity");
    var related = form.querySelector("#w-related");
    function reload(withRelated) {       // the fields offered depend on the entity and its related records
      var url = new URL(window.location.href);
      url.searchParams.set("entity", entity.value);
      url.searchParams.set("type", type.value);
      if (withRelated && related) { url.searchParams.set("related", related.value); } else { url.searchParams.delete("related"); }
      window.location.assign(url.toString());
    }
    if (entity) { entity.addEventListener("change", function () { reload(false); }); }
    if (related) { related.addEventListener("change", function () { reload(true); }); }
    sync();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
