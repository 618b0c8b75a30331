// GridSafe due list (监管计划): the enterprises due for inspection, nearest first when the phone
// knows where it is, else most overdue first. Online the server's list is kept (reordered by
// distance here once a position comes); offline the list is built from the enterprises that
// sync pulled onto the phone (GridSafeOutbox.cached), with the same rule as backend/riskviews/due.py.
(function () {
  "use strict";

  var DAY_MS = 86400000;
  var current = null; // the items last drawn, whichever source they came from
  var root = document.querySelector("[data-due]");
  if (!root) return;

  function label(name, params) {
    var text = root.getAttribute("data-label-" + name) || "";
    Object.keys(params || {}).forEach(function (key) {
      text = text.replace("{" + key + "}", String(params[key]));
    });
    return text;
  }

  function note(text) {
    var node = root.querySelector("[data-due-note]");
    if (node) {
      node.textContent = text || "";
      node.hidden = !text;
    }
  }

  function distanceM(lat1, lng1, lat2, lng2) {
    var rad = Math.PI / 180;
    var dp = (lat2 - lat1) * rad;
    var dl = (lng2 - lng1) * rad;
    var a = Math.pow(Math.sin(dp / 2), 2) + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin(dl / 2), 2);
    return 2 * 6371000 * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function position(waitMs) {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) return resolve(null);
      var timer = window.setTimeout(function () { resolve(null); }, waitMs);
      navigator.geolocation.getCurrentPosition(
        function (found) { window.clearTimeout(timer); resolve(found.coords); },
        function () { window.clearTimeout(timer); resolve(null); },
        { enableHighAccuracy: false, timeout: waitMs, maximumAge: 300000 }
      );
    });
  }

  // The rule of order_due(): by distance (unplaced last) with a position, else by due date; ties
  // by due date, then id.
  function order(items, where) {
    items.forEach(function (item) {
      item.distance = where && item.lat != null && item.lng != null
        ? distanceM(where.latitude, where.longitude, item.lat, item.lng)
        : null;
    });
    return items.slice().sort(function (a, b) {
      if (where) {
        if ((a.distance == null) !== (b.distance == null)) return a.distance == null ? 1 : -1;
        if (a.distance != null && a.distance !== b.distance) return a.distance - b.distance;
      }
      return a.due - b.due || a.id - b.id;
    });
  }

  function fromPage() {
    return Array.prototype.map.call(document.querySelectorAll("[data-due-items] li[data-enterprise-id]"), function (li) {
      return {
        id: Number(li.dataset.enterpriseId),
        name: li.dataset.name,
        grid: li.dataset.grid,
        colour: li.dataset.colour || "none",
        due: Date.parse(li.dataset.dueAt),
        lat: li.dataset.lat ? Number(li.dataset.lat) : null,
        lng: li.dataset.lng ? Number(li.dataset.lng) : null,
      };
    });
  }

  // null: the phone holds no enterprise data with due dates (never synced since risk grading).
  async function fromDevice() {
    var Outbox = window.GridSafeOutbox;
    if (!Outbox || !Outbox.supported() || !document.body.dataset.user) return null;
    var enterprises = await Outbox.cached("enterprise");
    var graded = enterprises.filter(function (e) { return e && "inspection_due_at" in e; });
    if (!graded.length) return null;
    var horizon = Date.now() + Number(root.dataset.withinDays || 7) * DAY_MS;
    return graded
      .filter(function (e) { return e.inspection_due_at && e.active !== false && Date.parse(e.inspection_due_at) <= horizon; })
      .map(function (e) {
        return {
          id: Number(e.id),
          name: e.name,
          grid: e.grid_name || "",
          colour: e.risk_colour || "none",
          due: Date.parse(e.inspection_due_at),
          lat: typeof e.latitude === "number" ? e.latitude : null,
          lng: typeof e.longitude === "number" ? e.longitude : null,
        };
      });
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text != null) node.textContent = text;
    return node;
  }

  function when(item) {
    var days = Math.floor((Date.now() - item.due) / DAY_MS);
    if (days > 0) return label("overdue", { days: days });
    return days === 0 ? label("due-today") : label("due-in", { days: -days });
  }

  function distanceText(metres) {
    return metres < 1000
      ? label("distance-m", { metres: Math.round(metres) })
      : label("distance-km", { km: (metres / 1000).toFixed(1) });
  }

  function row(item) {
    var li = element("li", {
      "data-enterprise-id": String(item.id),
      "data-colour": item.colour,
      "data-due-at": new Date(item.due).toISOString(),
    });
    li.appendChild(element("a", { href: "/enterprises/" + item.id }, item.name));
    var facts = element("span", { class: "muted" });
    facts.appendChild(element("span", { class: "risk-badge risk-" + item.colour }, label("colour-" + item.colour)));
    facts.appendChild(document.createTextNode(" "));
    var overdue = Date.now() - item.due >= DAY_MS;
    facts.appendChild(element("span", { "data-due-when": "", class: overdue ? "overdue" : "" }, when(item)));
    if (item.grid) facts.appendChild(document.createTextNode(" · " + item.grid));
    if (item.distance != null) {
      facts.appendChild(document.createTextNode(" · "));
      facts.appendChild(element("span", { "data-distance": "" }, distanceText(item.distance)));
    }
    li.appendChild(facts);
    var actions = element("span", { class: "actions" });
    actions.appendChild(element("a", { href: "/scan" }, label("scan")));
    actions.appendChild(document.createTextNode(" "));
    actions.appendChild(element("a", { href: "/enterprises/" + item.id + "/inspect" }, label("inspect")));
    li.appendChild(actions);
    return li;
  }

  function render(items, where, source) {
    var list = document.querySelector("[data-due-items]");
    var heading = document.querySelector("[data-due-order]");
    if (!list) return;
    current = items;
    var ordered = order(items, where);
    list.replaceChildren.apply(list, ordered.length
      ? ordered.map(row)
      : [element("li", { class: "muted", "data-due-empty": "" }, label("none"))]);
    list.dataset.source = source;
    if (heading) {
      heading.dataset.dueOrder = where ? "distance" : "overdue";
      heading.textContent = label(where ? "order-distance" : "order-overdue");
    }
  }

  async function show() {
    var offline = !navigator.onLine;
    var items = fromPage();
    var source = "server";
    if (offline) {
      var kept = await fromDevice().catch(function () { return null; });
      if (kept) {
        items = kept;
        source = "device";
        render(items, null, source);
        note(label("offline"));
      } else {
        note(label("needs-sync"));
      }
    }
    var where = await position(4000);
    if (where || source === "device") render(items, where, source);
  }

  // The button asks for the position now (a person may have refused it once already).
  var locate = root.querySelector("[data-due-locate]");
  if (locate) {
    locate.hidden = false;
    locate.querySelector("button").addEventListener("click", function () {
      position(8000).then(function (where) {
        if (!where) return note(label("no-position"));
        note("");
        var list = document.querySelector("[data-due-items]");
        render(current || fromPage(), where, (list && list.dataset.source) || "server");
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    show().catch(function (error) { console.warn("due list", error); });
  });
})();
