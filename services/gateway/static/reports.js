// Report pages: charts from the page's own JSON (#report-data) with the vendored Chart.js, and the
// print button. No inline script or style (the pages' CSP allows neither).
(function () {
  "use strict";
  var dataNode = document.getElementById("report-data");
  var data = dataNode ? JSON.parse(dataNode.textContent || "{}") : {};
  var RED = "#b91c1c", BLUE = "#2563eb", GREEN = "#16a34a", GREY = "#9ca3af";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  if (typeof window.Chart === "undefined") { return; }
  var Chart = window.Chart;
  Chart.defaults.animation = false; // drawn at once: printing and screenshots see the finished chart
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

  function seconds(value) { return value === null || value === undefined ? null : value; }
  function decimal(value) { return String(value).replace(".", ","); }

  var builders = {
    distribution: function () {
      var d = data.distribution || {};
      var first = d.reported_to_first_offer || [], accept = d.reported_to_first_accept || [];
      return {
        type: "bar",
        data: {
          labels: first.map(function (b) { return b.label; }),
          datasets: [
            { label: "Laporan → panggilan pertama", data: first.map(function (b) { return b.count; }), backgroundColor: RED },
            { label: "Laporan → penerimaan pertama", data: accept.map(function (b) { return b.count; }), backgroundColor: BLUE }
          ]
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "kejadian" } } } }
      };
    },
    weekly: function () {
      var weeks = data.weekly || [];
      var datasets = [
        { label: "p50 (detik)", data: weeks.map(function (w) { return seconds(w.first_offer_p50_s); }), borderColor: BLUE, backgroundColor: BLUE, spanGaps: true },
        { label: "p90 (detik)", data: weeks.map(function (w) { return seconds(w.first_offer_p90_s); }), borderColor: RED, backgroundColor: RED, spanGaps: true }
      ];
      if (data.target_s) {
        datasets.push({ label: "target", data: weeks.map(function () { return data.target_s; }), borderColor: GREY, borderDash: [6, 4], pointRadius: 0 });
      }
      return {
        type: "line",
        data: { labels: weeks.map(function (w) { return "mg " + w.week_start.slice(8, 10) + "/" + w.week_start.slice(5, 7); }), datasets: datasets },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: "detik" } } } }
      };
    },
    units: function () {
      return {
        type: "bar",
        data: {
          labels: data.labels || [],
          datasets: [
            { label: "Pengerahan", data: data.deployments || [], backgroundColor: RED },
            { label: "Hari bertugas", data: data.days || [], backgroundColor: GREEN }
          ]
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      };
    },
    needs: function (canvas) {
      var incident = (data.incidents || [])[Number(canvas.dataset.index)] || { labels: [], needed: [], filled: [] };
      return {
        type: "bar",
        data: {
          labels: incident.labels,
          datasets: [
            { label: "Dibutuhkan", data: incident.needed, backgroundColor: GREY },
            { label: "Terisi", data: incident.filled, backgroundColor: GREEN }
          ]
        },
        options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
      };
    }
  };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var build = builders[canvas.dataset.chart];
    if (!build) { return; }
    var config = build(canvas);
    config.options = config.options || {};
    config.options.plugins = {
      legend: { position: "bottom" },
      tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + decimal(ctx.formattedValue); } } }
    };
    canvas.dataset.ready = "1";
    new Chart(canvas, config);
  });
  document.body.dataset.charts = "ready";
})();
