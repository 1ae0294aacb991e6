/* F-key shortcuts (SPEC section 8): F4 一覧へ, F7 登録へ, F8 更新.
 * A key presses the element of the page that carries data-fkey="<key>" (a link or a submit button),
 * exactly as a click would; pages work without this script. Loaded from base.html with defer
 * (CSP: script-src 'self', no inline script). */
(function () {
  "use strict";
  if (window.cjsFkeys) {
    return;
  }
  window.cjsFkeys = true;
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.repeat) {
      return;
    }
    if (!/^F([1-9]|1[0-2])$/.test(event.key)) {
      return;
    }
    var target = document.querySelector('[data-fkey="' + event.key + '"]');
    if (!target || target.disabled) {
      return;
    }
    event.preventDefault();
    target.click();
  });
})();
