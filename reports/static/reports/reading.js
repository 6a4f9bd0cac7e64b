// Reading page: autosave the report draft as the reader types (debounced), and count down to
// the deadline. The form still works without this script: signing posts the sections.
(function () {
  "use strict";

  // The strings come from Django's JavaScript catalog (base.html); without it, English.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (text, values, named) {
    return named ? text.replace(/%\(\w+\)s/g, function (m) { return values[m.slice(2, -2)]; })
      : text.replace(/%s/g, function () { return values.shift(); });
  };
  function stamp(date) {
    return window.teleradFormat ? window.teleradFormat.dateTime(date) : date.toISOString();
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) {
      return decodeURIComponent(match[1]);
    }
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // Deadline countdown, refreshed every 30 seconds.
  var countdown = document.querySelector("[data-deadline]");
  if (countdown) {
    var deadline = new Date(countdown.getAttribute("data-deadline"));
    var left = countdown.querySelector("[data-countdown]");
    var tick = function () {
      var minutes = Math.round((deadline.getTime() - Date.now()) / 60000);
      var abs = Math.abs(minutes);
      var text = abs >= 60
        ? interpolate(gettext("%(hours)s h %(minutes)s min"), { hours: Math.floor(abs / 60), minutes: abs % 60 }, true)
        : interpolate(gettext("%(minutes)s min"), { minutes: abs }, true);
      left.textContent = minutes < 0
        ? interpolate(gettext("overdue by %s"), [text])
        : interpolate(gettext("%s left"), [text]);
      countdown.classList.toggle("deadline--overdue", minutes < 0);
    };
    tick();
    window.setInterval(tick, 30000);
  }

  var form = document.getElementById("report-form");
  if (!form) {
    return;
  }
  var url = form.getAttribute("data-autosave-url");
  var delay = parseInt(form.getAttribute("data-autosave-delay"), 10) || 1200;
  var revisionInput = form.querySelector("[data-revision]");
  var status = form.querySelector("[data-autosave-status]");
  var timer = null;
  var saving = false;
  var dirty = false;
  var stopped = false;
  // A sign or issue pressed while a save is in flight waits for it, then posts with its revision.
  var submitPending = false;
  var submitter = null;

  function submitNow() {
    submitPending = false;
    stopped = true;
    if (submitter) {
      form.requestSubmit(submitter);
    } else {
      form.requestSubmit();
    }
  }

  function sections() {
    return Array.prototype.map.call(form.querySelectorAll("[data-section-key]"), function (el) {
      return {
        key: el.getAttribute("data-section-key"),
        title: el.querySelector("input[name$='-title']").value,
        text: el.querySelector("[data-section-text]").value
      };
    });
  }

  function show(text, state) {
    status.textContent = text;
    status.setAttribute("data-state", state);
  }

  function save() {
    timer = null;
    if (saving || stopped) {
      dirty = true;
      return;
    }
    saving = true;
    dirty = false;
    show(gettext("Saving…"), "saving");
    fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ sections: sections(), revision: parseInt(revisionInput.value, 10) })
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (result) {
      saving = false;
      if (result.status === 200) {
        revisionInput.value = result.body.revision;
        show(interpolate(gettext("Draft saved %s"), [stamp(new Date(result.body.updated_at))]), "saved");
        if (submitPending) {
          submitNow();
        } else if (dirty) {
          schedule();
        }
      } else {
        stopped = true;
        var errors = result.body.errors || {};
        var first = Object.keys(errors).map(function (k) { return errors[k].join(" "); })[0];
        show(interpolate(gettext("Not saved: %s"), [first || interpolate(gettext("error %s"), [result.status])]), "error");
        if (submitPending) {
          submitNow(); // the server says what is wrong, and the posted text is kept
        }
      }
    }).catch(function () {
      saving = false;
      if (submitPending) {
        submitNow();
        return;
      }
      show(gettext("Not saved: the server cannot be reached; retrying"), "error");
      schedule();
    });
  }

  function schedule() {
    if (timer !== null) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(save, delay);
  }

  // Leaving the page (closing the tab, navigating away) with a save still waiting: send it now;
  // keepalive lets the request outlive the page.
  window.addEventListener("pagehide", function () {
    if (timer === null || saving || stopped) {
      return;
    }
    window.clearTimeout(timer);
    timer = null;
    fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ sections: sections(), revision: parseInt(revisionInput.value, 10) })
    });
  });

  form.addEventListener("input", function (event) {
    if (event.target.hasAttribute("data-section-text")) {
      show(gettext("Unsaved changes"), "dirty");
      schedule();
    }
  });
  // Signing or issuing posts the text itself; a pending autosave must not race it.
  form.addEventListener("submit", function (event) {
    if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    }
    if (saving) {
      event.preventDefault();
      submitPending = true;
      submitter = event.submitter || null;
      show(gettext("Finishing the save…"), "saving");
      return;
    }
    stopped = true;
  });
})();
