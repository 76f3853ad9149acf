// The maps' base layers: country outlines that need no network (Natural Earth, from the world-atlas
// package the site serves), and on top of them the tiles of MAP_TILE_URL where a site has a tile
// server. Tiles that cannot load leave the outlines visible.
window.fraudsiteBaseMap = function (map, config) {
  "use strict";

  // A ring that crosses the antimeridian (Russia, Fiji) goes on past ±180 instead of drawing a
  // line across the whole map.
  function unwrap(ring) {
    let offset = 0;
    return ring.map(([lng, lat], index) => {
      if (index > 0) {
        const step = lng - ring[index - 1][0];
        if (step > 180) offset -= 360;
        else if (step < -180) offset += 360;
      }
      return [lng + offset, lat];
    });
  }

  function unwrapped(feature) {
    const { type, coordinates } = feature.geometry;
    if (type === "Polygon") feature.geometry.coordinates = coordinates.map(unwrap);
    if (type === "MultiPolygon") feature.geometry.coordinates = coordinates.map((polygon) => polygon.map(unwrap));
    return feature;
  }

  // Below the tile pane (200): loaded tiles cover the outlines.
  map.createPane("outlines").style.zIndex = 150;
  fetch(config.outlinesUrl)
    .then((response) => {
      if (!response.ok) throw new Error(`${config.outlinesUrl}: HTTP ${response.status}`);
      return response.json();
    })
    .then((world) => {
      const countries = topojson.feature(world, world.objects.countries);
      L.geoJSON(countries.features.map(unwrapped), {
        pane: "outlines", interactive: false,
        style: { color: "#78909c", weight: 1, fillColor: "#eceff1", fillOpacity: 1 },
      }).addTo(map);
      map.attributionControl.addAttribution("Natural Earth");
      map.getContainer().dataset.outlines = "drawn";
    })
    .catch((error) => {
      map.getContainer().dataset.outlines = "failed";
      console.error("country outlines not drawn:", error);
    });

  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, { attribution: config.attribution, maxZoom: 18 }).addTo(map);
  }
};
