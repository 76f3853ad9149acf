// The analytics page's charts (Chart.js, served from node_modules): alerts and review outcomes per
// reason, and alerts per reason per day. The figures come from the page's json_script block, the
// same ones its tables show.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("analytics-data").textContent);
  // One colour per reason, in FRAUD_REASONS order, shared by both charts.
  const COLOURS = ["#c62828", "#6a1b9a", "#1565c0", "#ef6c00", "#2e7d32", "#455a64", "#00838f"];
  const percent = (value) => (value === null ? null : Math.round(value * 1000) / 10);
  Chart.defaults.animation = false; // the figures are static: draw them once, at once

  new Chart(document.getElementById("reasons-chart"), {
    data: {
      labels: data.reasons.map((row) => row.reason),
      datasets: [
        {type: "bar", label: "alerts", data: data.reasons.map((row) => row.alerts), backgroundColor: "#90a4ae", yAxisID: "count"},
        {type: "bar", label: "reviewed", data: data.reasons.map((row) => row.reviewed), backgroundColor: "#1565c0", yAxisID: "count"},
        {type: "line", label: "precision %", data: data.reasons.map((row) => percent(row.precision)),
         borderColor: "#2e7d32", backgroundColor: "#2e7d32", yAxisID: "share", showLine: false, pointRadius: 6},
        {type: "line", label: "false-positive rate %", data: data.reasons.map((row) => percent(row.false_positive_rate)),
         borderColor: "#c62828", backgroundColor: "#c62828", yAxisID: "share", showLine: false, pointRadius: 6, pointStyle: "rectRot"},
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        count: {type: "linear", position: "left", beginAtZero: true, title: {display: true, text: "alerts"}},
        share: {type: "linear", position: "right", min: 0, max: 100, grid: {drawOnChartArea: false},
                title: {display: true, text: "%"}},
      },
    },
  });

  new Chart(document.getElementById("trend-chart"), {
    type: "line",
    data: {
      labels: data.trend.days,
      datasets: data.trend.reasons.map((reason, n) => ({
        label: reason, data: data.trend.counts[reason], borderColor: COLOURS[n % COLOURS.length],
        backgroundColor: COLOURS[n % COLOURS.length], pointRadius: data.trend.days.length > 60 ? 0 : 2, tension: 0.2,
      })),
    },
    options: {
      maintainAspectRatio: false,
      interaction: {mode: "index", intersect: false},
      scales: {y: {beginAtZero: true, title: {display: true, text: "alerts per day"}}},
    },
  });
})();
