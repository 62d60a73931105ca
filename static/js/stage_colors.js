/* Formloom workflow designer: paint stage colours. The page's Content-Security-Policy allows
   no inline style attributes, so the colour travels in data-stage-color (checked on the
   server, and here again) and is set through the DOM: a swatch is filled, a path step
   gets a coloured underline. No inline scripts, no eval, no library. */
(function () {
  "use strict";
  var COLOR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
  function paint() {
    document.querySelectorAll("[data-stage-color]").forEach(function (el) {
      var color = el.getAttribute("data-stage-color");
      if (!COLOR.test(color)) { return; }
      if (el.classList.contains("swatch")) { el.style.background = color; }
      else { el.style.borderBottom = "4px solid " + color; }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", paint); } else { paint(); }
}());
