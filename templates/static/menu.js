/* The menu bar's headings as disclosure buttons (#15; 001 menus: 労金控除事務, 共通機能, システム管理機能 …).
 *
 * Each heading marked data-menu-heading becomes a <button type="button" aria-expanded aria-controls>
 * that opens and closes its list of links, by mouse, touch, Enter or Space; opening one closes the
 * others; Escape or a click elsewhere closes them. Without this script the headings stay text and
 * their links are shown as plain lists. Loaded from base.html with defer (CSP: script-src 'self'). */
(function () {
  "use strict";
  var nav = document.querySelector("nav[data-menu]");
  if (!nav || nav.classList.contains("menu-enhanced")) {
    return;
  }
  var buttons = [];

  function setOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function closeAll(except) {
    buttons.forEach(function (button) {
      if (button !== except) {
        setOpen(button, false);
      }
    });
  }

  Array.prototype.slice.call(nav.querySelectorAll("[data-menu-heading]")).forEach(function (heading) {
    var list = heading.nextElementSibling;
    if (!list || !list.id) {
      return;
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "menu-toggle";
    button.textContent = heading.textContent;
    var caret = document.createElement("span");
    caret.className = "menu-caret";
    caret.setAttribute("aria-hidden", "true");  // not part of the button's name
    button.appendChild(caret);
    button.setAttribute("aria-controls", list.id);
    setOpen(button, false);
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      closeAll(button);
      setOpen(button, open);
    });
    heading.parentNode.replaceChild(button, heading);
    buttons.push(button);
  });
  nav.classList.add("menu-enhanced");

  document.addEventListener("click", function (event) {
    if (!nav.contains(event.target)) {
      closeAll(null);
    }
  });
  nav.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var open = buttons.filter(function (button) {
      return button.getAttribute("aria-expanded") === "true";
    })[0];
    if (open) {
      event.preventDefault();
      setOpen(open, false);
      open.focus();
    }
  });
})();
