// The coordinator's console: live.js refetches the page's live region when a study changes.
// Two things change with no study event, so this script asks for the region itself: a snoozed
// alert coming back (at the time the page names in data-console-wake), and the clock-driven
// figures (idle times, shifts starting and ending) once a minute.
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

  document.body.addEventListener("htmx:afterSwap", armWake);
  window.setInterval(refresh, REFRESH_MS);
  armWake();
})();
