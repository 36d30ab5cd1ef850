// Lifeline console script: progressive enhancement only; every page works without it.
// 1. Countdowns: every .countdown holds a <time datetime="...Z"> deadline; each second its text,
//    its colour class (warn at data-warn, breached past the deadline) and its text label change.
// 2. Live tables: an element with data-poll is refreshed from that URL (If-None-Match, 304 = same).
// 3. Case pages: data-version-poll tells the agent when the case changed since it was rendered.
"use strict";

(function () {
  function span(seconds) {
    var total = Math.floor(Math.abs(seconds));
    var days = Math.floor(total / 86400), hours = Math.floor((total % 86400) / 3600);
    var minutes = Math.floor((total % 3600) / 60), secs = total % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (days) { return days + "d " + hours + "h"; }
    if (hours) { return hours + "h " + two(minutes) + "m"; }
    return minutes + "m " + two(secs) + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown").forEach(function (box) {
      var time = box.querySelector("time[datetime]");
      if (!time) { return; }
      var due = Date.parse(time.getAttribute("datetime"));
      var warnText = box.getAttribute("data-warn");
      var warn = warnText ? Date.parse(warnText) : NaN;
      var left = (due - now) / 1000;
      var late = left < 0 || box.getAttribute("data-breached") === "1";
      var atRisk = !late && !isNaN(warn) && now >= warn;
      time.textContent = left >= 0 ? "in " + span(left) : span(left) + " overdue";
      box.classList.toggle("breached", late);
      box.classList.toggle("warn", atRisk);
      var label = box.querySelector(".state-label");
      if (label) { label.textContent = late ? "breached" : (atRisk ? "at risk" : "on time"); }
    });
  }

  function poll(target) {
    var url = target.getAttribute("data-poll");
    var every = parseInt(target.getAttribute("data-poll-ms") || "1000", 10);
    var etag = null;
    var stopped = false;
    function once() {
      if (stopped) { return; }
      var headers = { "Accept": "text/html" };
      if (etag) { headers["If-None-Match"] = etag; }
      fetch(url, { headers: headers, credentials: "same-origin", redirect: "manual" })
        .then(function (response) {
          if (response.status === 304) { return; }
          if (!response.ok) { stopped = true; return; }
          etag = response.headers.get("ETag");
          return response.text().then(function (html) {
            target.innerHTML = html;
            tick();
          });
        })
        .catch(function () { /* a missed poll: the next one catches up */ })
        .then(function () { if (!stopped) { window.setTimeout(once, every); } });
    }
    window.setTimeout(once, every);
  }

  function watchVersion(box) {
    var url = box.getAttribute("data-version-poll");
    var version = box.getAttribute("data-version");
    var every = parseInt(box.getAttribute("data-poll-ms") || "2000", 10);
    function once() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", redirect: "manual" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && String(body.version) !== version) {
            var text = box.querySelector(".changed-text");
            text.textContent = "This case changed (version " + body.version + ", " + body.by + " at " + body.at +
              "). Reload to see it before you act.";
            box.hidden = false;
          }
        })
        .catch(function () { /* try again at the next interval */ })
        .then(function () { window.setTimeout(once, every); });
    }
    window.setTimeout(once, every);
  }

  function viewerTimes() {
    document.querySelectorAll("time.viewer-time[datetime]").forEach(function (time) {
      var instant = new Date(time.getAttribute("datetime"));
      if (!isNaN(instant.getTime())) {
        time.textContent = instant.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
      }
    });
  }

  function start() {
    viewerTimes();
    tick();
    window.setInterval(tick, 1000);
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("[data-version-poll]").forEach(watchVersion);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
