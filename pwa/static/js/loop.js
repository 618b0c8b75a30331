// The closed loop's buttons on a phone with no network: a form marked
// data-offline-mutation="<name>" is sent by htmx when there is a network; when the request
// cannot leave the phone, the same action is kept in the outbox (photos included) and sent by
// itself later. The server applies it under the same rules either way.
"use strict";

(function () {
  const Outbox = window.GridSafeOutbox;

  function argsOf(form) {
    const args = JSON.parse(form.dataset.args || "{}");
    Array.from(form.elements).forEach((field) => {
      if (!field.name || field.name === "_csrf_token" || field.type === "file" || field.type === "submit") return;
      args[field.name] = field.value;
    });
    return args;
  }

  async function photosOf(form) {
    const input = form.querySelector("input[type=file]");
    if (!input || !input.files) return [];
    const photos = [];
    for (const file of Array.from(input.files).slice(0, Outbox.MAX_PHOTOS)) {
      photos.push(await Outbox.preparePhoto(file));
    }
    return photos;
  }

  function say(form, text) {
    const place = form.querySelector("[data-form-result]");
    if (!place) return;
    place.replaceChildren();
    const note = document.createElement("div");
    note.className = "alert ok";
    note.setAttribute("role", "status");
    note.dataset.keptOffline = form.dataset.offlineMutation;
    note.textContent = text;
    place.append(note);
  }

  async function keep(form) {
    const args = argsOf(form);
    const photos = await photosOf(form);
    if (photos.length) args.photos = photos.map((photo) => photo.sha256);
    await Outbox.enqueue(form.dataset.offlineMutation, args, {
      photos: photos,
      summary: { place: form.dataset.outboxPlace || "", category: form.dataset.outboxWhat || "" },
    });
    form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    say(form, form.dataset.keptText || "");
    try {
      const registration = await navigator.serviceWorker.ready;
      if (registration.sync) await registration.sync.register(Outbox.SYNC_TAG);
    } catch (error) {
      // No Background Sync: the outbox drains on reconnect and on the next start.
    }
  }

  // Where the person stands when they verify or rectify: asked once when such a form is on the
  // page, written into its hidden fields (sent online and offline alike); no fix, no position.
  function fillPositions() {
    const forms = document.querySelectorAll("form[data-position]");
    if (!forms.length || !navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        forms.forEach((form) => {
          form.elements.latitude.value = String(position.coords.latitude);
          form.elements.longitude.value = String(position.coords.longitude);
          form.elements.accuracy_m.value = String(position.coords.accuracy);
        });
      },
      () => null,
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
  }
  document.addEventListener("DOMContentLoaded", fillPositions);

  document.addEventListener("htmx:sendError", (event) => {
    const form = event.target.closest && event.target.closest("form[data-offline-mutation]");
    if (!form || !Outbox || !Outbox.supported()) return;
    keep(form).catch((error) => console.warn("loop: could not keep this on the phone", error));
  });
})();
