// GridSafe push switch on /notifications: subscribes this device to web push, or stops it.
// An enhancement: the inbox on the same page works without it, and where push cannot work.
(function () {
  "use strict";

  var control = document.querySelector("[data-push-control]");
  if (!control) return;
  var status = control.querySelector("[data-push-status]");
  var button = control.querySelector("[data-push-toggle]");
  var state = "unsupported";

  function label(name) {
    return control.getAttribute("data-label-" + name) || name;
  }

  function show(next) {
    state = next;
    control.setAttribute("data-push-state", next);
    status.textContent = label(next);
    var actionable = next === "on" || next === "off" || next === "failed";
    button.hidden = !actionable;
    button.disabled = false;
    button.textContent = label(next === "on" ? "disable" : "enable");
  }

  function csrf() {
    var match = document.cookie.match(/(?:^|;\s*)gs_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function keyBytes(base64url) {
    var text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json", "x-csrftoken": csrf() },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      if (!response.ok) throw new Error(method + " " + url + " answered " + response.status);
      return response;
    });
  }

  // The server learns (or re-learns) this device's subscription: keys can change under us.
  function store(subscription) {
    return api("POST", "/api/v1/push/subscriptions", subscription.toJSON());
  }

  async function enable() {
    var permission = await Notification.requestPermission();
    if (permission !== "granted") {
      show(permission === "denied" ? "denied" : "off");
      return;
    }
    var key = await (await api("GET", "/api/v1/push/key")).json();
    var registration = await navigator.serviceWorker.ready;
    var subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, // every push shows a notification (iOS revokes otherwise)
      applicationServerKey: keyBytes(key.public_key),
    });
    await store(subscription);
    show("on");
  }

  async function disable() {
    var registration = await navigator.serviceWorker.ready;
    var subscription = await registration.pushManager.getSubscription();
    if (subscription) {
      await api("DELETE", "/api/v1/push/subscriptions?endpoint=" + encodeURIComponent(subscription.endpoint));
      await subscription.unsubscribe();
    }
    show("off");
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    (state === "on" ? disable() : enable()).catch(function (error) {
      console.warn("push switch failed", error);
      show("failed");
    });
  });

  async function start() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
      show("unsupported");
      return;
    }
    if (Notification.permission === "denied") {
      show("denied");
      return;
    }
    var registration = await navigator.serviceWorker.ready;
    var subscription = await registration.pushManager.getSubscription();
    if (subscription && Notification.permission === "granted") {
      await store(subscription).catch(function () {}); // offline: next visit
      show("on");
    } else {
      show("off");
    }
  }

  start().catch(function (error) {
    console.warn("push switch unavailable", error);
    show("unsupported");
  });
})();
