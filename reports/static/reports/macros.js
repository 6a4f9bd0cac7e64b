// Macros in the report editor: type the trigger and a macro's name in any of the page's text
// areas, then space, Tab or Enter, and the name is replaced by the macro's text; or open the
// picker (button or Alt+M) and choose one. The macros come from the API for this study: the
// reader's own and those shared in the study's worklist, a personal one first where names are
// equal. On the macro page itself this file only asks before a delete.
(function () {
  "use strict";

  // The strings come from Django's JavaScript catalog (base.html); without it, English.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (text, values, named) {
    return named ? text.replace(/%\(\w+\)s/g, function (m) { return values[m.slice(2, -2)]; })
      : text.replace(/%s/g, function () { return values.shift(); });
  };

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  var bar = document.querySelector("[data-macros]");
  var picker = document.querySelector("[data-macro-picker]");
  if (!bar || !picker) {
    return;
  }
  var trigger = bar.getAttribute("data-macro-trigger") || ".";
  var hint = bar.querySelector("[data-macro-hint]");
  var hintDefault = hint ? hint.innerHTML : "";
  var filter = picker.querySelector("[data-macro-filter]");
  var list = picker.querySelector("[data-macro-options]");
  var empty = picker.querySelector("[data-macro-empty]");
  var macros = [];
  var byName = {};
  var lastField = null;
  var lastRange = null;
  var active = 0;

  // The bar goes to the top of the report form (or of the first form with a text area), so the
  // page's layout decides where the editor is and this file follows it.
  var home = document.getElementById("report-form") ||
    (document.querySelector("main textarea") || {}).form;
  if (home) {
    var firstField = home.querySelector("textarea");
    var anchor = firstField ? firstField.closest(".field, [data-section-key]") || firstField : null;
    if (anchor && anchor.parentNode) {
      anchor.parentNode.insertBefore(bar, anchor);
    } else {
      home.insertBefore(bar, home.firstChild);
    }
  }
  bar.hidden = false;

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  // The trigger at the start of a word, then the name, right before the caret: "ca.5" or the
  // end of a sentence never expand.
  var tokenPattern = new RegExp("(^|[\\s(\\[])" + escapeRegExp(trigger) + "([\\p{L}\\p{N}_-]+)$", "u");

  function isEditor(el) {
    return el && el.tagName === "TEXTAREA" && !el.readOnly && !el.disabled;
  }

  function typedToken(field) {
    if (field.selectionStart !== field.selectionEnd) {
      return null;
    }
    var caret = field.selectionStart;
    var match = tokenPattern.exec(field.value.slice(0, caret));
    if (!match) {
      return null;
    }
    return {name: match[2].toLowerCase(), start: caret - match[2].length - trigger.length, end: caret};
  }

  // Insert through the editing commands where the browser has them, so that undo (Ctrl+Z) takes
  // the macro back out and the page's autosave sees an ordinary input event.
  function replaceRange(field, start, end, text) {
    field.focus();
    field.setSelectionRange(start, end);
    var done = false;
    try {
      done = document.execCommand("insertText", false, text);
    } catch (error) {
      done = false;
    }
    if (!done || field.value.slice(start, start + text.length) !== text) {
      field.setRangeText(text, start, field.selectionEnd, "end");
      field.dispatchEvent(new Event("input", {bubbles: true}));
    }
  }

  function load() {
    var url = bar.getAttribute("data-macros-url");
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("macros: HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        macros = data;
        byName = {};
        macros.forEach(function (macro) {
          if (!(macro.name in byName)) {
            byName[macro.name] = macro;
          }
        });
        bar.setAttribute("data-macros-loaded", String(macros.length));
      })
      .catch(function () {
        bar.setAttribute("data-macros-loaded", "error");
        if (hint) {
          hint.textContent = gettext("Macros could not be loaded; reload the page to try again.");
        }
      });
  }

  function showMatches(field) {
    if (!hint) {
      return;
    }
    var token = typedToken(field);
    if (!token) {
      hint.innerHTML = hintDefault;
      return;
    }
    var names = macros
      .filter(function (m) { return m.name.indexOf(token.name) === 0; })
      .map(function (m) { return trigger + m.name; });
    names = names.filter(function (name, i) { return names.indexOf(name) === i; }).slice(0, 6);
    hint.textContent = names.length ? names.join("  ") : interpolate(gettext("No macro starts with %s"), [trigger + token.name]);
  }

  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyM" &&
        !picker.open) {
      event.preventDefault();
      openPicker(isEditor(field) ? field : null);
      return;
    }
    if (!isEditor(field) || event.isComposing) {
      return;
    }
    var key = event.key;
    if ((key !== " " && key !== "Tab" && key !== "Enter") ||
        event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    var token = typedToken(field);
    var macro = token && byName[token.name];
    if (!macro) {
      return;
    }
    event.preventDefault();
    // A space still separates the text from what is typed next; Tab and Enter only expand.
    var text = macro.text;
    if (key === " " && !/\s$/.test(text)) {
      text += " ";
    }
    replaceRange(field, token.start, token.end, text);
    if (hint) {
      hint.innerHTML = hintDefault;
    }
  });

  document.addEventListener("input", function (event) {
    if (isEditor(event.target)) {
      showMatches(event.target);
    }
  });

  document.addEventListener("focusin", function (event) {
    if (isEditor(event.target)) {
      lastField = event.target;
    }
  });

  // The picker.

  function visibleOptions() {
    return Array.prototype.slice.call(list.querySelectorAll("[role=option]"));
  }

  function setActive(index) {
    var options = visibleOptions();
    if (!options.length) {
      filter.removeAttribute("aria-activedescendant");
      return;
    }
    active = Math.max(0, Math.min(index, options.length - 1));
    options.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    filter.setAttribute("aria-activedescendant", options[active].id);
    options[active].scrollIntoView({block: "nearest"});
  }

  function render() {
    var query = filter.value.trim().toLowerCase();
    if (query.indexOf(trigger) === 0) {
      query = query.slice(trigger.length);
    }
    list.textContent = "";
    macros.forEach(function (macro) {
      var haystack = (macro.name + " " + macro.description + " " + macro.text).toLowerCase();
      if (query && haystack.indexOf(query) === -1) {
        return;
      }
      var option = document.createElement("li");
      option.id = "macro-option-" + macro.id;
      option.className = "macro-option";
      option.setAttribute("role", "option");
      option.setAttribute("data-macro-name", macro.name);
      var head = document.createElement("span");
      head.className = "macro-option__head";
      var name = document.createElement("span");
      name.className = "mono macro-option__name";
      name.textContent = trigger + macro.name;
      var scope = document.createElement("span");
      scope.className = "macro-option__scope macro-option__scope--" + macro.scope;
      scope.textContent = macro.scope === "personal" ? gettext("Personal") : interpolate(gettext("Shared · %s"), [macro.worklist]);
      head.appendChild(name);
      head.appendChild(scope);
      if (macro.description) {
        var description = document.createElement("span");
        description.className = "muted macro-option__description";
        description.textContent = macro.description;
        head.appendChild(description);
      }
      var preview = document.createElement("span");
      preview.className = "macro-option__text";
      preview.lang = "nb";
      preview.textContent = macro.text;
      option.appendChild(head);
      option.appendChild(preview);
      option.addEventListener("mousedown", function (event) {
        event.preventDefault(); // keep the filter focused until the macro is inserted
      });
      option.addEventListener("click", function () {
        choose(macro);
      });
      list.appendChild(option);
    });
    empty.hidden = list.children.length > 0;
    setActive(0);
  }

  function openPicker(field) {
    if (isEditor(field)) {
      lastField = field;
    }
    if (!lastField) {
      lastField = home ? home.querySelector("textarea") : document.querySelector("main textarea");
    }
    if (lastField) {
      lastRange = [lastField.selectionStart, lastField.selectionEnd];
    }
    filter.value = "";
    render();
    if (typeof picker.showModal === "function") {
      picker.showModal();
    } else {
      picker.setAttribute("open", "");
    }
    filter.focus();
  }

  function choose(macro) {
    picker.close();
    if (!lastField) {
      return;
    }
    var range = lastRange || [lastField.value.length, lastField.value.length];
    replaceRange(lastField, range[0], range[1], macro.text);
  }

  filter.addEventListener("input", render);
  filter.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setActive(active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive(active - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      var option = visibleOptions()[active];
      if (option) {
        choose(byId(option.id));
      }
    }
  });

  function byId(id) {
    for (var i = 0; i < macros.length; i++) {
      if ("macro-option-" + macros[i].id === id) {
        return macros[i];
      }
    }
    return null;
  }

  picker.addEventListener("close", function () {
    if (lastField) {
      lastField.focus();
    }
  });

  bar.querySelector("[data-macro-picker-open]").addEventListener("click", function () {
    openPicker(null);
  });

  load();
})();
