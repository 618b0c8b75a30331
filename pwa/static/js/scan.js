// GridSafe in-app scanner: reads a poster's QR code from the camera with jsQR (this Chromium has
// no BarcodeDetector) and opens it, as the phone's camera app would. The server decides what the
// code opens for this person (check-in, self-inspection, public card) and whether it is genuine.
// With no network, the code is read here instead (its signature cannot be checked on the phone),
// the enterprise is looked up in the data pulled onto the phone, and a check-in goes into the
// outbox carrying the code: the server judges the code when the check-in arrives. The checklist
// opened after it names the queued check-in, so the inspection is linked to it on the server.
(function () {
  "use strict";

  var root = document.getElementById("scanner");
  if (!root) return;
  var video = root.querySelector("video");
  var status = root.querySelector("[data-scan-status]");
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  // A code's path: /e/<token> (enterprise) or /p/<token> (key point), token in base32.
  var CODE_PATH = /^\/[ep]\/[A-Za-z2-7]{1,64}$/;
  var INTERVAL_MS = 150;
  var BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  var MAC_BYTES = 10;
  var KINDS = { e: 1, p: 2 };
  var stream = null;
  var done = false;

  function say(key) {
    status.textContent = root.getAttribute("data-" + key) || "";
  }

  // Any host: a poster printed with the public address opens here, on the address in use.
  function pathOf(text) {
    var url;
    try {
      url = new URL(text, window.location.href);
    } catch (error) {
      return null;
    }
    return CODE_PATH.test(url.pathname) ? url.pathname : null;
  }

  function stop() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.hidden = true;
  }

  function tick() {
    if (done) return;
    if (video.readyState >= 2 && video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var frame = context.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "dontInvert" });
      if (code) {
        var path = pathOf(code.data);
        if (path) {
          done = true;
          stop();
          if (navigator.onLine === false && offline) {
            offline.show(path).catch(function (error) {
              console.warn("scanner: could not read the phone's data", error);
              offline.refuse("needs-network");
            });
            return;
          }
          say("opening");
          window.location.assign(path);
          return;
        }
        say("not-ours");
      }
    }
    window.setTimeout(tick, INTERVAL_MS);
  }

  var offline = offlineScanner(root, say);

  if (!window.jsQR || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("unsupported");
    return;
  }
  say("starting");
  navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
    .then(function (media) {
      stream = media;
      video.srcObject = media;
      video.hidden = false;
      return video.play();
    })
    .then(function () {
      say("looking");
      tick();
    })
    .catch(function (error) {
      console.warn("camera unavailable", error);
      say("no-camera");
    });
  window.addEventListener("pagehide", stop);

  // ---- offline: read the code on the phone ---------------------------------------------------

  // The token's layout is qr/tokens.py's: base32 of a header byte (format in the high 4 bits,
  // kind in the low 4), a key id byte, the version and the subject id (unsigned varints), then a
  // 10-byte MAC. Only the server holds the key, so here the MAC is skipped, never trusted.

  function base32Bytes(text) {
    var bytes = [];
    var buffer = 0;
    var bits = 0;
    for (var i = 0; i < text.length; i++) {
      var value = BASE32.indexOf(text.charAt(i).toUpperCase());
      if (value < 0) return null;
      buffer = ((buffer << 5) | value) & 0xffff;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((buffer >>> bits) & 0xff);
      }
    }
    return bytes;
  }

  function readVarint(bytes, offset, end) {
    var value = 0;
    var scale = 1;
    for (var i = offset; i < Math.min(end, offset + 8); i++) {
      value += (bytes[i] & 0x7f) * scale;
      if (!(bytes[i] & 0x80)) return { value: value, next: i + 1 };
      scale *= 128;
    }
    return null;
  }

  // {kind: "e" | "p", id} for a well-formed code path, or null.
  function readCode(path) {
    var prefix = path.charAt(1);
    var bytes = base32Bytes(path.slice(3));
    if (!bytes || bytes.length < 4 + MAC_BYTES) return null;
    var end = bytes.length - MAC_BYTES;
    if (bytes[0] >> 4 !== 1 || (bytes[0] & 0x0f) !== KINDS[prefix]) return null;
    var version = readVarint(bytes, 2, end);
    var subject = version && readVarint(bytes, version.next, end);
    if (!subject || subject.next !== end || version.value < 1 || subject.value < 1) return null;
    return { kind: prefix, id: subject.value };
  }

  function distanceM(lat1, lng1, lat2, lng2) {
    var rad = Math.PI / 180;
    var dp = (lat2 - lat1) * rad;
    var dl = (lng2 - lng1) * rad;
    var a = Math.pow(Math.sin(dp / 2), 2) + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin(dl / 2), 2);
    return 2 * 6371000 * Math.asin(Math.sqrt(a));
  }

  function position(waitMs) {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) return resolve(null);
      var timer = window.setTimeout(function () { resolve(null); }, waitMs);
      navigator.geolocation.getCurrentPosition(
        function (found) { window.clearTimeout(timer); resolve(found.coords); },
        function () { window.clearTimeout(timer); resolve(null); },
        { enableHighAccuracy: true, timeout: waitMs, maximumAge: 60000 }
      );
    });
  }

  function byId(items, id) {
    for (var i = 0; i < items.length; i++) {
      if (items[i] && Number(items[i].id) === id) return items[i];
    }
    return null;
  }

  function offlineScanner(root, say) {
    var panel = document.querySelector("[data-offline-scan]");
    var Outbox = window.GridSafeOutbox;
    var user = document.body.dataset.user || "";
    if (!panel || !Outbox || !Outbox.supported() || !user) return null;
    var far = Number(panel.getAttribute("data-far-metres")) || 500;

    function text(name, value) {
      var node = panel.querySelector("[data-offline-" + name + "]");
      if (node) {
        node.textContent = value || "";
        node.hidden = !value;
      }
      return node;
    }

    function label(name) {
      return panel.getAttribute("data-label-" + name) || "";
    }

    function refuse(key) {
      say("offline");
      panel.hidden = false;
      panel.dataset.offlineState = key;
      text("problem", label(key));
    }

    async function show(path) {
      var code = readCode(path);
      if (!code) return refuse("invalid");
      if (panel.getAttribute("data-can-check-in") !== "true") return refuse("needs-network");
      var point = null;
      var enterpriseId = code.id;
      if (code.kind === "p") {
        point = byId(await Outbox.cached("key_point"), code.id);
        if (!point) return refuse("unknown");
        enterpriseId = Number(point.enterprise_id);
      }
      var enterprise = byId(await Outbox.cached("enterprise"), enterpriseId);
      if (!enterprise) return refuse("unknown");
      say("offline");
      panel.hidden = false;
      panel.dataset.offlineState = "found";
      panel.dataset.enterpriseId = String(enterpriseId);
      text("name", enterprise.name);
      text("point", point ? point.name : "");
      var box = panel.querySelector("[data-offline-form]");
      box.hidden = false;
      var form = box.querySelector("form");
      var coords = null;
      position(10000).then(function (found) {
        coords = found;
        if (!found) return text("position", label("no-position"));
        text("position", label("accuracy").replace("{metres}", String(Math.round(found.accuracy))));
        if (enterprise.latitude != null && enterprise.longitude != null) {
          var metres = distanceM(found.latitude, found.longitude, enterprise.latitude, enterprise.longitude);
          var line = label("distance").replace("{metres}", String(Math.round(metres)));
          text("distance", metres > far ? line + " " + label("far") : line);
        }
      });
      inspectLink(enterpriseId);
      var busy = false;
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        if (busy) return;
        busy = true;
        form.querySelector("[type=submit]").disabled = true;
        var found = coords || (await position(2500));
        var args = {
          id: Outbox.uuid7(),
          enterprise_id: enterpriseId,
          code: path,
          latitude: found ? found.latitude : null,
          longitude: found ? found.longitude : null,
          accuracy_m: found ? found.accuracy : null,
        };
        var place = enterprise.name + (point ? " · " + point.name : "");
        try {
          await Outbox.enqueue("inspection.check_in", args, {
            user: user,
            summary: { place: place, category: label("what") },
          });
        } catch (error) {
          console.warn("outbox: could not keep the check-in on the phone", error);
          busy = false;
          form.querySelector("[type=submit]").disabled = false;
          return refuse("not-saved");
        }
        try {
          var registration = await navigator.serviceWorker.ready;
          if (registration.sync) await registration.sync.register(Outbox.SYNC_TAG);
        } catch (error) {
          // No Background Sync: the outbox page sends it when the network is back.
        }
        // Stays here, as the online check-in page does, so the inspection can follow at once.
        box.hidden = true;
        panel.dataset.offlineState = "kept";
        panel.querySelector("[data-offline-kept]").hidden = false;
        inspectLink(enterpriseId, args.id);
      });
    }

    // The checklist opens offline only if the phone kept a copy of it from an earlier visit.
    // After a check-in, the link names it (`?check_in=<id>`) as the online check-in page's does:
    // the inspection sent later says where it began, and the server links the two.
    var asked = 0;
    function inspectLink(enterpriseId, checkInId) {
      var wrap = panel.querySelector("[data-offline-inspect]");
      var url = "/enterprises/" + enterpriseId + "/inspect";
      if (!wrap || typeof caches === "undefined") return;
      var mine = ++asked;
      caches.match(url, { ignoreSearch: true }).then(function (kept) {
        if (!kept || mine !== asked) return; // an answer to an earlier question comes late
        var link = wrap.querySelector("a");
        link.href = checkInId ? url + "?check_in=" + encodeURIComponent(checkInId) : url;
        link.classList.toggle("primary", Boolean(checkInId)); // the next step, as online
        wrap.hidden = false;
      }, function () { return null; });
    }

    return { show: show, refuse: refuse };
  }
})();
