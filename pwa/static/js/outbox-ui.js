// GridSafe outbox on the page: the report form saves into the outbox (online or offline, one
// path), the outbox page lists what waits, the tab shows how many, and the queue is sent when
// the network is back. Words come from the page (translated data-label-* attributes), never here.
// Without this script (or without IndexedDB) the form posts to the server as a plain form.
(function () {
  "use strict";

  const Outbox = window.GridSafeOutbox;
  const user = document.body.dataset.user || "";
  if (!Outbox || !Outbox.supported() || !user) {
    return;
  }

  const TICK_MS = 30 * 1000;
  const MAX_DELAY_MS = 5 * 60 * 1000;
  const GPS_WAIT_MS = 2500;
  let delay = TICK_MS;
  let timer = null;

  function label(element, name, count) {
    const text = element.dataset["label" + name] || "";
    return count === undefined ? text : text.replace("{count}", String(count));
  }

  // ---- sending --------------------------------------------------------------------------------

  async function sync(options) {
    let result = { state: "error" };
    try {
      result = await Outbox.sync(options);
    } catch (error) {
      console.warn("outbox sync failed", error);
    }
    // No network, a server that asked for patience: wait longer each time, up to five minutes.
    const waiting = result.state !== "done" && result.state !== "idle";
    delay = waiting ? Math.min(delay * 2, MAX_DELAY_MS) : TICK_MS;
    schedule();
    await refresh();
    return result;
  }

  function schedule() {
    clearTimeout(timer);
    // The timer only sends; pulling is for start, the network coming back and after sending.
    // A quarter either way, so the phones a busy server (503) or an outage sent away do not all
    // come back in the same second.
    const spread = delay * (0.75 + Math.random() * 0.5);
    timer = setTimeout(() => sync({ pull: false }), spread);
  }

  // The service worker sends the outbox even when no page is open, where the browser can.
  async function askForBackgroundSync() {
    try {
      const registration = await navigator.serviceWorker.ready;
      if (registration.sync) await registration.sync.register(Outbox.SYNC_TAG);
    } catch (error) {
      // Not supported or not allowed: the page's own triggers remain.
    }
  }

  // ---- counts and the list --------------------------------------------------------------------

  async function refresh() {
    await Promise.all([showCount(), renderList(), showSaved()]);
  }

  // The notice on the outbox after saving says what became of the record: "kept on this phone"
  // only while it is, "received" once the server has it (at once, with a network).
  let savedId = null;

  async function showSaved() {
    const notice = document.querySelector("[data-outbox-saved]");
    if (!notice || savedId === null) return;
    const item = await Outbox.get(savedId);
    const state = item ? item.state : "received"; // pruned: it was received long ago
    const kind = state === "received" ? "Sent" : state === "rejected" ? "Refused" : "Saved";
    notice.textContent = label(notice, kind);
    notice.dataset.outboxSaved = state;
    notice.className = "alert " + (state === "received" ? "ok" : state === "rejected" ? "error" : "warn");
    notice.hidden = false;
  }

  async function showCount() {
    const badges = document.querySelectorAll("[data-outbox-count]");
    if (!badges.length) return;
    const count = await Outbox.count(user);
    badges.forEach((badge) => {
      badge.textContent = String(count);
      badge.hidden = count === 0;
    });
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function describe(list, item) {
    const row = element("li", "outbox-item");
    row.dataset.outboxId = String(item.id);
    row.dataset.state = item.state;
    const args = item.args || {};
    const summary = item.summary || {};
    const title = [summary.place, summary.category].filter(Boolean).join(" · ");
    row.append(element("strong", "", title || args.description || item.name));
    if (title && args.description) row.append(element("span", "description", args.description));
    const facts = element("span", "muted");
    const state = element("span", "state state-" + item.state, label(list, item.state[0].toUpperCase() + item.state.slice(1)));
    facts.append(state);
    const photos = (args.photos || []).length;
    if (photos) facts.append(" · ", label(list, "Photos", photos));
    facts.append(" · ", new Date(item.at).toLocaleString(document.documentElement.lang));
    row.append(facts);
    // The server kept the inspection though it refused (or never got) the check-in it named;
    // the inspector should know the visit is on record without its proof of presence.
    if (item.state === "received" && item.result && item.result.check_in_missing) {
      const note = element("div", "alert", label(list, "CheckInMissing"));
      note.setAttribute("role", "note");
      note.dataset.outboxNote = "check_in_missing";
      row.append(note);
    }
    if (item.state === "rejected") {
      const reason = element("div", "alert error", item.message || item.code || "");
      reason.setAttribute("role", "alert");
      reason.dataset.errorCode = item.code || "";
      Object.values(item.fields || {}).forEach((message) => {
        reason.append(element("div", "field-error", message));
      });
      row.append(reason);
    }
    if (item.state === "pending" || item.state === "rejected") {
      const actions = element("div", "actions");
      if (item.name === "hazard.report") {
        const edit = element("a", "button", label(list, "Edit"));
        edit.href = "/hazards/new#edit=" + item.id;
        actions.append(edit);
      }
      const discard = element("button", "", label(list, "Discard"));
      discard.type = "button";
      discard.dataset.outboxDiscard = String(item.id);
      actions.append(discard);
      row.append(actions);
    }
    return row;
  }

  async function renderList() {
    const list = document.querySelector("[data-outbox-list]");
    if (!list) return;
    const items = await Outbox.list(user);
    if (!items.length) {
      list.replaceChildren(element("li", "muted", label(list, "Empty")));
      return;
    }
    // Newest first: what was just saved is at the top.
    list.replaceChildren(...items.reverse().map((item) => describe(list, item)));
  }

  function wireOutboxPage() {
    const list = document.querySelector("[data-outbox-list]");
    if (!list) return;
    list.addEventListener("click", async (event) => {
      const button = event.target.closest("[data-outbox-discard]");
      if (!button) return;
      const question = label(list, "DiscardConfirm");
      if (question && !window.confirm(question)) return;
      await Outbox.discard(button.dataset.outboxDiscard);
      await refresh();
    });
    document.querySelectorAll("[data-outbox-sync]").forEach((button) => {
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await sync({ force: true });
        } finally {
          button.disabled = false;
        }
      });
    });
    const saved = location.hash.match(/^#saved=(\d+)$/);
    if (saved && document.querySelector("[data-outbox-saved]")) {
      savedId = Number(saved[1]);
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  // ---- the report form ------------------------------------------------------------------------

  // A position if the phone has one quickly; a report is never held up for want of GPS.
  function positionFinder() {
    let found = null;
    let asked = null;
    function ask() {
      if (asked || !navigator.geolocation) return asked;
      asked = new Promise((resolve) => {
        navigator.geolocation.getCurrentPosition(
          (position) => {
            found = position.coords;
            resolve(found);
          },
          () => resolve(null),
          { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
        );
      });
      return asked;
    }
    return {
      ask: ask,
      async now() {
        ask();
        if (found || !asked) return found;
        return Promise.race([asked, new Promise((resolve) => setTimeout(() => resolve(found), GPS_WAIT_MS))]);
      },
    };
  }

  function number(value) {
    if (value === null || value === undefined || value === "") return null;
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : null;
  }

  function chosenText(select) {
    if (!select || !select.value) return "";
    return select.selectedOptions[0] ? select.selectedOptions[0].textContent.trim() : "";
  }

  function setValue(form, name, value) {
    const field = form.elements.namedItem(name);
    if (!field || value === null || value === undefined) return;
    if (field instanceof RadioNodeList) {
      field.forEach((radio) => {
        radio.checked = radio.value === String(value);
      });
    } else {
      field.value = String(value);
    }
  }

  async function wireReportForm(form) {
    const gps = positionFinder();
    let hazardId = Outbox.uuid7();
    let editing = null;

    const match = location.hash.match(/^#edit=(\d+)$/);
    if (match) {
      const item = await Outbox.get(match[1]);
      if (item && item.user === user && item.name === "hazard.report" && ["pending", "rejected"].includes(item.state)) {
        editing = item;
        hazardId = item.args.id; // the same report, corrected: the server still takes it once
        ["enterprise_id", "key_point_id", "grid_id", "severity", "category", "description"].forEach((name) =>
          setValue(form, name, item.args[name])
        );
        const note = form.querySelector("[data-outbox-editing]");
        if (note) {
          note.hidden = false;
          const photos = (item.args.photos || []).length;
          const keep = note.querySelector("[data-label-keep]");
          if (keep) keep.textContent = label(keep, "Keep", photos);
          const choice = note.querySelector("label.check");
          if (choice) choice.hidden = photos === 0;
        }
      }
    } else {
      // Opened offline as /hazards/new?enterprise_id=…, the saved page is the plain form.
      const wanted = new URLSearchParams(location.search).get("enterprise_id");
      const select = form.elements.namedItem("enterprise_id");
      if (wanted && select && !select.value) select.value = wanted;
    }

    form.addEventListener("focusin", () => gps.ask(), { once: true });
    if (navigator.permissions) {
      navigator.permissions.query({ name: "geolocation" }).then(
        (status) => status.state === "granted" && gps.ask(),
        () => null
      );
    }

    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      // Ask, while this is still the person's action, that the browser never evicts the outbox.
      if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => null);
      const button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      let item = null;
      try {
        item = await saveReport(form, gps, hazardId, editing);
      } catch (error) {
        // Nothing was saved (one transaction): let the server have the plain form instead.
        console.warn("outbox: could not keep the report on the phone", error);
        form.submit();
        return;
      }
      if (item) {
        await askForBackgroundSync();
        location.assign("/outbox#saved=" + item.id);
      }
    });
  }

  async function saveReport(form, gps, hazardId, editing) {
    const data = new FormData(form);
    const input = form.querySelector("input[type=file][name=photos]");
    const files = input ? Array.from(input.files).filter((file) => file.size > 0) : [];
    const keepBox = form.querySelector("[data-keep-photos]");
    const kept = editing && (!keepBox || keepBox.checked) ? editing.args.photos || [] : [];
    const room = Math.max(0, Outbox.MAX_PHOTOS - kept.length);
    const photos = [];
    for (const file of files.slice(0, room)) {
      photos.push(await Outbox.preparePhoto(file));
    }
    const earlier = editing ? editing.args : {};
    // A corrected report keeps where it was made, not where it is being corrected.
    const coords = number(earlier.latitude) === null ? await gps.now() : null;
    const field = (name) => (form.elements.namedItem(name) ? data.get(name) : earlier[name]);
    const enterpriseId = number(field("enterprise_id"));
    // A key point kept from before belongs to the enterprise chosen before.
    const keyPointId = form.elements.namedItem("key_point_id") || enterpriseId === number(earlier.enterprise_id)
      ? number(field("key_point_id"))
      : null;
    const args = {
      id: hazardId,
      enterprise_id: enterpriseId,
      key_point_id: keyPointId,
      grid_id: number(field("grid_id")),
      severity: String(data.get("severity") || ""),
      category: String(data.get("category") || ""),
      description: String(data.get("description") || "").trim(),
      latitude: coords ? coords.latitude : number(earlier.latitude ?? data.get("latitude")),
      longitude: coords ? coords.longitude : number(earlier.longitude ?? data.get("longitude")),
      accuracy_m: coords ? coords.accuracy : number(earlier.accuracy_m ?? data.get("accuracy_m")),
      photos: [...new Set([...kept, ...photos.map((photo) => photo.sha256)])],
    };
    const place = chosenText(form.elements.namedItem("enterprise_id")) || chosenText(form.elements.namedItem("grid_id"));
    const summary = { place: place, category: chosenText(form.elements.namedItem("category")) };
    return Outbox.enqueue("hazard.report", args, {
      user: user,
      photos: photos,
      summary: summary,
      replaces: editing ? editing.id : null,
    });
  }

  // ---- other outbox forms (a check-in) --------------------------------------------------------

  // A form marked data-outbox="<mutation>" whose fields are the mutation's arguments; fields
  // marked data-type="int"/"float" are numbers, and latitude/longitude/accuracy_m come from GPS.
  function wireMutationForm(form) {
    const gps = positionFinder();
    gps.ask();
    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      const button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      let item;
      try {
        const args = {};
        Array.from(form.elements).forEach((field) => {
          if (!field.name || field.name === "_csrf_token" || field.name === "back" || field.type === "submit") return;
          const type = field.dataset.type;
          args[field.name] = type === "int" || type === "float" ? number(field.value) : field.value;
        });
        const coords = await gps.now();
        if (coords) {
          args.latitude = coords.latitude;
          args.longitude = coords.longitude;
          args.accuracy_m = coords.accuracy;
        }
        item = await Outbox.enqueue(form.dataset.outbox, args, {
          user: user,
          summary: { place: form.dataset.outboxPlace || "", category: form.dataset.outboxWhat || "" },
        });
      } catch (error) {
        console.warn("outbox: could not keep this on the phone", error);
        form.submit();
        return;
      }
      await askForBackgroundSync();
      location.assign(await whereAfter(form, item));
    });
  }

  // With a network the server answers within a moment: then the person sees what it made of
  // it on the page the form came from (a check-in's distance, a far one flagged, the checklist
  // to open next). Without one, or if it is slow, the outbox says the record waits on the phone.
  const ANSWER_WAIT_MS = 8000;

  async function whereAfter(form, item) {
    if (navigator.onLine) {
      sync({});
      const deadline = Date.now() + ANSWER_WAIT_MS;
      while (Date.now() < deadline) {
        const now = await Outbox.get(item.id);
        if (now && now.state === "received") {
          const back = form.elements.namedItem("back");
          return (back && back.value) || location.pathname + location.search;
        }
        if (now && now.state === "rejected") return "/outbox#saved=" + item.id;
        if (!navigator.onLine) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    return "/outbox#saved=" + item.id;
  }

  // ---- the offline pages ----------------------------------------------------------------------

  // The report form and the outbox must open in a basement: the worker keeps copies of them.
  function keepOfflinePages() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready
      .then((registration) => registration.active && registration.active.postMessage({ type: "keep-offline-pages" }))
      .catch(() => null);
  }

  // ---- start ----------------------------------------------------------------------------------

  async function start() {
    const csrf = await Outbox.csrfToken();
    await Outbox.remember(user, csrf);
    wireOutboxPage();
    const form = document.querySelector('form[data-outbox="hazard.report"]');
    if (form) await wireReportForm(form);
    document.querySelectorAll('form[data-outbox]:not([data-outbox="hazard.report"])').forEach(wireMutationForm);
    try {
      new BroadcastChannel(Outbox.CHANNEL).onmessage = () => refresh();
    } catch (error) {
      // Without it, this page refreshes after its own syncs only.
    }
    window.addEventListener("online", () => {
      delay = TICK_MS;
      sync({});
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") sync({});
    });
    keepOfflinePages();
    await refresh();
    await sync({});
  }

  start().catch((error) => console.warn("outbox: could not start", error));
})();
