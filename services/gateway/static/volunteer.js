// Progressive enhancement for the volunteer pages: every button works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("has-js");

  // Countdown to an offer's deadline.
  function tick() {
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.until) - Date.now()) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) { el.textContent = "(waktu habis)"; return; }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = "(sisa " + m + ":" + (s < 10 ? "0" : "") + s + ")";
    });
  }
  tick();
  setInterval(tick, 1000);

  // Share the phone's current location (self-service page).
  var button = document.getElementById("share-location");
  if (button) {
    var msg = document.getElementById("location-msg");
    if (!("geolocation" in navigator)) {
      button.disabled = true;
      msg.textContent = "Peramban ini tidak bisa membagikan lokasi.";
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      msg.textContent = "Mencari lokasi…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById("loc-lat").value = pos.coords.latitude.toFixed(6);
        document.getElementById("loc-lon").value = pos.coords.longitude.toFixed(6);
        document.getElementById("location-form").submit();
      }, function (err) {
        button.disabled = false;
        msg.textContent = err.code === 1 ? "Izin lokasi ditolak. Aktifkan lokasi untuk peramban ini." : "Lokasi tidak ditemukan, coba lagi.";
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }
})();
