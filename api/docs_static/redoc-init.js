// Starts ReDoc on /redoc from this server's own files (no CDN, no inline script).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  Redoc.init("/openapi.json", { hideDownloadButton: false }, document.getElementById("redoc"));
});
