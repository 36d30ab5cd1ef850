// Shows every <time datetime> of the creator's pages in the reader's own time zone and language.
// Without this script the UTC text written by the server stays.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var lang = document.documentElement.lang || "en";
  var format;
  try {
    format = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short" });
  } catch (e) {
    return;
  }
  document.querySelectorAll("time[datetime]").forEach(function (node) {
    var instant = new Date(node.getAttribute("datetime"));
    if (!isNaN(instant.getTime())) {
      node.textContent = format.format(instant);
      node.setAttribute("title", node.getAttribute("datetime"));
    }
  });
});
