// GridSafe in-app scanner: reads a poster's QR code from the camera with jsQR (this Chromium has
// no BarcodeDetector) and opens it, as the phone's camera app would. The server decides what the
// code opens for this person (check-in, self-inspection, public card) and whether it is genuine.
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
          say("opening");
          window.location.assign(path);
          return;
        }
        say("not-ours");
      }
    }
    window.setTimeout(tick, INTERVAL_MS);
  }

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
})();
