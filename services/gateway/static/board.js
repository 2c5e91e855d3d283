// Sigap live board: live updates over SSE, forms through fetch, ticking timers, and a map that uses
// Leaflet + OpenStreetMap when online and falls back to a plain SVG when offline. No build step.
(function () {
  "use strict";

  var ref = JSON.parse(document.getElementById("ref-data").textContent);
  var panel = document.getElementById("panel");
  var flashBox = document.getElementById("flash");

  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }

  function flash(ok, message) {
    flashBox.textContent = "";
    var p = document.createElement("p");
    p.className = "flash " + (ok ? "ok" : "err");
    p.textContent = message;
    flashBox.appendChild(p);
    clearTimeout(flash.timer);
    flash.timer = setTimeout(function () { flashBox.textContent = ""; }, ok ? 6000 : 15000);
  }

  // --- timers ----------------------------------------------------------------------------------
  function fmt(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h) return h + "j " + m + "m";
    return m + "m " + (s < 10 ? "0" : "") + s + "d";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".timer").forEach(function (el) {
      if (el.dataset.since) {
        var t = Date.parse(el.dataset.since);
        if (!isNaN(t)) el.textContent = fmt((now - t) / 1000);
      } else if (el.dataset.until) {
        var u = Date.parse(el.dataset.until);
        if (isNaN(u)) return;
        var left = (u - now) / 1000;
        el.textContent = left > 0 ? "sisa " + fmt(left) : "habis";
        el.classList.toggle("late", left <= 0);
      }
    });
  }
  setInterval(tick, 1000);
  tick();

  // --- live updates ----------------------------------------------------------------------------
  var refreshing = false, again = false, timer = null;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch("/board/panel", { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) {
        if (r.status === 401) { window.location = "/board/login"; throw new Error("signed out"); }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        // keep what the operator is typing in an open panel form
        var typing = document.activeElement && panel.contains(document.activeElement) &&
          /INPUT|TEXTAREA/.test(document.activeElement.tagName);
        if (typing) { again = true; return; }
        panel.innerHTML = html;
        tick();
      })
      .catch(function () { /* the next change or reconnect retries */ })
      .then(function () {
        refreshing = false;
        if (again) { again = false; schedule(); }
      });
    refreshMap();
  }
  // The map reads the roster: at most every 10 s, however busy the stream is.
  var lastMap = 0, mapTimer = null;
  function refreshMap() {
    var wait = 10000 - (Date.now() - lastMap);
    if (wait <= 0) { lastMap = Date.now(); map.refresh(); return; }
    if (!mapTimer) mapTimer = setTimeout(function () { mapTimer = null; refreshMap(); }, wait);
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  var live = document.getElementById("live"), liveText = document.getElementById("live-text");
  function setLive(on) {
    live.className = "live " + (on ? "on" : "off");
    liveText.textContent = on ? "langsung" : "terputus — mencoba lagi";
  }
  if (window.EventSource) {
    var es = new EventSource("/api/v1/stream", { withCredentials: true });
    es.addEventListener("open", function () { setLive(true); schedule(); });
    es.addEventListener("error", function () { setLive(false); });
    es.addEventListener("change", schedule);
  }
  setInterval(refresh, 60000); // belt and braces: a missed notice never leaves the board stale long

  // --- forms -----------------------------------------------------------------------------------
  function newIdem() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return Date.now().toString(16) + Math.random().toString(16).slice(2);
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-ajax")) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    var body = new FormData(form);
    if (!body.get("csrf")) body.set("csrf", cookie("sigap_csrf"));
    fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" }
    })
      .then(function (r) {
        return r.json().catch(function () { return { error: { message: "HTTP " + r.status } }; })
          .then(function (data) { return { status: r.status, data: data }; });
      })
      .then(function (res) {
        if (res.status === 401) { window.location = "/board/login"; return; }
        if (res.data.ok) {
          flash(true, res.data.message);
          if (form.hasAttribute("data-reset")) {
            form.reset();
            var idem = form.querySelector("[name=idem]");
            if (idem) idem.value = newIdem();
          }
          schedule();
        } else {
          var err = res.data.error || {};
          var detail = Array.isArray(err.details) ? " (" + err.details.map(function (d) { return d.field + ": " + d.message; }).join("; ") + ")" : "";
          flash(false, (err.message || "Gagal") + detail);
        }
      })
      .catch(function () { flash(false, "Tidak terhubung ke server. Coba lagi."); })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  });

  // Kelurahan picker: choosing one puts the location at its centroid.
  var kel = document.getElementById("kelurahan");
  if (kel) {
    kel.addEventListener("change", function () {
      var opt = kel.options[kel.selectedIndex];
      if (opt && opt.dataset.lat) {
        document.getElementById("lat").value = opt.dataset.lat;
        document.getElementById("lon").value = opt.dataset.lon;
      }
    });
  }

  // --- map -------------------------------------------------------------------------------------
  var mapBox = document.getElementById("map");
  var modeLabel = document.getElementById("map-mode");
  var map = { refresh: function () {} };

  // Names and titles are typed by people: Leaflet puts a string tooltip or popup in with innerHTML, so
  // it only ever gets a text node (a title `<img src=x onerror=…>` stays text).
  function textNode(s) { return document.createTextNode(String(s)); }
  function volunteerText(v) { return v.name + " (" + (v.unit_label || v.unit) + ") — " + v.status_label; }
  function incidentText(i) { return i.id + " — " + i.type + ": " + i.title + " (" + i.status_label + ")"; }

  function loadData(cb) {
    fetch("/board/map.json", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) cb(d); })
      .catch(function () {});
  }

  // The kelurahan centroids with a margin: the city fills the offline map.
  function cityBounds() {
    var pad = 0.012, b = { south: 90, north: -90, west: 180, east: -180 };
    ref.kelurahan.forEach(function (k) {
      b.south = Math.min(b.south, k.lat); b.north = Math.max(b.north, k.lat);
      b.west = Math.min(b.west, k.lon); b.east = Math.max(b.east, k.lon);
    });
    return { south: b.south - pad, north: b.north + pad, west: b.west - pad, east: b.east + pad };
  }

  function svgMap() {
    var NS = "http://www.w3.org/2000/svg", a = cityBounds();
    var k = Math.cos(((a.north + a.south) / 2) * Math.PI / 180);
    var W = 400, H = Math.round(W * (a.north - a.south) / ((a.east - a.west) * k));
    function x(lon) { return ((lon - a.west) / (a.east - a.west)) * W; }
    function y(lat) { return ((a.north - lat) / (a.north - a.south)) * H; }
    function el(name, attrs, text) {
      var e = document.createElementNS(NS, name);
      Object.keys(attrs).forEach(function (key) { e.setAttribute(key, attrs[key]); });
      if (text) e.textContent = text;
      return e;
    }
    mapBox.textContent = "";
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
    mapBox.appendChild(svg);
    ref.kelurahan.forEach(function (kl) {
      var c = el("circle", { cx: x(kl.lon), cy: y(kl.lat), r: 2.5, "class": "kel" });
      c.appendChild(el("title", {}, kl.name + " (" + kl.kecamatan + ")"));
      svg.appendChild(c);
      svg.appendChild(el("text", { x: x(kl.lon) + 3, y: y(kl.lat) + 2, "class": "kel-label" }, kl.name));
    });
    ref.kecamatan.forEach(function (kc) {
      svg.appendChild(el("text", { x: x(kc.lon), y: y(kc.lat), "class": "kec-label", "text-anchor": "middle" }, kc.name.toUpperCase()));
    });
    var layer = el("g", {});
    svg.appendChild(layer);
    modeLabel.textContent = "(tampilan luring)";
    return {
      refresh: function () {
        loadData(function (d) {
          layer.textContent = "";
          d.volunteers.forEach(function (v) {
            var c = el("circle", { cx: x(v.lon), cy: y(v.lat), r: 2.2, "class": "vol v-" + v.status });
            c.appendChild(el("title", {}, volunteerText(v)));
            layer.appendChild(c);
          });
          d.incidents.forEach(function (i) {
            var c = el("circle", { cx: x(i.lon), cy: y(i.lat), r: 6, "class": "inc st-" + i.status });
            c.appendChild(el("title", {}, incidentText(i)));
            layer.appendChild(c);
            layer.appendChild(el("text", { x: x(i.lon) + 8, y: y(i.lat) + 3, "class": "inc-label" }, i.type));
          });
        });
      }
    };
  }

  function leafletMap(L) {
    var a = cityBounds();
    mapBox.textContent = "";
    var m = L.map(mapBox, { preferCanvas: true }).fitBounds([[a.south, a.west], [a.north, a.east]]);
    var loaded = false, failed = 0;
    var tiles = L.tileLayer("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19, attribution: "&copy; kontributor OpenStreetMap"
    }).addTo(m);
    tiles.on("tileload", function () { loaded = true; });
    tiles.on("tileerror", function () { failed += 1; });
    var layer = L.layerGroup().addTo(m);
    var colors = { available: "#2563eb", offered: "#f59e0b", assigned: "#16a34a", off_duty: "#9ca3af", resting: "#9ca3af" };
    modeLabel.textContent = "(OpenStreetMap)";
    var api = {
      refresh: function () {
        loadData(function (d) {
          layer.clearLayers();
          d.volunteers.forEach(function (v) {
            L.circleMarker([v.lat, v.lon], { radius: 4, weight: 1, color: "#fff", fillColor: colors[v.status] || "#999", fillOpacity: 0.9 })
              .bindTooltip(textNode(volunteerText(v))).addTo(layer);
          });
          d.incidents.forEach(function (i) {
            L.circleMarker([i.lat, i.lon], { radius: 10, weight: 2, color: "#fff", fillColor: i.status === "staffed" ? "#16a34a" : "#dc2626", fillOpacity: 0.95 })
              .bindTooltip(textNode(incidentText(i))).addTo(layer);
          });
        });
      }
    };
    // Leaflet came from the cache but the tiles cannot load: offline after all.
    setTimeout(function () {
      if (!loaded && failed > 0) { m.remove(); map = svgMap(); map.refresh(); }
    }, 6000);
    return api;
  }

  function startMap() {
    var done = false;
    function fallback() {
      if (done) return;
      done = true;
      map = svgMap();
      map.refresh();
    }
    if (!navigator.onLine) { fallback(); return; }
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = ref.leaflet + "/leaflet.css";
    css.integrity = "sha256-p4NxAoJBhIIN+hmNHrzRCf9tD/miZyoHS5obTRR9BMY=";
    css.crossOrigin = "";
    document.head.appendChild(css);
    var script = document.createElement("script");
    script.src = ref.leaflet + "/leaflet.js";
    script.integrity = "sha256-20nQCchB9co0qIjJZRGuk2/Z9VM+kNiyxNV1lvTlZBo=";
    script.crossOrigin = "";
    script.onload = function () {
      if (done || !window.L) { fallback(); return; }
      done = true;
      try { map = leafletMap(window.L); map.refresh(); } catch (e) { done = false; fallback(); }
    };
    script.onerror = fallback;
    setTimeout(fallback, 4000); // a CDN that hangs must not leave the ops room without a map
    document.head.appendChild(script);
    // Until Leaflet arrives (or instead of it), draw the SVG so there is always a map.
    if (!done) { map = svgMap(); map.refresh(); }
  }
  startMap();
})();
