// Dates and times as the pages show them everywhere: 24-hour dd.mm.yyyy HH:MM in the platform's
// time zone (<body data-time-zone>), whatever the browser's own language or zone. Used by the
// page scripts as window.teleradFormat.dateTime(date) and .time(date).
(function () {
  "use strict";

  var zone = document.body.getAttribute("data-time-zone") || undefined;
  var formatter;
  try {
    formatter = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23"
    });
  } catch (err) {
    // An unknown zone name: the browser's zone is better than nothing.
    formatter = new Intl.DateTimeFormat("en-GB", {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23"
    });
  }

  function parts(date) {
    var out = {};
    formatter.formatToParts(date).forEach(function (part) {
      out[part.type] = part.value;
    });
    return out;
  }

  window.teleradFormat = {
    dateTime: function (date) {
      var p = parts(date);
      return p.day + "." + p.month + "." + p.year + " " + p.hour + ":" + p.minute;
    },
    time: function (date) {
      var p = parts(date);
      return p.hour + ":" + p.minute;
    }
  };
})();
