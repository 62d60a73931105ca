/* Dashboards: draw each <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">
   with Chart.js (static/vendor/chartjs). No inline code anywhere (the CSP forbids it); every chart has
   the same numbers in a table next to it. Clicking a bar, slice, point or step opens its records. The period form submits itself when a choice changes. */
(function () {
  "use strict";
  var PALETTE = ["#2160d6", "#1a7a43", "#d9822b", "#8e44ad", "#c62a2a", "#16a2b8", "#7f8c8d", "#b8860b", "#2c3e50", "#e84393"];

  /* How a series' numbers read on its axis and in its tooltips; `symbol` is the currency sign of a
     money series (the server's, so the chart, its table and the cards agree: ¥1,234,567). */
  function formatter(format, lang, symbol) {
    var locale = lang === "zh" ? "zh-CN" : "en";
    return function (value) {
      if (value === null || value === undefined) { return "—"; }
      if (format === "percent") { return new Intl.NumberFormat(locale, {style: "percent", maximumFractionDigits: 1}).format(value); }
      if (format === "days") { return new Intl.NumberFormat(locale, {maximumFractionDigits: 1}).format(value) + (lang === "zh" ? " 天" : " d"); }
      var text = new Intl.NumberFormat(locale, {maximumFractionDigits: format === "money" ? 0 : 2}).format(Math.abs(value));
      return (value < 0 ? "-" : "") + (format === "money" && symbol ? symbol : "") + text;
    };
  }
  function seriesFormatter(s, lang) { return s ? formatter(s.format, lang, s.symbol) : formatter("number", lang); }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    var text = canvas.getAttribute("data-chart-spec") || (source && source.textContent);   // the builder's preview: on the canvas
    if (!text || typeof window.Chart === "undefined") { return; }
    var spec = JSON.parse(text);
    var round = spec.type === "pie" || spec.type === "donut";
    var kind = {bar: "bar", line: "line", pie: "pie", donut: "doughnut", funnel: "bar"}[spec.type] || "bar";
    var datasets = spec.series.map(function (s, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: s.label, data: s.values,
        backgroundColor: round ? spec.labels.map(function (_l, j) { return PALETTE[j % PALETTE.length]; }) : colour,
        borderColor: round ? "#fff" : colour, tension: 0.25, fill: false,
        yAxisID: !round && i > 0 && s.format !== spec.series[0].format ? "y2" : "y"
      };
    });
    var format = seriesFormatter(spec.series[0], spec.lang);
    var links = spec.links || [];
    var options = {
      responsive: true, maintainAspectRatio: false, animation: false,
      onClick: function (_event, elements) {          // drill down: the records behind this bar, slice or step
        if (!elements.length) { return; }
        var own = (spec.series[elements[0].datasetIndex] || {}).links;      // a chart of series: that series' records
        var link = (own || links)[elements[0].index];
        if (link) { window.location.assign(link); }
      },
      onHover: function (event, elements) {
        event.native.target.style.cursor = elements.length && (links.length || spec.series[0].links) ? "pointer" : "default";
      },
      plugins: {legend: {display: round || spec.series.length > 1, position: "bottom"},
                tooltip: {callbacks: {label: function (ctx) {
                  var s = spec.series[ctx.datasetIndex];
                  return (s ? s.label + ": " : "") + seriesFormatter(s, spec.lang)(ctx.raw);
                }}}}
    };
    if (!round) {
      var valueAxis = {beginAtZero: true, ticks: {callback: format}};
      if (spec.type === "funnel") {
        options.indexAxis = "y";
        options.scales = {x: valueAxis};
      } else {
        options.scales = {y: valueAxis};
        var second = spec.series.filter(function (s) { return s.format !== spec.series[0].format; })[0];
        if (second) {
          options.scales.y2 = {beginAtZero: true, position: "right", grid: {drawOnChartArea: false},
                               ticks: {callback: seriesFormatter(second, spec.lang)}};
        }
      }
    }
    new window.Chart(canvas, {type: kind, data: {labels: spec.labels, datasets: datasets}, options: options});
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
    var form = document.getElementById("dash-filters");
    if (!form) { return; }
    var period = form.querySelector("#period");
    var custom = form.querySelectorAll(".dash-custom");
    function showCustom() {
      Array.prototype.forEach.call(custom, function (el) { el.hidden = period.value !== "custom"; });
    }
    function send() {      // a short URL: leave out empty choices, and dates unless the period is custom
      Array.prototype.forEach.call(form.querySelectorAll("input, select"), function (el) {
        el.disabled = !el.value || (el.type === "date" && period.value !== "custom");
      });
      form.submit();
    }
    showCustom();
    window.addEventListener("pageshow", function () {       // back from the next page: usable again
      Array.prototype.forEach.call(form.querySelectorAll("input, select"), function (el) { el.disabled = false; });
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
    period.addEventListener("change", function () {
      showCustom();
      if (period.value !== "custom") { send(); }
    });
    var owner = form.querySelector("#owner");
    if (owner) { owner.addEventListener("change", send); }
  }

  document.addEventListener("htmx:afterSwap", function (event) {      // the builder's live preview
    Array.prototype.forEach.call(event.detail.target.querySelectorAll("canvas[data-chart]"), draw);
  });

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
