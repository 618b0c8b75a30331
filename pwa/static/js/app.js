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

  // The "more" menu opens over the page: a tap elsewhere or Escape closes it, as a menu does.
  document.addEventListener("click", function (event) {
    var open = document.querySelector("details[data-nav-more][open]");
    if (open && !open.contains(event.target)) open.open = false;
  });
  document.addEventListener("keydown", function (event) {
    var open = document.querySelector("details[data-nav-more][open]");
    if (open && event.key === "Escape") {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });

  // The offline page offers only the ways on that open here with no network: pages the worker
  // has kept (they are kept at sign-in for whoever is signed in).
  document.addEventListener("DOMContentLoaded", function () {
    var links = document.querySelectorAll("[data-offline-way]");
    if (!links.length || !("caches" in window)) return;
    [].forEach.call(links, function (link) {
      caches.match(link.getAttribute("href"), { ignoreSearch: true }).then(function (kept) {
        link.closest("li").hidden = !kept;
      }, function () { return null; });
    });
  });

  // htmx 2 does not swap error responses by default; our 422 answers carry the re-rendered form.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422 || status === 429 || status === 403 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
