/* ソフトウェアキーボード (SPEC section 8; 001 「ソフトウェアキーボードについて」).
 *
 * The page draws one hidden keyboard (macros.html software_keyboard()) and, next to each password
 * field, a hidden toggle button. This script shows the toggles; a toggle opens the keyboard under its
 * field. A key appends its character to that field, 1文字削除 removes the last one, クリア empties the
 * field, Shift switches the letters between lower and upper case, and the option shuffles the keys
 * within their groups (数字, 英字, 記号), afresh each time the keyboard opens. Escape closes it.
 *
 * The value only ever goes into the field itself: nothing is stored, sent or logged here; the form's
 * own submit is the one way it leaves the page. Without this script the fields work as they are.
 * Loaded from base.html with defer (CSP: script-src 'self', no inline script). */
(function () {
  "use strict";
  var keyboard = document.getElementById("softkbd");
  if (!keyboard || keyboard.getAttribute("data-ready") === "true") {
    return;
  }
  keyboard.setAttribute("data-ready", "true");

  var toggles = Array.prototype.slice.call(document.querySelectorAll("[data-softkbd-for]"));
  var keys = Array.prototype.slice.call(keyboard.querySelectorAll(".softkbd-key"));
  var shiftButton = keyboard.querySelector('[data-softkbd-action="shift"]');
  var shuffleOption = keyboard.querySelector("[data-softkbd-shuffle]");
  var targetName = keyboard.querySelector("[data-softkbd-target]");
  var count = keyboard.querySelector("[data-softkbd-count]");
  var groups = Array.prototype.slice.call(keyboard.querySelectorAll("[data-softkbd-group]"));
  var target = null;
  var shifted = false;

  // Each group's keys in their drawn order and the size of each of its rows.
  var layouts = groups.map(function (group) {
    var rows = Array.prototype.slice.call(group.querySelectorAll(".softkbd-row"));
    return {
      rows: rows,
      sizes: rows.map(function (row) { return row.children.length; }),
      keys: Array.prototype.slice.call(group.querySelectorAll(".softkbd-key"))
    };
  });

  function randomIndex(bound) {
    var word = new Uint32Array(1);
    var limit = Math.floor(0x100000000 / bound) * bound;  // no modulo bias
    do {
      window.crypto.getRandomValues(word);
    } while (word[0] >= limit);
    return word[0] % bound;
  }

  function shuffled(items) {
    var copy = items.slice();
    for (var i = copy.length - 1; i > 0; i -= 1) {
      var j = randomIndex(i + 1);
      var swap = copy[i];
      copy[i] = copy[j];
      copy[j] = swap;
    }
    return copy;
  }

  function arrangeKeys() {
    layouts.forEach(function (layout) {
      var order = shuffleOption.checked ? shuffled(layout.keys) : layout.keys;
      var next = 0;
      layout.rows.forEach(function (row, index) {
        for (var n = 0; n < layout.sizes[index]; n += 1) {
          row.appendChild(order[next]);
          next += 1;
        }
      });
    });
  }

  function labelKeys() {
    keys.forEach(function (key) {
      var char = key.getAttribute(shifted ? "data-shifted-char" : "data-char");
      key.textContent = char;
      key.setAttribute("aria-label", key.getAttribute(shifted ? "data-shifted-label" : "data-label"));
    });
    shiftButton.setAttribute("aria-pressed", shifted ? "true" : "false");
  }

  function announceLength() {
    count.textContent = count.getAttribute("data-template").replace("{n}", String(target.value.length));
  }

  function changed() {
    target.dispatchEvent(new Event("input", { bubbles: true }));
    announceLength();
  }

  function toggleOf(field) {
    return document.querySelector('[data-softkbd-for="' + field.id + '"]');
  }

  function close(returnFocus) {
    if (target === null) {
      return;
    }
    var toggle = toggleOf(target);
    keyboard.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    target = null;
    if (returnFocus) {
      toggle.focus();
    }
  }

  function open(field) {
    close(false);
    target = field;
    var toggle = toggleOf(field);
    toggle.closest(".field").appendChild(keyboard);
    var label = document.querySelector('label[for="' + field.id + '"]');
    targetName.textContent = label ? label.textContent : "";
    arrangeKeys();
    keyboard.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    announceLength();
    keyboard.querySelector(".softkbd-key").focus();
  }

  function type(char) {
    var limit = target.maxLength;
    if (limit > 0 && target.value.length >= limit) {
      return;
    }
    target.value += char;
    changed();
  }

  toggles.forEach(function (toggle) {
    var field = document.getElementById(toggle.getAttribute("data-softkbd-for"));
    if (!field) {
      return;
    }
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      if (target === field) {
        close(true);
      } else {
        open(field);
      }
    });
  });

  keyboard.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || target === null) {
      return;
    }
    if (button.classList.contains("softkbd-key")) {
      type(button.textContent);
      return;
    }
    switch (button.getAttribute("data-softkbd-action")) {
      case "shift":
        shifted = !shifted;
        labelKeys();
        break;
      case "delete":
        target.value = target.value.slice(0, -1);
        changed();
        break;
      case "clear":
        target.value = "";
        changed();
        break;
      case "close":
        close(true);
        break;
    }
  });

  shuffleOption.checked = keyboard.getAttribute("data-shuffle") === "true";
  shuffleOption.addEventListener("change", arrangeKeys);

  keyboard.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close(true);
    }
  });

  var about = document.querySelector(".softkbd-about");
  if (about && toggles.length > 0) {
    about.hidden = false;
  }
})();
