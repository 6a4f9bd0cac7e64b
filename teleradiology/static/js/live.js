// Live pages: rows, counts and statuses change in place when studies change.
//
// The socket (/ws/worklist/) names the studies that changed; it carries no patient data. For each
// one the page asks the server for the study's row fragment (scoped and audited like any read)
// with htmx and puts it where it belongs, in reading order for the reader's queue. After a
// reconnect the page sends the time of the last message it saw and refetches what changed since,
// or the whole live region. How the server side works: docs/live-updates.md.
(function () {
  "use strict";

  // The strings come from Django's JavaScript catalog (base.html); without it, English.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (text, values, named) {
    return named ? text.replace(/%\(\w+\)s/g, function (m) { return values[m.slice(2, -2)]; })
      : text.replace(/%s/g, function () { return values.shift(); });
  };

  if (!("WebSocket" in window) || !window.htmx) {
    return;
  }
  var htmx = window.htmx;
  var SOUND_KEY = "telerad.sound";
  var BATCH_MS = 120; // events arriving together become one round of row requests
  var MAX_ROW_REQUESTS = 12; // more than this at once: refetch the live region instead

  function root() {
    return document.querySelector("[data-live-page]");
  }

  var first = root();
  if (!first) {
    return;
  }
  var cursor = Number(first.getAttribute("data-live-cursor")) || Date.now();
  var pending = {};
  var pendingCount = 0;
  var batchTimer = null;

  // --- countdowns ------------------------------------------------------------------------------

  function span(minutes) {
    if (minutes < 60) {
      return interpolate(gettext("%(minutes)s min"), { minutes: minutes }, true);
    }
    var hours = Math.floor(minutes / 60);
    var rest = minutes % 60;
    if (hours < 48) {
      return rest
        ? interpolate(gettext("%(hours)s h %(minutes)s min"), { hours: hours, minutes: rest }, true)
        : interpolate(gettext("%(hours)s h"), { hours: hours }, true);
    }
    return interpolate(gettext("%(days)s d %(hours)s h"), { days: Math.floor(hours / 24), hours: hours % 24 }, true);
  }

  function tick() {
    var now = Date.now();
    // What shows until a time (a surge on the worklist line) leaves by itself then.
    document.querySelectorAll("[data-live-until]").forEach(function (el) {
      var until = Date.parse(el.getAttribute("data-live-until"));
      if (!isNaN(until) && until <= now) {
        var line = el.closest("[data-surge-line]");
        el.remove();
        if (line && !line.querySelector("[data-live-until]")) {
          line.remove();
        }
      }
    });
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var deadline = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(deadline)) {
        return;
      }
      var seconds = (deadline - now) / 1000;
      var text = seconds >= 0
        ? interpolate(gettext("in %(span)s"), { span: span(Math.floor(seconds / 60)) }, true)
        : interpolate(gettext("overdue by %(span)s"), { span: span(Math.floor(-seconds / 60)) }, true);
      if (el.textContent !== text) {
        el.textContent = text;
      }
      el.classList.toggle("countdown--overdue", seconds < 0);
    });
  }

  // --- sound and announcements -----------------------------------------------------------------

  var audio = null;

  function soundOn() {
    try {
      return window.localStorage.getItem(SOUND_KEY) === "on";
    } catch (err) {
      return false;
    }
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      return;
    }
    audio = audio || new Context();
    if (audio.state === "suspended") {
      audio.resume();
    }
    [0, 0.22].forEach(function (offset) {
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, audio.currentTime + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, audio.currentTime + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + offset + 0.18);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(audio.currentTime + offset);
      oscillator.stop(audio.currentTime + offset + 0.2);
    });
    document.body.setAttribute("data-live-beeps", String(Number(document.body.getAttribute("data-live-beeps") || 0) + 1));
  }

  function showSoundState() {
    var on = soundOn();
    document.querySelectorAll("[data-sound-toggle]").forEach(function (button) {
      button.textContent = on ? gettext("Sound on") : gettext("Sound off");
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-sound-toggle]");
    if (button) {
      try {
        window.localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
      } catch (err) {
        return;
      }
      showSoundState();
      if (soundOn()) {
        beep(); // also unlocks audio, which browsers allow only after a click
      }
      return;
    }
    var close = event.target.closest && event.target.closest("[data-toast-close]");
    if (close) {
      close.closest(".live-toast").remove();
    }
  });

  function announce(row) {
    var box = document.querySelector("[data-live-toasts]");
    if (!box) {
      return;
    }
    var toast = document.createElement("div");
    toast.className = "live-toast";
    toast.setAttribute("data-toast-study-id", row.getAttribute("data-queue-study-id"));
    var text = document.createElement("span");
    var strong = document.createElement("strong");
    strong.textContent = row.getAttribute("data-priority") === "STAT" ? gettext("New STAT in your queue: ") : gettext("New critical study in your queue: ");
    text.appendChild(strong);
    text.appendChild(document.createTextNode(row.getAttribute("data-label") || ""));
    var link = row.querySelector("a");
    var close = document.createElement("button");
    close.type = "button";
    close.className = "button button--ghost button--small";
    close.setAttribute("data-toast-close", "");
    close.textContent = gettext("Dismiss");
    toast.appendChild(text);
    if (link) {
      var open = document.createElement("a");
      open.className = "button button--primary button--small";
      open.href = link.getAttribute("href");
      open.textContent = gettext("Open");
      toast.appendChild(open);
    }
    toast.appendChild(close);
    box.appendChild(toast);
    window.setTimeout(function () {
      toast.remove();
    }, 60000);
    if (soundOn()) {
      beep();
    }
  }

  // --- placing rows ----------------------------------------------------------------------------

  function showIfRows(list) {
    var page = root();
    var tbody = page.querySelector('[data-live-list="' + list + '"]');
    var table = page.querySelector('[data-live-table="' + list + '"]');
    var empty = page.querySelector('[data-live-empty="' + list + '"]');
    var any = tbody && tbody.querySelector("tr") !== null;
    if (table) {
      table.hidden = !any;
    }
    if (empty) {
      empty.hidden = any;
    }
  }

  // Put ``row`` (or nothing) where the study's row is or belongs; true if it was not there.
  function place(list, attribute, studyId, row) {
    var tbody = root().querySelector('[data-live-list="' + list + '"]');
    if (!tbody) {
      return false;
    }
    var old = tbody.querySelector("tr[" + attribute + '="' + studyId + '"]');
    if (old) {
      old.remove();
    }
    if (row) {
      var order = row.getAttribute("data-order") || "";
      var before = null;
      var rows = tbody.querySelectorAll("tr");
      for (var i = 0; i < rows.length; i++) {
        if ((rows[i].getAttribute("data-order") || "") > order) {
          before = rows[i];
          break;
        }
      }
      // A row after the last one of a page that has a next page belongs on that page.
      if (before !== null || tbody.getAttribute("data-live-more") !== "true") {
        tbody.insertBefore(row, before);
        row.classList.add("row--changed");
        window.setTimeout(function () {
          row.classList.remove("row--changed");
        }, 2000);
      }
    }
    showIfRows(list);
    return !old && !!row;
  }

  function applyRows(staging, studyId) {
    var answer = staging.querySelector("[data-live-study]");
    // No answer (404: no longer visible to this user) removes the study's rows.
    var queueRow = answer ? answer.querySelector('[data-live-into="queue"] tr') : null;
    var listRow = answer ? answer.querySelector('[data-live-into="studies"] tr') : null;
    var arrived = place("queue", "data-queue-study-id", studyId, queueRow);
    place("studies", "data-study-id", studyId, listRow);
    if (arrived && queueRow.getAttribute("data-urgent") === "true") {
      announce(queueRow);
    }
    tick();
  }

  function fetchRow(studyId) {
    var page = root();
    var url = page.getAttribute("data-live-row-url").replace(/0$/, String(studyId));
    var query = page.getAttribute("data-live-query");
    var staging = document.createElement("div");
    staging.hidden = true;
    document.body.appendChild(staging);
    htmx
      .ajax("GET", url + (query ? "?" + query : ""), { source: staging, target: staging, swap: "innerHTML" })
      .then(function () {
        applyRows(staging, studyId);
      })
      .finally(function () {
        staging.remove();
      });
  }

  function refreshRegion() {
    var page = root();
    if (page) {
      htmx.trigger(page, "live-refresh");
    }
  }

  function flushPending() {
    batchTimer = null;
    var ids = Object.keys(pending);
    pending = {};
    pendingCount = 0;
    var page = root();
    // The study page, and pages that say so (the console: data-live-refetch="region"),
    // refetch their live region rather than rows.
    if (page.getAttribute("data-live-page") === "study" || page.getAttribute("data-live-refetch") === "region") {
      refreshRegion();
    } else if (ids.length > MAX_ROW_REQUESTS) {
      refreshRegion();
    } else {
      ids.forEach(fetchRow);
    }
  }

  function studyChanged(studyId) {
    var page = root();
    if (!page) {
      return;
    }
    if (page.getAttribute("data-live-page") === "study" && String(studyId) !== page.getAttribute("data-live-study-id")) {
      return;
    }
    if (!pending[studyId]) {
      pending[studyId] = true;
      pendingCount += 1;
    }
    if (batchTimer === null) {
      // A page that refetches its whole region may ask to collect changes for longer.
      batchTimer = window.setTimeout(flushPending, Number(page.getAttribute("data-live-batch-ms")) || BATCH_MS);
    }
  }

  // After a region was refetched (its new element replaced the old one): its render time
  // counts as seen, and its labels and buttons are brought up to date.
  document.body.addEventListener("htmx:afterSwap", function () {
    var page = root();
    if (page) {
      cursor = Math.max(cursor, Number(page.getAttribute("data-live-cursor")) || 0);
      showSoundState();
      tick();
    }
  });

  // --- the socket ------------------------------------------------------------------------------

  var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/ws/worklist/";
  var retryMs = 1000;
  var maxRetryMs = 30000;
  var connectedBefore = false;

  function setState(state) {
    document.querySelectorAll("[data-live-state]").forEach(function (el) {
      el.setAttribute("data-live-state", state);
      el.textContent = state === "live" ? gettext("Live") : state === "offline" ? gettext("Reconnecting…") : gettext("Connecting…");
    });
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
      if (connectedBefore) {
        socket.send(JSON.stringify({ type: "resync", since: cursor }));
      }
      connectedBefore = true;
      setState("live");
    });
    socket.addEventListener("message", function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (typeof message.at === "number") {
        cursor = Math.max(cursor, message.at);
      }
      if (message.type === "resync") {
        if (message.full) {
          refreshRegion();
        } else {
          message.study_ids.forEach(studyChanged);
        }
      } else if (typeof message.study_id === "number") {
        studyChanged(message.study_id);
      } else if (message.type === "surge.changed") {
        // A surge started or ended: the worklist and the console show it; a study page not.
        var page = root();
        if (page && page.getAttribute("data-live-page") !== "study") {
          refreshRegion();
        }
      }
    });
    socket.addEventListener("close", function (event) {
      setState("offline");
      if (event.code === 4401) {
        return; // not logged in: do not retry
      }
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, maxRetryMs);
    });
    window.teleradLiveSocket = socket;
  }

  showSoundState();
  tick();
  window.setInterval(tick, 15000);
  window.addEventListener("focus", tick); // back to the tab: current at once
  connect();
})();
