// GridSafe outbox: what the phone did (a hazard report, a check-in) waits here, in IndexedDB, until
// the server has it. A classic script with no DOM use, loaded by the pages and by the service
// worker (importScripts), so both drain the one queue the same way. One global: GridSafeOutbox.
//
// The server applies each mutation at most once per (client, id), in id order, and refuses a
// mutation below its counter that it never saw (sync.out_of_order). So the drainer always sends
// an unbroken run of the oldest pending mutations; whatever stops it (no network, a photo that
// could not be uploaded yet) stops everything behind, and a resend is answered `duplicate`.
var GridSafeOutbox = (function () {
  "use strict";

  const DB_NAME = "gridsafe";
  const DB_VERSION = 1;
  const ENTITIES = ["enterprise", "key_point", "hazard"];
  const SYNC_TAG = "gridsafe-outbox";
  const LOCK_NAME = "gridsafe-outbox-drain";
  const CHANNEL = "gridsafe-outbox";
  const BATCH = 50;
  // Pushes a drain may make straight after a `retry` answer that came with progress (e.g. an
  // inspection sent with the check-in it names: the check-in is stored, the inspection asked
  // for again). Bounded so a server stuck answering `retry` never holds the phone in a loop.
  const RETRY_ROUNDS = 5;
  // Long enough for the person to see "received by the server", short enough not to pile up.
  const RECEIVED_KEEP_MS = 15 * 60 * 1000;
  const PULL_EVERY_MS = 60 * 1000;
  const PULL_PAGE = 500;
  const PULL_MAX_PAGES = 40;
  // Without Web Locks a drainer leaves a lease; one that died gives way after this long.
  const LEASE_MS = 5 * 60 * 1000;
  const PHOTO_MAX_SIDE = 1600;
  const PHOTO_QUALITY = 0.8;
  const OPEN = ["pending", "sending", "rejected"];

  // ---- IndexedDB ---------------------------------------------------------------------------

  let opening = null;

  function openDb() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, DB_VERSION);
        request.onupgradeneeded = () => {
          const db = request.result;
          db.createObjectStore("outbox", { keyPath: "id" });
          db.createObjectStore("photos", { keyPath: "sha256" });
          db.createObjectStore("meta");
          ENTITIES.forEach((name) => db.createObjectStore("entity_" + name));
        };
        request.onsuccess = () => {
          const db = request.result;
          // A newer version of the app opened elsewhere: let its upgrade through.
          db.onversionchange = () => {
            db.close();
            opening = null;
          };
          resolve(db);
        };
        request.onerror = () => reject(request.error);
      });
      opening.catch(() => {
        opening = null;
      });
    }
    return opening;
  }

  function done(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  // One transaction: `body` gets the stores by name and may await their requests (and nothing
  // else, or the transaction commits under it). Resolves with body's value once committed.
  async function transact(names, mode, body) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(names, mode);
      const stores = {};
      names.forEach((name) => {
        stores[name] = tx.objectStore(name);
      });
      let value;
      tx.oncomplete = () => resolve(value);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new DOMException("transaction aborted", "AbortError"));
      Promise.resolve(body(stores)).then(
        (result) => {
          value = result;
        },
        (error) => {
          try {
            tx.abort();
          } catch (ignored) {
            // already finished
          }
          reject(error);
        }
      );
    });
  }

  function getMeta(key) {
    return transact(["meta"], "readonly", (s) => done(s.meta.get(key)));
  }

  function setMeta(key, value) {
    return transact(["meta"], "readwrite", (s) => {
      s.meta.put(value, key);
    });
  }

  function all(store) {
    return done(store.getAll());
  }

  // ---- identifiers -------------------------------------------------------------------------

  let lastMs = -1;
  let counter = 0;

  // UUIDv7 (RFC 9562 §5.7): 48-bit Unix time in ms, version 7, 12-bit rand_a, variant 10,
  // 62 random bits. rand_a is a counter seeded at random with its top bit clear (§6.2 method 1),
  // so ids made in one millisecond still sort; on overflow the time is moved on by 1 ms.
  // Written here because the uuid and uuidv7 npm packages ship only ES modules / CommonJS, and a
  // classic service worker cannot importScripts either without a bundler.
  function uuid7() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const now = Date.now();
    if (now > lastMs) {
      lastMs = now;
      counter = ((bytes[6] & 0x07) << 8) | bytes[7];
    } else {
      counter += 1;
      if (counter > 0xfff) {
        lastMs += 1;
        counter = 0;
      }
    }
    // Bitwise operators are 32-bit: split the 48-bit time into its high 32 and low 16 bits.
    const high = Math.floor(lastMs / 0x10000);
    const low = lastMs % 0x10000;
    bytes[0] = high >>> 24;
    bytes[1] = (high >>> 16) & 0xff;
    bytes[2] = (high >>> 8) & 0xff;
    bytes[3] = high & 0xff;
    bytes[4] = low >>> 8;
    bytes[5] = low & 0xff;
    bytes[6] = 0x70 | (counter >>> 8);
    bytes[7] = counter & 0xff;
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function hexOf(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The server ties a client id to one account, so a phone shared by two people keeps one per
  // account; each person's outbox goes out under their own id, never mixed.
  function clientIdFor(user) {
    return transact(["meta"], "readwrite", async (s) => {
      const key = "client:" + user;
      let id = await done(s.meta.get(key));
      if (!id) {
        id = crypto.randomUUID();
        s.meta.put(id, key);
      }
      return id;
    });
  }

  // ---- photos ------------------------------------------------------------------------------

  async function keep(blob) {
    const bytes = await blob.arrayBuffer();
    const sha256 = hexOf(await crypto.subtle.digest("SHA-256", bytes));
    return { sha256: sha256, blob: new Blob([bytes], { type: blob.type || "image/jpeg" }) };
  }

  // A camera photo is several MB; cheap phones on 4G send 1600 px JPEGs far more reliably. The
  // hash is of the bytes stored, which are the bytes sent. A file the phone cannot decode is kept
  // as it is: the server decides (and says why) rather than the photo vanishing here.
  async function preparePhoto(file) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (error) {
      return keep(file);
    }
    const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    let blob;
    if (typeof OffscreenCanvas !== "undefined") {
      const canvas = new OffscreenCanvas(width, height);
      draw(canvas.getContext("2d"), bitmap, width, height);
      blob = await canvas.convertToBlob({ type: "image/jpeg", quality: PHOTO_QUALITY });
    } else {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      draw(canvas.getContext("2d"), bitmap, width, height);
      blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", PHOTO_QUALITY));
    }
    bitmap.close();
    return keep(blob || file);
  }

  function draw(context, bitmap, width, height) {
    context.fillStyle = "#fff"; // JPEG has no transparency: a PNG's clear pixels become white
    context.fillRect(0, 0, width, height);
    context.drawImage(bitmap, 0, 0, width, height);
  }

  // ---- the queue ---------------------------------------------------------------------------

  let channel = null;

  function announce() {
    try {
      channel = channel || new BroadcastChannel(CHANNEL);
      channel.postMessage({ type: "changed" });
    } catch (error) {
      // No BroadcastChannel: the pages refresh on their own triggers.
    }
  }

  // Saves a mutation (and its photos) in one transaction, with the next id. `replaces` drops an
  // unsent or refused item the person edited; one being sent right now stays (the server decides).
  async function enqueue(name, args, options) {
    options = options || {};
    const user = String(options.user || (await getMeta("current_user")) || "");
    if (!user) {
      throw new Error("outbox: nobody is signed in on this phone");
    }
    const photos = options.photos || [];
    const item = await transact(["outbox", "photos", "meta"], "readwrite", async (s) => {
      if (options.replaces) {
        const old = await done(s.outbox.get(Number(options.replaces)));
        if (old && old.user === user && (old.state === "pending" || old.state === "rejected")) {
          s.outbox.delete(old.id);
        }
      }
      const id = (await done(s.meta.get("next_mutation_id"))) || 1;
      s.meta.put(id + 1, "next_mutation_id");
      photos.forEach((photo) => s.photos.put({ sha256: photo.sha256, blob: photo.blob, uploaded: false }));
      const entry = {
        id: id,
        name: name,
        args: args,
        at: new Date().toISOString(),
        user: user,
        state: "pending",
        summary: options.summary || null,
        created: Date.now(),
      };
      s.outbox.add(entry);
      return entry;
    });
    announce();
    return item;
  }

  async function list(user) {
    const items = await transact(["outbox"], "readonly", (s) => all(s.outbox));
    return items.filter((item) => !user || item.user === String(user)).sort((a, b) => a.id - b.id);
  }

  function get(id) {
    return transact(["outbox"], "readonly", (s) => done(s.outbox.get(Number(id))));
  }

  async function count(user) {
    return (await list(user)).filter((item) => OPEN.includes(item.state)).length;
  }

  // Only what the server has not got: a report being sent right now cannot be taken back.
  async function discard(id) {
    const gone = await transact(["outbox"], "readwrite", async (s) => {
      const item = await done(s.outbox.get(Number(id)));
      if (!item || !(item.state === "pending" || item.state === "rejected")) {
        return false;
      }
      s.outbox.delete(item.id);
      return true;
    });
    if (gone) {
      await prune();
      announce();
    }
    return gone;
  }

  // Received items go after a while, and photos no remaining item names go with them.
  function prune() {
    const before = Date.now() - RECEIVED_KEEP_MS;
    return transact(["outbox", "photos"], "readwrite", async (s) => {
      const items = await all(s.outbox);
      const named = new Set();
      items.forEach((item) => {
        if (item.state === "received" && item.receivedAt < before) {
          s.outbox.delete(item.id);
        } else if (item.state !== "received") {
          ((item.args && item.args.photos) || []).forEach((sha) => named.add(sha));
        }
      });
      const photos = await done(s.photos.getAllKeys());
      photos.filter((sha) => !named.has(sha)).forEach((sha) => s.photos.delete(sha));
    });
  }

  // ---- talking to the server ---------------------------------------------------------------

  async function csrfToken() {
    if (typeof document !== "undefined") {
      const match = document.cookie.match(/(?:^|;\s*)gs_csrf=([^;]*)/);
      if (match) {
        return match[1];
      }
    }
    if (typeof cookieStore !== "undefined") {
      try {
        const cookie = await cookieStore.get("gs_csrf");
        if (cookie) {
          return cookie.value;
        }
      } catch (error) {
        // fall back to what a page left
      }
    }
    return (await getMeta("csrf")) || "";
  }

  function online() {
    return typeof navigator === "undefined" || navigator.onLine !== false;
  }

  async function request(url, init) {
    try {
      return await fetch(url, Object.assign({ credentials: "same-origin", cache: "no-store" }, init));
    } catch (error) {
      return null; // no network, or cut half-way: the same for us, try again later
    }
  }

  async function problem(response) {
    try {
      const body = await response.json();
      return { code: String(body.code || ""), message: String(body.title || "") };
    } catch (error) {
      return { code: "http_error", message: "" };
    }
  }

  // Why a drain stopped, from an answer that was not a success.
  function stopFor(response) {
    if (!response) return "offline";
    if (response.status === 401) return "signed_out";
    if (response.status === 403) return "forbidden";
    return "retry";
  }

  async function whoami() {
    const response = await request("/api/v1/me", { headers: { accept: "application/json" } });
    if (!response || !response.ok) {
      return { stop: stopFor(response) };
    }
    let user;
    try {
      user = String((await response.json()).id);
    } catch (error) {
      return { stop: "retry" };
    }
    return { user: user, client: await clientIdFor(user) };
  }

  // HEAD first (no bytes on a slow line when the server has it), then PUT the stored bytes.
  async function uploadPhotos(item, csrf) {
    for (const sha of (item.args && item.args.photos) || []) {
      const photo = await transact(["photos"], "readonly", (s) => done(s.photos.get(sha)));
      if (photo && photo.uploaded) continue;
      const url = "/api/v1/photos/" + sha;
      const head = await request(url, { method: "HEAD" });
      if (!head || (head.status !== 200 && head.status !== 404)) {
        return { stop: stopFor(head) };
      }
      if (head.status === 404 && photo && photo.blob) {
        const put = await request(url, {
          method: "PUT",
          headers: { "content-type": photo.blob.type || "image/jpeg", "x-csrftoken": csrf },
          body: photo.blob,
        });
        if (!put || !put.ok) {
          if (put && [413, 415].includes(put.status)) {
            return { refusal: await problem(put) }; // this photo will never be accepted
          }
          return { stop: stopFor(put) };
        }
      }
      // Gone from the phone (storage cleared) yet named: the report still goes, the server
      // shows the photo as not uploaded rather than losing the whole report.
      if (photo) {
        await transact(["photos"], "readwrite", (s) => {
          s.photos.put(Object.assign({}, photo, { uploaded: true }));
        });
      }
    }
    return {};
  }

  async function setStates(ids, from, to) {
    return transact(["outbox"], "readwrite", async (s) => {
      const changed = [];
      for (const id of ids) {
        const item = await done(s.outbox.get(id));
        if (item && from.includes(item.state)) {
          item.state = to;
          s.outbox.put(item);
          changed.push(item);
        }
      }
      return changed;
    });
  }

  function refuse(id, refusal) {
    return transact(["outbox"], "readwrite", async (s) => {
      const item = await done(s.outbox.get(id));
      if (item) {
        Object.assign(item, { state: "rejected", status: "rejected", fields: {} }, refusal);
        s.outbox.put(item);
      }
    });
  }

  // Stores the answers; says how many items the server settled (received or refused for good)
  // and whether any must be sent again.
  function record(results) {
    return transact(["outbox"], "readwrite", async (s) => {
      let again = false;
      let settled = 0;
      for (const result of results) {
        const item = await done(s.outbox.get(result.id));
        if (!item) continue; // discarded while it was on its way
        item.status = result.status;
        // A repeat of one refused before comes back `duplicate` with the refusal's code.
        const refusedBefore = result.status === "duplicate" && Boolean(result.code);
        if (result.status === "applied" || (result.status === "duplicate" && !refusedBefore)) {
          Object.assign(item, { state: "received", receivedAt: Date.now(), result: result.result || {} });
          delete item.code;
          delete item.message;
          settled += 1;
        } else if (result.status === "rejected" || result.status === "conflict" || refusedBefore) {
          Object.assign(item, {
            state: "rejected",
            code: result.code,
            message: result.message,
            fields: result.fields || {},
          });
          settled += 1;
        } else {
          item.state = "pending";
          again = true;
        }
        s.outbox.put(item);
      }
      return { again: again, settled: settled };
    });
  }

  // One push of an unbroken run of pending items. Returns {stop} when the drain must wait,
  // {split: true} when the server refused the batch as a whole (then it goes one by one), else
  // {sent, again}: how many the server settled, and whether some were answered `retry`.
  async function push(me, items, csrf) {
    const claimed = await setStates(items.map((item) => item.id), ["pending"], "sending");
    if (!claimed.length) return {};
    announce();
    const ids = claimed.map((item) => item.id);
    const response = await request("/api/v1/sync/push", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrftoken": csrf },
      body: JSON.stringify({
        client_id: me.client,
        mutations: claimed.map((item) => ({ id: item.id, name: item.name, args: item.args, at: item.at })),
      }),
    });
    let results = null;
    if (response && response.ok) {
      try {
        results = (await response.json()).results;
      } catch (error) {
        results = null; // a portal's login page, not our answer
      }
    }
    if (!Array.isArray(results)) {
      await setStates(ids, ["sending"], "pending");
      announce();
      if (response && !response.ok && [400, 413, 422].includes(response.status)) {
        if (claimed.length > 1) return { split: true };
        await refuse(claimed[0].id, await problem(response));
        return {};
      }
      if (response && response.status === 409) {
        // The id is registered to another account (the server's data was reset or moved):
        // start a new one. Nothing is lost: a report already there is refused as a duplicate.
        await transact(["meta"], "readwrite", (s) => {
          s.meta.delete("client:" + me.user);
        });
      }
      return { stop: response && response.ok ? "retry" : stopFor(response) };
    }
    const recorded = await record(results);
    // Anything sent and not answered goes back to waiting, as if answered `retry`.
    const unanswered = await setStates(ids, ["sending"], "pending");
    announce();
    return { sent: recorded.settled, again: recorded.again || unanswered.length > 0 };
  }

  async function pending(user) {
    return (await list(user)).filter((item) => item.state === "pending");
  }

  async function drainFor(me) {
    const csrf = await csrfToken();
    let one = false;
    let sent = 0;
    let rounds = 0;
    for (;;) {
      const items = (await pending(me.user)).slice(0, one ? 1 : BATCH);
      if (!items.length) return { state: "done", sent: sent };
      const ready = [];
      let stop = null;
      for (const item of items) {
        const upload = await uploadPhotos(item, csrf);
        if (upload.stop) {
          stop = upload.stop;
          break;
        }
        if (upload.refusal) {
          // Never sent, so its id is a gap the server allows; the ones behind go on.
          await refuse(item.id, upload.refusal);
          announce();
          continue;
        }
        ready.push(item);
      }
      if (ready.length) {
        const outcome = await push(me, ready, csrf);
        if (outcome.split) one = true;
        sent += outcome.sent || 0;
        stop = stop || outcome.stop;
        if (outcome.again) {
          // With nothing settled, sending again at once would get the same answer: back off.
          // With progress, what was asked for again usually goes through on the next push.
          rounds += 1;
          if (!outcome.sent || rounds > RETRY_ROUNDS) stop = stop || "retry";
        }
      }
      if (stop) return { state: stop, sent: sent };
    }
  }

  async function pull(me) {
    const previous = (await getMeta("pull")) || {};
    let cursor = previous.user === me.user ? previous.cursor || "" : "";
    let first = true;
    for (let page = 0; page < PULL_MAX_PAGES; page++) {
      const query = new URLSearchParams({ cursor: cursor, client_id: me.client, limit: String(PULL_PAGE) });
      const response = await request("/api/v1/sync/pull?" + query, { headers: { accept: "application/json" } });
      if (!response || !response.ok) return stopFor(response);
      let answer;
      try {
        answer = await response.json();
      } catch (error) {
        return "retry";
      }
      const clear = answer.reset || (first && previous.user !== me.user);
      const stores = ENTITIES.map((name) => "entity_" + name);
      await transact([...stores, "meta"], "readwrite", async (s) => {
        if (clear) stores.forEach((name) => s[name].clear());
        answer.changes.forEach((change) => {
          const store = s["entity_" + change.entity];
          if (!store) return; // an entity this version of the app does not keep
          if (change.op === "remove") {
            store.delete(change.id);
          } else {
            store.put(change.data, change.id);
          }
        });
        s.meta.put(
          { user: me.user, cursor: answer.cursor, at: Date.now(), last_mutation_id: answer.last_mutation_id },
          "pull"
        );
        // Never hand out an id the server has already processed for this client.
        const next = (await done(s.meta.get("next_mutation_id"))) || 1;
        if (answer.last_mutation_id >= next) s.meta.put(answer.last_mutation_id + 1, "next_mutation_id");
      });
      first = false;
      cursor = answer.cursor;
      if (!answer.more) return "done";
    }
    return "done";
  }

  function cached(entity) {
    return transact(["entity_" + entity], "readonly", (s) => all(s["entity_" + entity]));
  }

  // One drainer at a time across tabs and the service worker.
  async function exclusively(body) {
    if (typeof navigator !== "undefined" && navigator.locks) {
      return navigator.locks.request(LOCK_NAME, body);
    }
    const owner = uuid7();
    const taken = await transact(["meta"], "readwrite", async (s) => {
      const lease = await done(s.meta.get("drain_lease"));
      if (lease && lease.until > Date.now()) return false;
      s.meta.put({ owner: owner, until: Date.now() + LEASE_MS }, "drain_lease");
      return true;
    });
    if (!taken) return { state: "busy" };
    try {
      return await body();
    } finally {
      await transact(["meta"], "readwrite", async (s) => {
        const lease = await done(s.meta.get("drain_lease"));
        if (lease && lease.owner === owner) s.meta.delete("drain_lease");
      });
    }
  }

  // Drain the outbox, then bring the cached copies up to date: after a drain that sent something,
  // and otherwise at most once a minute; `force` pulls anyway, `pull: false` only after sending.
  // Resolves with {state, sent, pending}; state "done" or "idle" is success.
  function sync(options) {
    options = options || {};
    const force = Boolean(options.force);
    return exclusively(async () => {
      // Only the lock holder sends, so "sending" left over is from a drainer that died.
      await setStates(
        (await list()).filter((item) => item.state === "sending").map((item) => item.id),
        ["sending"],
        "pending"
      );
      await prune();
      const waiting = await transact(["outbox"], "readonly", async (s) =>
        (await all(s.outbox)).filter((item) => item.state === "pending")
      );
      const last = (await getMeta("pull")) || {};
      const pullDue = force || (options.pull !== false && (!last.at || Date.now() - last.at > PULL_EVERY_MS));
      if (!waiting.length && !pullDue) return { state: "idle", sent: 0, pending: 0 };
      if (!online()) return { state: "offline", sent: 0, pending: waiting.length };
      const me = await whoami();
      if (me.stop) return { state: me.stop, sent: 0, pending: waiting.length };
      const result = await drainFor(me);
      if (result.state !== "offline" && result.state !== "signed_out" && (pullDue || result.sent)) {
        await pull(me);
      }
      result.pending = (await pending(me.user)).length;
      announce();
      return result;
    });
  }

  // What a page knows and the service worker cannot read: who is signed in, the CSRF token.
  async function remember(user, csrf) {
    await transact(["meta"], "readwrite", (s) => {
      s.meta.put(user ? String(user) : null, "current_user");
      if (csrf) s.meta.put(csrf, "csrf");
    });
  }

  function supported() {
    return (
      typeof indexedDB !== "undefined" &&
      typeof crypto !== "undefined" &&
      Boolean(crypto.subtle) &&
      typeof crypto.randomUUID === "function"
    );
  }

  return {
    SYNC_TAG: SYNC_TAG,
    CHANNEL: CHANNEL,
    MAX_PHOTOS: 9,
    supported: supported,
    uuid7: uuid7,
    preparePhoto: preparePhoto,
    enqueue: enqueue,
    list: list,
    get: get,
    count: count,
    discard: discard,
    sync: sync,
    cached: cached,
    remember: remember,
    csrfToken: csrfToken,
  };
})();
