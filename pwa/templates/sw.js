// GridSafe service worker, version {{ version }}.
// Keeps the app shell on the phone so it opens with no network, and remembers pages last seen.
"use strict";

// The outbox (GridSafeOutbox): the same queue and drainer the pages use.
importScripts("{{ asset('js/outbox.js') }}");

const VERSION = "{{ version }}";
const SHELL = "gridsafe-shell-" + VERSION;
const PAGES = "gridsafe-pages";
const PRECACHE = {{ precache | safe }};
// Every static file by its path in the source tree ("js/app.js") and its content-hashed URL.
const ASSETS = {{ assets | safe }};
const HASHED = new Set(Object.values(ASSETS));
const OFFLINE_PAGES = {{ offline_pages | safe }};
// Cheap phones have little storage, and a page not seen for a long time is stale anyway.
const MAX_PAGES = 50;

async function precache() {
  const cache = await caches.open(SHELL);
  try {
    // A hashed name always holds the same bytes, so the copy the page has just loaded into the
    // HTTP cache is as good as a fresh one and is not downloaded twice. Anything else skips the
    // HTTP cache's copy unless the server confirms it ("no-cache": a 304 when the ETag matches),
    // so a new version never stores an older file.
    const responses = await Promise.all(PRECACHE.map(async (url) => {
      const response = await fetch(new Request(url, { cache: HASHED.has(url) ? "default" : "no-cache" }));
      if (!response.ok || response.redirected) {
        throw new Error("precache " + url + " answered " + response.status);
      }
      return response;
    }));
    await Promise.all(responses.map((response, i) => cache.put(PRECACHE[i], response)));
    await keepWhatWasKept(cache);
  } catch (error) {
    // Installing fails, so the browser keeps the previous worker and retries later; a shell
    // cache with some files missing must not be left behind for it to find.
    await caches.delete(SHELL);
    throw error;
  }
}

// "/static/vendor/jsQR.0123456789.js" → "vendor/jsQR.js": which file an older hashed name was.
function assetPathOf(url) {
  const match = new URL(url, self.location.origin).pathname.match(/^\/static\/(.+)\.[0-9a-f]{ {{- digest_length -}} }(\.[^./]+)$/);
  return match ? match[1] + match[2] : null;
}

// Files the worker kept because a page needed them (the scanner's decoder, the map's Leaflet)
// stay kept across a new version: the same file is copied over, a changed one fetched anew, so
// the scanner still reads codes offline after an update.
async function keepWhatWasKept(cache) {
  const names = (await caches.keys()).filter((name) => name.startsWith("gridsafe-shell-") && name !== SHELL);
  for (const name of names) {
    const old = await caches.open(name);
    for (const request of await old.keys()) {
      const path = assetPathOf(request.url);
      const current = path && ASSETS[path];
      if (!current || await cache.match(current)) {
        continue;
      }
      try {
        const same = new URL(request.url).pathname === current;
        const response = same ? await old.match(request) : await fetch(current);
        if (response && response.ok) {
          await cache.put(current, response);
        }
      } catch (error) {
        // Offline while updating: the page that needs the file fetches it again.
      }
    }
  }
}

// Files of a page that loaded before the worker controlled it (the first page after installing)
// went past the worker; the page names them, and they come from the HTTP cache into the shell.
async function keepAssets(urls) {
  const cache = await caches.open(SHELL);
  await Promise.all(urls.filter((url) => HASHED.has(url)).map(async (url) => {
    if (await cache.match(url)) {
      return;
    }
    try {
      const response = await fetch(url);
      if (response.ok) {
        await cache.put(url, response);
      }
    } catch (error) {
      // Offline: the page asks again on its next load.
    }
  }));
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

// The page that registered the worker loaded before the worker existed, so it is not cached
// yet; fetch it once now, or the first screen a person sees would not open offline.
async function rememberOpenPages() {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  await Promise.all(windows.map(async (client) => {
    const url = new URL(client.url);
    if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) {
      return;
    }
    try {
      const request = new Request(url.href);
      const response = await fetch(request);
      if (isCacheablePage(request, response)) {
        await storePage(request, response);
      }
    } catch (error) {
      // Offline during activation: the page gets cached on its next visit.
    }
  }));
}

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(
      names.filter((name) => name.startsWith("gridsafe-shell-") && name !== SHELL).map((name) => caches.delete(name))
    );
    await self.clients.claim();
    await rememberOpenPages();
  })());
});

// Bumped whenever the saved pages are forgotten (sign-in, sign-out): a copy fetched before that
// belongs to the previous person and must not be stored after it.
let pagesGeneration = 0;

// The report form, the scanner, the outbox and the person's tasks must open in a basement, so a
// copy of each is kept as soon as someone signs in (see forgetPagesThenSend), and again whenever
// a signed-in page asks (a phone signed in before this worker existed, a copy grown old).
// Fetched with the person's cookie; signed out, the answer is a redirect to sign-in: not kept.
// A copy older than an hour is fetched again (the form lists the person's enterprises).
const OFFLINE_PAGE_MAX_AGE_MS = 60 * 60 * 1000;

// Files a kept page loads (the scanner's decoder on /scan): kept with it, or the page would
// open offline without them.
function assetsOf(html) {
  const urls = [];
  for (const match of html.matchAll(/(?:src|href)="(\/static\/[^"]+)"/g)) {
    urls.push(match[1]);
  }
  return urls;
}

async function keepOfflinePagesNow() {
  const generation = pagesGeneration;
  const cache = await caches.open(PAGES);
  await Promise.all(OFFLINE_PAGES.map(async (url) => {
    const kept = await cache.match(url);
    const fetched = kept ? Date.parse(kept.headers.get("Date") || "") : NaN;
    if (kept && !(fetched < Date.now() - OFFLINE_PAGE_MAX_AGE_MS)) {
      return;
    }
    try {
      const request = new Request(url);
      const response = await fetch(request);
      if (isCacheablePage(request, response) && generation === pagesGeneration) {
        const html = await response.clone().text();
        await storePage(request, response);
        await keepAssets(assetsOf(html));
      }
    } catch (error) {
      // Offline: a page asks again on its next load.
    }
  }));
}

// Sign-in and the page it leads to both ask at once: one round of fetches serves both.
let keeping = null;

function keepOfflinePages() {
  if (!keeping) {
    keeping = keepOfflinePagesNow().finally(() => {
      keeping = null;
    });
  }
  return keeping;
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "keep-offline-pages") {
    event.waitUntil(keepOfflinePages());
  } else if (event.data && event.data.type === "keep-assets" && Array.isArray(event.data.urls)) {
    event.waitUntil(keepAssets(event.data.urls));
  }
});

// Background Sync: the browser wakes the worker when the network is back, even with no page open.
self.addEventListener("sync", (event) => {
  if (event.tag !== GridSafeOutbox.SYNC_TAG) {
    return;
  }
  event.waitUntil(GridSafeOutbox.sync().then((result) => {
    if (!["done", "idle", "signed_out"].includes(result.state)) {
      // Rejecting makes the browser try again later, with its own back-off.
      throw new Error("outbox not sent yet: " + result.state);
    }
  }));
});

function isShellAsset(url) {
  return url.pathname.startsWith("/static/") || url.pathname.startsWith("/icons/") || url.pathname === "/manifest.webmanifest";
}

async function shellFirst(event) {
  // ignoreVary: the manifest varies by language, and any language beats none when offline.
  const cached = await caches.match(event.request, { cacheName: SHELL, ignoreSearch: true, ignoreVary: true });
  if (cached) {
    return cached;
  }
  let response;
  try {
    response = await fetch(event.request);
  } catch (error) {
    // A page kept from an older version names older files: today's copy of the same file.
    const path = assetPathOf(event.request.url);
    const current = path && ASSETS[path] && await caches.match(ASSETS[path], { cacheName: SHELL });
    if (current) {
      return current;
    }
    throw error;
  }
  if (response.ok) {
    const copy = response.clone();
    event.waitUntil(caches.open(SHELL).then((cache) => cache.put(event.request, copy)));
  }
  return response;
}

// Only whole pages the user asked for: an htmx fragment (same URL, HX-Request header) stored
// under the page's URL would come back offline as a page without its layout.
function isCacheablePage(request, response) {
  return response.ok
    && response.type === "basic"
    && !response.redirected
    && !request.headers.has("HX-Request")
    && (response.headers.get("Content-Type") || "").startsWith("text/html")
    && !(response.headers.get("Cache-Control") || "").includes("no-store");
}

async function storePage(request, response) {
  const cache = await caches.open(PAGES);
  await cache.put(request, response);
  const keys = await cache.keys();
  // Keys come back oldest first; a page seen again was put again and moved to the end.
  await Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_PAGES)).map((key) => cache.delete(key)));
}

async function offlinePage() {
  return (await caches.match("/offline", { cacheName: SHELL })) || Response.error();
}

// On "lie-fi" (signal bars, yet nothing gets through) a fetch can hang for a minute before it
// fails. After this long the kept copy is shown instead; the network's answer, if it still
// comes, refreshes the copy for the next visit.
const NETWORK_TIMEOUT_MS = {{ network_timeout_ms }};
const TIMED_OUT = Symbol("timed out");

// Pages whose script takes what it needs from the address (/hazards/new?enterprise_id=…, the
// scanner's link to a checklist with ?check_in=…): offline, their kept copy serves any query.
const CHECKLIST_PATH = /^\/enterprises\/\d+\/inspect$/;

function readsItsQuery(pathname) {
  return OFFLINE_PAGES.includes(pathname) || CHECKLIST_PATH.test(pathname);
}

async function keptPage(request) {
  const url = new URL(request.url);
  return (await caches.match(request, { cacheName: PAGES }))
    || (readsItsQuery(url.pathname)
      && await caches.match(url.pathname, { cacheName: PAGES, ignoreSearch: true }))
    || null;
}

// Pages: the network first, so people see fresh data; the last copy when the network fails or
// is too slow, the offline page when there is no copy.
async function networkFirstPage(event) {
  const request = event.request;
  const generation = pagesGeneration;
  const network = fetch(request);
  // Registered before anything is awaited, so the worker stays alive for a late answer, and
  // cloned in the first handler, before the page starts reading the body.
  event.waitUntil(network.then((response) => {
    // A copy that arrives after a sign-in or sign-out belongs to the previous person.
    if (isCacheablePage(request, response) && generation === pagesGeneration) {
      return storePage(request, response.clone());
    }
    return undefined;
  }).catch(() => {}));
  let timer;
  const slow = new Promise((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), NETWORK_TIMEOUT_MS);
  });
  try {
    const first = await Promise.race([network, slow]);
    if (first !== TIMED_OUT) {
      return first;
    }
    // Nothing kept: waiting on is still better than the offline page.
    return (await keptPage(request)) || await network;
  } catch (error) {
    return (await keptPage(request)) || offlinePage();
  } finally {
    clearTimeout(timer);
  }
}

// Whoever signs in next on this phone must never be shown the previous user's pages, even
// offline: forget them before the sign-in or sign-out reaches the server.
async function forgetPagesThenSend(event) {
  pagesGeneration += 1;
  keeping = null; // a round started for the previous person stores nothing now
  await caches.delete(PAGES);
  const response = await sendForm(event);
  if (new URL(event.request.url).pathname === "/signin" && signedIn(response)) {
    // Kept now, while there is a network, not on the first visit to each page: a phone that
    // goes offline right after signing in still opens the report form, scanner and outbox.
    event.waitUntil(keepOfflinePages());
  }
  return response;
}

// A sign-in that worked answers a plain form with a redirect (seen here as "opaqueredirect")
// and htmx with HX-Redirect; a refused one re-renders the form.
function signedIn(response) {
  return response.type === "opaqueredirect"
    || response.redirected
    || (response.ok && response.headers.has("HX-Redirect"));
}

// A form sent with no network would end on the browser's error page, a dead end in an
// installed app; the offline page at least leads back to the saved pages.
async function sendForm(event) {
  try {
    return await fetch(event.request);
  } catch (error) {
    if (event.request.mode === "navigate") {
      return offlinePage();
    }
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) {
    return;
  }
  if (request.method === "POST" && (url.pathname === "/signout" || url.pathname === "/signin")) {
    event.respondWith(forgetPagesThenSend(event));
  } else if (request.method === "POST" && request.mode === "navigate") {
    event.respondWith(sendForm(event));
  } else if (request.method !== "GET") {
    return;
  } else if (isShellAsset(url)) {
    event.respondWith(shellFirst(event));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(event));
  }
});

// ---- Web push --------------------------------------------------------------------------------
// Every push shows a notification, whatever it holds: iOS revokes a subscription that does not.

async function reportReceipt(id, event) {
  if (!id) {
    return;
  }
  try {
    await fetch("/api/v1/notifications/" + encodeURIComponent(id) + "/receipts", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrftoken": (await GridSafeOutbox.csrfToken()) || "" },
      body: JSON.stringify({ event: event }),
    });
  } catch (error) {
    // Offline or signed out: the receipt is a nicety, the push was shown anyway.
  }
}

self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (error) {
    message = {};
  }
  const title = message.title || "GridSafe · 安全网格";
  // One tag per warning: its cancel notice replaces the alarm on the lock screen, and
  // renotify makes the replacement sound and vibrate again instead of changing silently.
  const warningId = message.data && message.data.warning_id;
  const options = {
    body: message.body || "",
    icon: "/icons/icon-192.png",
    badge: "/icons/icon-192.png",
    tag: warningId ? "gridsafe-warning-" + warningId : message.id ? "gridsafe-" + message.id : "gridsafe",
    renotify: Boolean(warningId),
    requireInteraction: /^(task|warning)\./.test(String(message.kind || "")),
    actions: Array.isArray(message.actions) ? message.actions.slice(0, 2) : [],
    data: {
      id: message.id || null,
      kind: message.kind || "",
      url: message.url || "/notifications",
      task_id: message.task_id || (message.data && message.data.task_id) || null,
      warning_id: (message.data && message.data.warning_id) || null,
    },
  };
  event.waitUntil(Promise.all([
    self.registration.showNotification(title, options),
    reportReceipt(message.id, "delivered"),
  ]));
});

async function openOrFocus(url) {
  const target = new URL(url, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const same = windows.find((client) => client.url === target);
  if (same) {
    try {
      return await same.focus();
    } catch (error) {
      // focus is only allowed while handling the click; open a window instead
    }
  }
  for (const client of windows.filter((c) => c !== same)) {
    try {
      await client.focus();
      return await client.navigate(target);
    } catch (error) {
      // not ours to steer (uncontrolled): open a window instead
    }
  }
  return self.clients.openWindow(target);
}

// A warning is acknowledged (确认收到) from the notification the same way: through the outbox.
async function acknowledgeFromNotification(notification, data) {
  try {
    await GridSafeOutbox.enqueue("warning.ack", { warning_id: data.warning_id, via: "notification" }, { summary: notification.title });
    if (self.registration.sync) {
      await self.registration.sync.register(GridSafeOutbox.SYNC_TAG).catch(() => {});
    }
    await GridSafeOutbox.sync().catch(() => {});
  } catch (error) {
    // Nobody signed in on this phone: the warning's page (opened next) offers the button again.
  }
}

// Accept works from the notification itself, with or without network: it goes into the outbox
// like any other change, and the outbox sends it now or when the network is back.
async function acceptFromNotification(notification, data) {
  try {
    await GridSafeOutbox.enqueue("task.accept", { task_id: data.task_id }, { summary: notification.title });
    if (self.registration.sync) {
      await self.registration.sync.register(GridSafeOutbox.SYNC_TAG).catch(() => {});
    }
    await GridSafeOutbox.sync().catch(() => {});
  } catch (error) {
    // Nobody signed in on this phone: the task page (opened next) offers the button again.
  }
}

self.addEventListener("notificationclick", (event) => {
  const notification = event.notification;
  const data = notification.data || {};
  notification.close();
  event.waitUntil((async () => {
    let url = data.url || "/notifications";
    if (event.action === "accept" && data.task_id) {
      await acceptFromNotification(notification, data);
    } else if (event.action === "ack" && data.warning_id) {
      await acknowledgeFromNotification(notification, data);
    } else if (event.action === "decline") {
      url += (url.includes("?") ? "&" : "?") + "decline=1";
    }
    await reportReceipt(data.id, "seen");
    await openOrFocus(url);
  })());
});
