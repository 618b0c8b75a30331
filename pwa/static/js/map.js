// GridSafe risk map (风险一张图): grid boundaries, enterprises coloured by risk and hazards, drawn
// with Leaflet from /map/data.geojson (scoped on the server). Tiles only when a tile server is
// configured; without one, or when it cannot be reached, the vector layers stand on a plain
// background. Labels come from the page's data-label-* attributes (zh/en catalogues).
(function () {
  "use strict";

  // Fill colours; the class on each path (risk-red …) is what styles and tests key on.
  var FILL = { red: "#d32f2f", orange: "#f57c00", yellow: "#fbc02d", blue: "#1e88e5", none: "#9e9e9e" };
  var WUHAN = [30.593, 114.305];
  var PAGES = "gridsafe-pages"; // the service worker's cache of pages (sw.js)

  function start() {
    var box = document.querySelector("[data-risk-map]");
    var status = document.querySelector("[data-map-status]");
    if (!box || !window.L) return;
    var L = window.L;

    function label(name, params) {
      var text = box.getAttribute("data-label-" + name) || "";
      Object.keys(params || {}).forEach(function (key) {
        text = text.replace("{" + key + "}", String(params[key]));
      });
      return text;
    }

    function say(text) {
      if (status) status.textContent = text;
    }

    function link(href, text) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      return a;
    }

    function popup(properties) {
      var root = document.createElement("div");
      root.className = "map-popup";
      var title = document.createElement("strong");
      var lines = [];
      var links = [];
      if (properties.kind === "enterprise") {
        title.textContent = properties.name;
        lines.push(label("colour-" + properties.colour) + (properties.score != null ? " · " + label("score", { score: properties.score }) : ""));
        lines.push(label("industry-" + properties.industry) + " · " + properties.grid);
        if (properties.open_hazards) lines.push(label("open-count", { count: properties.open_hazards }));
        links.push(link("/enterprises/" + properties.id, label("enterprise-link")));
        links.push(link("/enterprises/" + properties.id + "/risk", label("risk-link")));
      } else if (properties.kind === "hazard") {
        title.textContent = properties.enterprise || label("severity-" + properties.severity);
        lines.push(label("severity-" + properties.severity) + " · " + label("state-" + properties.state));
        links.push(link("/hazards/" + properties.id, label("hazard-link")));
      } else {
        title.textContent = properties.name;
        if (box.dataset.canEditBoundaries === "true") {
          links.push(link("/map/units/" + properties.id + "/boundary", label("boundary-edit")));
        }
      }
      root.appendChild(title);
      lines.forEach(function (line) {
        var p = document.createElement("div");
        p.textContent = line;
        root.appendChild(p);
      });
      if (links.length) {
        var row = document.createElement("div");
        links.forEach(function (a, i) {
          if (i) row.appendChild(document.createTextNode(" · "));
          row.appendChild(a);
        });
        root.appendChild(row);
      }
      return root;
    }

    var map = L.map(box, { attributionControl: Boolean(box.dataset.tileUrl) }).setView(WUHAN, 10);
    if (box.dataset.tileUrl) {
      L.tileLayer(box.dataset.tileUrl, { maxZoom: 19, crossOrigin: false }).addTo(map);
    } else {
      box.classList.add("no-tiles");
    }
    var layer = null;

    // Applied by L.geoJSON to every vector layer, markers included: those keep their own options.
    function style(feature) {
      if (feature.properties.kind !== "unit") return {};
      return { className: "map-unit", color: "#546e7a", weight: 1.5, fillColor: "#90a4ae", fillOpacity: 0.08 };
    }

    function marker(feature, latlng) {
      var p = feature.properties;
      if (p.kind === "hazard") {
        return L.circleMarker(latlng, {
          className: "hazard-marker severity-" + p.severity,
          radius: p.severity === "major" ? 6 : 4,
          color: "#212121",
          weight: 1.5,
          fillColor: p.severity === "major" ? "#b71c1c" : "#ffffff",
          fillOpacity: 1,
        });
      }
      return L.circleMarker(latlng, {
        className: "risk-marker risk-" + p.colour,
        radius: 7,
        color: "#ffffff",
        weight: 1,
        fillColor: FILL[p.colour] || FILL.none,
        fillOpacity: 0.9,
      });
    }

    function draw(data) {
      if (layer) map.removeLayer(layer);
      layer = L.geoJSON(data, {
        style: style,
        pointToLayer: marker,
        onEachFeature: function (feature, drawn) {
          drawn.bindPopup(function () { return popup(feature.properties); });
        },
      }).addTo(map);
      var counts = { enterprise: 0, hazard: 0 };
      data.features.forEach(function (f) {
        if (f.properties.kind in counts) counts[f.properties.kind] += 1;
      });
      var bounds = layer.getBounds();
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16], maxZoom: 15 });
      var text = label("counts", { enterprises: counts.enterprise, hazards: counts.hazard });
      say(data.truncated ? text + " " + label("truncated") : text);
      box.dataset.loaded = "true";
    }

    // The last data drawn for each filter is kept beside the service worker's copies of pages
    // (emptied at every sign-in and sign-out), so with no network the map still draws it.
    function keep(url, data) {
      if (!window.caches) return;
      var copy = new Response(JSON.stringify(data), { headers: { "content-type": "application/geo+json" } });
      window.caches.open(PAGES).then(function (cache) { return cache.put(url, copy); }).catch(function () {});
    }

    function kept(url) {
      if (!window.caches) return Promise.resolve(null);
      return window.caches.match(url, { cacheName: PAGES }).then(function (found) {
        return found ? found.json() : null;
      }).catch(function () { return null; });
    }

    function load(url) {
      say(label("loading"));
      box.dataset.loaded = "false";
      return fetch(url, { credentials: "same-origin", headers: { accept: "application/geo+json" } })
        .then(function (response) {
          if (!response.ok) {
            var refused = new Error("map data answered " + response.status);
            refused.status = response.status;
            throw refused;
          }
          return response.json();
        })
        .then(function (data) {
          draw(data);
          box.dataset.drawnFrom = "network";
          keep(url, data);
        })
        .catch(function (error) {
          // A refusal (bad filter, signed out) is final; a network failure falls back to the copy.
          var copy = error.status ? Promise.resolve(null) : kept(url);
          return copy.then(function (data) {
            if (data) {
              draw(data);
              box.dataset.drawnFrom = "kept";
              say(label("kept") + " " + (status ? status.textContent : ""));
              return;
            }
            console.warn("risk map", error);
            say(label("failed"));
          });
        });
    }

    // With a script the filters redraw in place; the plain form reloads the page with them.
    var form = document.querySelector("[data-map-filters]");
    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var query = new URLSearchParams(new FormData(form)).toString();
        history.replaceState(null, "", "/map?" + query);
        load("/map/data.geojson?" + query);
      });
      form.addEventListener("change", function () { form.requestSubmit(); });
    }
    load(box.dataset.source);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
