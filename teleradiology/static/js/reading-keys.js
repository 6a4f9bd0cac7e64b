// Reading page keyboard: a shift is read without the mouse.
//
// Single keys (N, J, K, S, P, V, W, ?) act only outside text fields, so that typing a report
// never triggers one; the same actions with Alt (matched by the physical key, so that macOS's
// Option characters do not get in the way) and Ctrl+Enter work everywhere, also while typing.
// Actions that issue a report only move the focus ("arm"): Enter then confirms, as a click would.
(function () {
  "use strict";

  var form = document.getElementById("report-form");
  var dialog = document.querySelector("[data-shortcuts]");

  function isTextField(el) {
    if (!el || el === document.body) {
      return false;
    }
    if (el.isContentEditable) {
      return true;
    }
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") {
      return true;
    }
    if (tag !== "INPUT") {
      return false;
    }
    var type = (el.getAttribute("type") || "text").toLowerCase();
    return ["button", "submit", "reset", "checkbox", "radio", "file", "image", "range", "color"].indexOf(type) === -1;
  }

  function sections() {
    return form ? Array.prototype.slice.call(form.querySelectorAll("[data-section-text]")) : [];
  }

  function focusField(el, caretAtEnd) {
    if (!el) {
      return false;
    }
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest", behavior: "auto" });
    if (caretAtEnd && typeof el.setSelectionRange === "function") {
      var end = el.value.length;
      el.setSelectionRange(end, end);
    }
    return true;
  }

  var lastSection = -1;

  function moveSection(step) {
    var all = sections();
    if (!all.length) {
      return false;
    }
    var current = all.indexOf(document.activeElement);
    if (current === -1) {
      // From outside the editor: J starts at the first section, K goes back to where one was.
      current = step > 0 ? (lastSection === -1 ? -1 : lastSection - 1) : (lastSection === -1 ? all.length : lastSection + 1);
    }
    var next = Math.max(0, Math.min(all.length - 1, current + step));
    return focusField(all[next], true);
  }

  function submitWith(selector) {
    var button = document.querySelector(selector);
    if (!button || !button.form) {
      return false;
    }
    button.form.requestSubmit(button);
    return true;
  }

  function password() {
    return form ? form.querySelector("input[name=password]") : null;
  }

  var actions = {
    readNext: function () {
      var next = document.querySelector("[data-read-next-form]");
      if (!next) {
        return false;
      }
      next.requestSubmit();
      return true;
    },
    nextSection: function () { return moveSection(1); },
    previousSection: function () { return moveSection(-1); },
    sign: function () { return focusField(password(), false); },
    signAndNext: function () {
      var field = password();
      if (!field) {
        return false;
      }
      if (!field.value) {
        return focusField(field, false);
      }
      return submitWith("[data-sign-next]");
    },
    preliminary: function () {
      var button = document.querySelector("[data-preliminary-next]");
      return focusField(button, false);
    },
    viewer: function () {
      var link = document.querySelector("[data-viewer-link]");
      if (!link) {
        return false;
      }
      link.click();
      return true;
    },
    toList: function () {
      var link = document.querySelector("[data-back-to-list]");
      if (!link) {
        return false;
      }
      window.location.assign(link.href);
      return true;
    },
    help: function () {
      if (!dialog || dialog.open) {
        return false;
      }
      dialog.showModal();
      return true;
    }
  };

  // Plain keys, by the character typed; Alt combinations, by the physical key.
  var plainKeys = { n: "readNext", j: "nextSection", k: "previousSection", s: "sign", p: "preliminary", v: "viewer", w: "toList", "?": "help" };
  var altCodes = { KeyN: "readNext", ArrowDown: "nextSection", ArrowUp: "previousSection", KeyS: "sign", KeyP: "preliminary", KeyV: "viewer", KeyW: "toList", Slash: "help" };

  function actionFor(event) {
    if (event.isComposing) {
      return null;
    }
    var ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && !event.altKey && event.key === "Enter") {
      return "signAndNext";
    }
    if (event.altKey && !ctrl) {
      return altCodes[event.code] || null;
    }
    if (ctrl || event.altKey || isTextField(event.target)) {
      return null;
    }
    return plainKeys[event.key.length === 1 ? event.key.toLowerCase() : ""] || plainKeys[event.key] || null;
  }

  document.addEventListener("keydown", function (event) {
    if (dialog && dialog.open) {
      return; // Esc closes it (the dialog's own behaviour); nothing else acts behind it
    }
    var name = actionFor(event);
    if (name && actions[name]()) {
      event.preventDefault();
    }
  });

  document.addEventListener("focusin", function (event) {
    var all = sections();
    var index = all.indexOf(event.target);
    all.forEach(function (el, i) {
      el.closest("[data-section-key]").classList.toggle("is-current", i === index);
    });
    if (index !== -1) {
      lastSection = index;
    }
  });

  var opener = document.querySelector("[data-shortcuts-open]");
  if (opener) {
    opener.addEventListener("click", actions.help);
  }
})();
