// The coordinator's console: live.js refetches the page's live region when a study changes.
// Some things change with no study event, so this script asks for the region itself: a snoozed
// alert coming back or a surge running out (at the time the page names in data-console-wake),
// and the clock-driven figures (idle times, shifts starting and ending) once a minute.
(function () {
  "use strict";

  var REFRESH_MS = 60000;
  var wakeTimer = null;

  function region() {
    return document.getElementById("console-live");
  }

  function refresh() {
    var page = region();
    if (page && window.htmx) {
      window.htmx.trigger(page, "live-refresh");
    }
  }

  function armWake() {
    if (wakeTimer !== null) {
      window.clearTimeout(wakeTimer);
      wakeTimer = null;
    }
    var page = region();
    var wake = page && Date.parse(page.getAttribute("data-console-wake") || "");
    if (!wake || isNaN(wake)) {
      return;
    }
    // a second after the snooze ends, so the server sees it as over
    wakeTimer = window.setTimeout(refresh, Math.max(0, wake - Date.now()) + 1000);
  }

  // The assign chooser: htmx loads a study's candidates into the dialog, which lives outside
  // the live region so that a refresh does not close it under the coordinator's hand. An
  // assignment answers with the region brought up to date; the dialog closes then.
  function chooser() {
    return document.getElementById("assign-chooser");
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    var dialog = chooser();
    if (dialog && event.detail.target && event.detail.target.id === "chooser-body") {
      if (!dialog.open) {
        dialog.showModal();
      }
      var reason = dialog.querySelector("[data-chooser-reason]");
      if (reason) {
        reason.focus();
      }
    }
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var dialog = chooser();
    var form = event.detail.elt;
    if (dialog && dialog.open && form && form.hasAttribute && form.hasAttribute("data-chooser-form")) {
      dialog.close();
    }
  });

  // A surge started: the form (outside the live region) closes and forgets what was typed; a
  // refusal (shown in the region) leaves it open as it was, to correct.
  function afterSurgeStart(event) {
    var form = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!form || !form.matches || !form.matches("[data-surge-form]")) {
      return;
    }
    var page = region();
    if (page && !page.querySelector(".console-notice[role=alert]")) {
      form.reset();
      form.closest("details").open = false;
    }
  }

  document.body.addEventListener("htmx:afterSwap", armWake);
  document.body.addEventListener("htmx:afterSwap", afterSurgeStart);
  window.setInterval(refresh, REFRESH_MS);
  armWake();
})();
