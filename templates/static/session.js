/* The session timeout notice (AUTH-6, #15 item 6): a few minutes before the idle limit the notice
 * drawn hidden by base.html appears; its button ログインを継続する sends one request, which restarts
 * the server's idle time, and the count starts again. When the limit passes, the page goes to the
 * top page, where the server says the session ended. Without this script the server's message comes
 * at the next request. Loaded from base.html with defer (CSP: script-src 'self', connect-src 'self'). */
(function () {
  "use strict";
  var notice = document.getElementById("session-timeout");
  if (!notice || notice.getAttribute("data-ready") === "true") {
    return;
  }
  notice.setAttribute("data-ready", "true");
  var idle = Number(notice.getAttribute("data-idle-seconds")) * 1000;
  var warn = Number(notice.getAttribute("data-warn-seconds")) * 1000;
  var button = notice.querySelector("[data-keepalive]");
  var timers = [];

  function expire() {
    window.location.assign(notice.getAttribute("data-expired-url"));
  }

  function show() {
    notice.hidden = false;
    button.focus();
  }

  function schedule() {
    timers.forEach(window.clearTimeout);
    timers = [window.setTimeout(show, idle - warn), window.setTimeout(expire, idle)];
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    window.fetch(notice.getAttribute("data-keepalive-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": notice.getAttribute("data-csrf-token") }
    }).then(function (response) {
      if (!response.ok) {
        expire();
        return;
      }
      notice.hidden = true;
      button.disabled = false;
      schedule();
    }, expire);
  });

  schedule();
})();
