// GridSafe service worker, version {{ version }}.
// Keeps the app shell on the phone so it opens with no network, and remembers pages last seen.
"use strict";

const VERSION = "{{ version }}";
const SHELL = "gridsafe-shell-" + VERSION;
const PAGES = "gridsafe-pages";
const PRECACHE = {{ precache | safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((name) => name.startsWith("gridsafe-shell-") && name !== SHELL).map((name) => caches.delete(name))
      ))
      .then(() => self.clients.claim())
  );
});

function isShellAsset(url) {
  return url.pathname.startsWith("/static/") || url.pathname.startsWith("/icons/") || url.pathname === "/manifest.webmanifest";
}

async function shellFirst(request) {
  const cached = await caches.match(request, { ignoreSearch: true });
  if (cached) {
    return cached;
  }
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(SHELL);
    cache.put(request, response.clone());
  }
  return response;
}

// Pages: the network first, so people see fresh data; the last copy or the offline page without it.
async function networkFirstPage(request) {
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic" && !response.redirected) {
      const cache = await caches.open(PAGES);
      cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await caches.match(request, { cacheName: PAGES });
    return cached || (await caches.match("/offline")) || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.method === "POST" && url.pathname === "/signout") {
    // A signed-out phone must not show the last user's pages from the cache.
    event.waitUntil(caches.delete(PAGES));
    return;
  }
  if (request.method !== "GET" || url.pathname.startsWith("/api/")) {
    return;
  }
  if (isShellAsset(url)) {
    event.respondWith(shellFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(request));
  }
});
