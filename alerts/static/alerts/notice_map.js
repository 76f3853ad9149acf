// The case page's travel-notice region: a click on the map sets the centre, the radius field the
// circle's size; both are shown as the circle the detection job will apply.
(function () {
  "use strict";

  const mapConfig = JSON.parse(document.getElementById("map-config").textContent);
  const map = L.map("notice-map", { worldCopyJump: true }).setView([30, 0], 2);
  fraudsiteBaseMap(map, mapConfig);
  const lat = document.getElementById("id_center_lat");
  const lng = document.getElementById("id_center_lng");
  const radius = document.getElementById("id_radius_km");
  let circle = null;

  function draw() {
    if (circle) circle.remove();
    circle = null;
    if (lat.value === "" || lng.value === "" || !(Number(radius.value) > 0)) return;
    circle = L.circle([Number(lat.value), Number(lng.value)], { radius: Number(radius.value) * 1000, color: "#ef6c00" })
      .addTo(map);
  }

  map.on("click", (event) => {
    const point = event.latlng.wrap();
    lat.value = point.lat.toFixed(4);
    lng.value = point.lng.toFixed(4);
    if (radius.value === "") radius.value = "100";
    draw();
  });
  [lat, lng, radius].forEach((input) => input.addEventListener("input", draw));
  draw();
})();
