// The site portal: live.js refetches the list when a study of the site changes. A delivery to
// the site's RIS (acknowledged, failed, dead-lettered) is not a study event, so the list also
// refetches itself every half minute while the page is visible.
(function () {
  "use strict";

  var REFRESH_MS = 30000;

  window.setInterval(function () {
    var region = document.getElementById("portal-live");
    if (region && window.htmx && document.visibilityState === "visible") {
      window.htmx.trigger(region, "live-refresh");
    }
  }, REFRESH_MS);
})();
