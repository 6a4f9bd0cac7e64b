// Live worklist: listen on /ws/worklist/ and, when studies change, offer a refresh.
// Events carry ids and types only; the page is re-read from the server (which scopes it).
(function () {
  "use strict";

  var notice = document.getElementById("live-notice");
  if (!notice || !("WebSocket" in window)) {
    return;
  }
  var refresh = notice.querySelector("[data-live-refresh]");
  if (refresh) {
    refresh.addEventListener("click", function (event) {
      event.preventDefault();
      window.location.reload();
    });
  }

  var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/ws/worklist/";
  var debounceMs = 1500;
  var retryMs = 1000;
  var maxRetryMs = 30000;
  var timer = null;

  function showNotice() {
    timer = null;
    notice.hidden = false;
  }

  function connect() {
    var socket;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      return;
    }
    socket.addEventListener("open", function () {
      retryMs = 1000;
    });
    socket.addEventListener("message", function () {
      if (timer !== null) {
        window.clearTimeout(timer);
      }
      timer = window.setTimeout(showNotice, debounceMs);
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4401) {
        return; // not authenticated: do not retry
      }
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, maxRetryMs);
    });
  }

  connect();
})();
