// GridSafe page script: registers the service worker and shows when the phone is offline.
// Everything here is an enhancement; every page works without it.
(function () {
  "use strict";

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function (error) {
        console.warn("service worker registration failed", error);
      });
      // The worker keeps only what pages need (the scanner's decoder on /scan, Leaflet on /map);
      // a page it did not control yet names its files, so they are kept for offline use too.
      navigator.serviceWorker.ready.then(function (registration) {
        var urls = [].map.call(
          document.querySelectorAll("script[src^='/static/'], link[rel=stylesheet][href^='/static/']"),
          function (element) { return element.getAttribute("src") || element.getAttribute("href"); }
        );
        if (registration.active) registration.active.postMessage({ type: "keep-assets", urls: urls });
      });
    });
  }

  function showNetworkState() {
    var banner = document.getElementById("net-status");
    if (banner) banner.hidden = navigator.onLine;
    document.documentElement.classList.toggle("is-offline", !navigator.onLine);
  }
  window.addEventListener("online", showNetworkState);
  window.addEventListener("offline", showNetworkState);
  document.addEventListener("DOMContentLoaded", showNetworkState);

  // htmx 2 does not swap error responses by default; our 422 answers carry the re-rendered form.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422 || status === 429 || status === 403 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
