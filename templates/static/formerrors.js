/* A refused form: the cursor goes to the first field in error (ACC-8, #15), whose label, error and
 * hint a screen reader then reads (aria-describedby, see macros.html). Without this script the errors
 * are still beside their fields and the page's message is a role="alert". Loaded from base.html with
 * defer (CSP: script-src 'self', no inline script). */
(function () {
  "use strict";
  var first = document.querySelector("main [aria-invalid='true']");
  if (first && typeof first.focus === "function") {
    first.focus();
  }
})();
