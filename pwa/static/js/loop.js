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

  // An inspection is answered per item (a choice, a note, photos each): its fields are read into
  // the shape `inspection.record` takes, not one argument per input. The inspection's id is made
  // here, once, so the server records it once however often the outbox sends it.
  const INSPECTION_PHOTOS_PER_ITEM = 3;
  // Opened from the copy the service worker kept, the page's own stamp is when it was kept:
  // when this page was opened on the phone is when the inspection started.
  const OPENED_AT = new Date().toISOString();

  async function inspectionOf(form) {
    const args = JSON.parse(form.dataset.args || "{}");
    const fields = form.elements;
    args.id = Outbox.uuid7();
    args.template_id = Number(fields.template_id.value);
    args.started_at = OPENED_AT;
    args.check_in_id = fields.check_in_id.value || null;
    args.results = [];
    const photos = [];
    for (const fieldset of form.querySelectorAll("fieldset[data-item]")) {
      const itemId = Number(fieldset.dataset.item);
      const chosen = fieldset.querySelector("input[type=radio]:checked");
      const note = fieldset.querySelector("input[name='note_" + itemId + "']");
      const input = fieldset.querySelector("input[type=file]");
      const named = [];
      for (const file of Array.from((input && input.files) || []).slice(0, INSPECTION_PHOTOS_PER_ITEM)) {
        const photo = await Outbox.preparePhoto(file);
        photos.push(photo);
        named.push(photo.sha256);
      }
      args.results.push({ item_id: itemId, result: chosen ? chosen.value : "", note: note ? note.value : "", photos: named });
    }
    // The flat list is what the outbox uploads before sending, and what the outbox page counts.
    args.photos = [...new Set(photos.map((photo) => photo.sha256))];
    return { args: args, photos: photos };
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
    let args;
    let photos;
    if (form.dataset.offlineMutation === "inspection.record") {
      ({ args, photos } = await inspectionOf(form));
    } else {
      args = argsOf(form);
      photos = await photosOf(form);
      if (photos.length) args.photos = photos.map((photo) => photo.sha256);
    }
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

  // The check-in an inspection follows comes in the address (`?check_in=<id>`, from the check-in
  // page or the offline scanner). Opened offline, the page is the copy the service worker kept,
  // its hidden field holding whatever that copy was kept with: the address says which check-in.
  function fillCheckIn() {
    const form = document.querySelector("form[data-offline-mutation='inspection.record']");
    if (!form || !form.elements.check_in_id) return;
    form.elements.check_in_id.value = new URLSearchParams(location.search).get("check_in") || "";
  }
  document.addEventListener("DOMContentLoaded", fillCheckIn);

  // A refused photo (not an image, too large) re-renders the inspection form with the reason;
  // app.js swaps only 4xx answers other forms use, so these are swapped here.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const form = event.target.closest && event.target.closest("form[data-offline-mutation='inspection.record']");
    if (form && [413, 415].includes(event.detail.xhr.status)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:sendError", (event) => {
    const form = event.target.closest && event.target.closest("form[data-offline-mutation]");
    if (!form || !Outbox || !Outbox.supported()) return;
    keep(form).catch((error) => console.warn("loop: could not keep this on the phone", error));
  });
})();
