/* Formloom designer: a picker marked data-refresh changes what other pickers of its form
   offer (a related entity -> the fields that link it here). On change, press the form's
   own "refresh" button, which reloads the form with the new choices; without scripts
   that button is there to press by hand. No inline scripts, no eval, no library. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-refresh]") || !select.form) { return; }
    var button = select.form.querySelector("button[name=do][value=refresh]");
    if (!button) { return; }
    if (select.form.requestSubmit) { select.form.requestSubmit(button); } else { button.click(); }
  });
}());
