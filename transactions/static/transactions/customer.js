// The customer view's map: the recent path, oldest to newest, frauds in red.
(function () {
  "use strict";

  const path = JSON.parse(document.getElementById("path").textContent);
  const mapConfig = JSON.parse(document.getElementById("map-config").textContent);
  const map = L.map("customer-map", { worldCopyJump: true }).setView([30, 0], 2);
  fraudsiteBaseMap(map, mapConfig);

  function popup(content) { // a node, never a string: Leaflet inserts strings as HTML
    const element = document.createElement("span");
    element.textContent = content;
    return element;
  }

  const points = path.map((verdict) => [verdict.lat, verdict.lng]);
  if (points.length > 1) L.polyline(points, { color: "#1565c0", weight: 2 }).addTo(map);
  path.forEach((verdict) => {
    L.circleMarker([verdict.lat, verdict.lng], {
      radius: verdict.is_fraud ? 8 : 5, color: verdict.is_fraud ? "#c62828" : "#1565c0", fillOpacity: 0.8,
    }).bindPopup(popup(`${new Date(verdict.timestamp).toLocaleString()}: ${verdict.status} (${verdict.reasons})`)).addTo(map);
  });
  if (points.length) map.fitBounds(points, { padding: [30, 30], maxZoom: 8 });
})();
