/* A form marked data-autosubmit is sent by itself once the page has loaded: the 電子証明書発行中
 * screen (FLOW-2) moves on to the result without a click. Without this script the form's own button
 * does it. The form is sent once (its button is disabled as it goes). Loaded from base.html with
 * defer (CSP: script-src 'self', no inline script). */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (!form || form.getAttribute("data-sent") === "true") {
    return;
  }
  form.addEventListener("submit", function (event) {
    if (form.getAttribute("data-sent") === "true") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "true");
  });
  window.setTimeout(function () {
    if (form.getAttribute("data-sent") !== "true") {
      form.requestSubmit();
    }
  }, 0);
})();
