// The operator map: submit transactions by double-clicking, watch verdicts arrive live.
(function () {
  "use strict";

  const history = JSON.parse(document.getElementById("history").textContent);
  const canReview = JSON.parse(document.getElementById("can-review").textContent);
  const REVIEW_LABELS = { "": "open", confirmed_fraud: "confirmed fraud", false_positive: "false positive",
                          needs_follow_up: "needs follow-up" };
  const mapConfig = JSON.parse(document.getElementById("map-config").textContent);
  const HOME = { center: [30, 0], zoom: 2 };
  const COLOURS = ["#1565c0", "#ef6c00", "#6a1b9a", "#00897b", "#ad1457", "#558b2f", "#4e342e", "#283593"];
  const LABELS = { VALID: "VALID", FRAUD: "FRAUD", UNKNOWN_CUSTOMER: "UNKNOWN CUSTOMER" };

  const map = L.map("map", { doubleClickZoom: false, worldCopyJump: true }).setView(HOME.center, HOME.zoom);
  fraudsiteBaseMap(map, mapConfig);

  const log = document.getElementById("log");
  const counts = { events: 0, frauds: 0 };
  const seen = new Set(); // a verdict can be pushed twice (at-least-once); show it once
  const lastPoint = {}; // user_id -> [lat, lng] of the customer's latest verdict
  const colourOf = {};
  const overlays = L.layerGroup().addTo(map);

  function colourFor(userId) {
    if (!(userId in colourOf)) colourOf[userId] = COLOURS[Object.keys(colourOf).length % COLOURS.length];
    return colourOf[userId];
  }

  function text(tag, content, className) {
    const element = document.createElement(tag);
    element.textContent = content;
    if (className) element.className = className;
    return element;
  }

  function describe(verdict) {
    const who = verdict.first_name ? `${verdict.first_name} ${verdict.last_name}` : verdict.user_id;
    let speed = "first transaction";
    // (a null speed after a previous transaction: moved with no time elapsed, even when a travel notice suppressed it)
    if (verdict.speed_kmh !== null) speed = `${verdict.speed_kmh.toFixed(1)} km/h`;
    else if (verdict.prev_transaction_id) speed = "moved with no time elapsed";
    const limit = verdict.max_speed !== null ? ` (limit ${verdict.max_speed} km/h)` : "";
    return `${who}: ${speed}${limit}, amount ${verdict.amount.toFixed(2)}`;
  }

  // What the transaction said of its merchant, channel, card, device and IP address ("" if nothing).
  function context(verdict) {
    const merchant = [verdict.merchant_category_code && `MCC ${verdict.merchant_category_code}`,
                      verdict.merchant_country].filter(Boolean).join(", ");
    return [
      verdict.merchant_id && `merchant ${verdict.merchant_id}${merchant ? ` (${merchant})` : ""}`,
      !verdict.merchant_id && merchant,
      verdict.channel && verdict.channel.replace("_", " "),
      verdict.card_token && `card …${verdict.card_token.slice(-6)}`,
      verdict.card_bin && `BIN ${verdict.card_bin}`,
      verdict.device_id && `device ${verdict.device_id}`,
      verdict.ip_address && `IP ${verdict.ip_address}`,
    ].filter(Boolean).join(" · ");
  }

  function showVerdict(verdict) {
    if (seen.has(verdict.transaction_id)) return;
    seen.add(verdict.transaction_id);
    document.querySelector(`li[data-pending="${CSS.escape(verdict.transaction_id)}"]`)?.remove();

    const colour = colourFor(verdict.user_id);
    const point = [verdict.lat, verdict.lng];
    const said = context(verdict);
    L.circleMarker(point, {
      radius: verdict.is_fraud ? 9 : 7, color: verdict.is_fraud ? "#c62828" : colour,
      fillColor: colour, fillOpacity: 0.8, weight: verdict.is_fraud ? 3 : 1,
    }).bindPopup(text("span", [describe(verdict), said].filter(Boolean).join(" · ")))
      .addTo(overlays); // a node: Leaflet inserts strings as HTML
    const previous = verdict.prev_lat !== null ? [verdict.prev_lat, verdict.prev_lng] : lastPoint[verdict.user_id];
    if (previous) L.polyline([previous, point], { color: colour, dashArray: "6 6", weight: 2 }).addTo(overlays);
    lastPoint[verdict.user_id] = point;

    const entry = document.createElement("li");
    entry.dataset.transactionId = verdict.transaction_id;
    entry.append(text("span", LABELS[verdict.status] || verdict.status, `badge ${verdict.status}`), " ",
                 text("span", describe(verdict)), document.createElement("br"));
    if (said) entry.append(text("small", said, "context"), document.createElement("br"));
    entry.append(text("small", `${verdict.transaction_id} · ${verdict.reasons || verdict.reason} · ${new Date(verdict.timestamp).toLocaleString()}`, "muted"));
    if (verdict.first_name) {
      const history = text("a", "customer history", "customer-link");
      history.href = `/customers/${encodeURIComponent(verdict.user_id)}/`;
      entry.append(" · ", history);
    }
    if (verdict.is_fraud) {
      const review = document.createElement("div");
      review.className = "review-line";
      const link = text("a", `review: ${REVIEW_LABELS[verdict.review_status] || verdict.review_status}`, "review-status");
      link.href = `/alerts/${encodeURIComponent(verdict.transaction_id)}/`;
      const holder = text("span", "", "holder");
      holder.dataset.holderOf = verdict.transaction_id;
      review.append(link, " ", holder);
      if (canReview) {
        const button = text("button", "Review", "review-button");
        button.type = "button";
        button.addEventListener("click", () => openReview(verdict, link));
        review.append(" ", button);
      }
      entry.append(review);
    }
    log.prepend(entry);
    if (verdict.holder) showHolder(verdict.transaction_id, verdict.holder);

    counts.events += 1;
    if (verdict.is_fraud) counts.frauds += 1;
    document.getElementById("event-count").textContent = counts.events;
    document.getElementById("fraud-count").textContent = counts.frauds;
  }

  function showHolder(transactionId, holder) {
    const line = document.querySelector(`[data-holder-of="${CSS.escape(transactionId)}"]`);
    if (line) line.textContent = holder ? `held by ${holder}` : "";
  }

  history.forEach(showVerdict);

  // Live verdicts and alert holders, with automatic reconnection.
  fraudsiteLive(document.getElementById("connection"), (message) => {
    if (message.type === "verdict") showVerdict(message);
    else if (message.type === "holder") showHolder(message.transaction_id, message.holder);
  });

  // Double-click: ask for an amount, then submit a transaction at that point.
  const dialog = document.getElementById("amount-dialog");
  const errorLine = document.getElementById("submit-error");
  let clicked = null;
  map.on("dblclick", (event) => {
    const customer = document.getElementById("customer").value;
    if (!customer) return;
    clicked = event.latlng.wrap();
    document.getElementById("amount-where").textContent =
      `Transaction for ${customer} at ${clicked.lat.toFixed(4)}, ${clicked.lng.toFixed(4)}`;
    errorLine.hidden = true;
    dialog.showModal();
  });
  document.getElementById("amount-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("amount-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      user_id: document.getElementById("customer").value,
      amount: Number(document.getElementById("amount").value),
      lat: clicked.lat, lng: clicked.lng,
    };
    let response;
    try {
      response = await fetch("/api/transactions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return showError("The server cannot be reached.");
    }
    const result = await response.json().catch(() => ({}));
    if (response.status !== 202) {
      const fieldErrors = result.errors ? Object.entries(result.errors).map(([k, v]) => `${k}: ${v.join(" ")}`) : [];
      return showError(result.error || fieldErrors.join("; ") || `Refused (${response.status}).`);
    }
    dialog.close();
    const pending = text("li", `${body.user_id}: sent ${result.transaction_id}, waiting for the verdict…`, "pending");
    pending.dataset.pending = result.transaction_id;
    if (!seen.has(result.transaction_id)) log.prepend(pending);
  });

  // Review an alert from the log: decision and comment, recorded through the API.
  const reviewDialog = document.getElementById("review-dialog");
  const reviewError = document.getElementById("review-error");
  let reviewing = null;
  function openReview(verdict, statusLink) {
    reviewing = { verdict, statusLink };
    document.getElementById("review-what").textContent = `${verdict.transaction_id}: ${describe(verdict)}`;
    document.getElementById("review-comment").value = "";
    reviewError.hidden = true;
    reviewDialog.showModal();
  }
  document.getElementById("review-cancel").addEventListener("click", () => reviewDialog.close());
  document.getElementById("review-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { decision: document.getElementById("review-decision").value,
                   comment: document.getElementById("review-comment").value };
    let response;
    try {
      response = await fetch(`/api/alerts/${encodeURIComponent(reviewing.verdict.transaction_id)}/review`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
    } catch (error) {
      reviewError.textContent = "The server cannot be reached.";
      reviewError.hidden = false;
      return;
    }
    const result = await response.json().catch(() => ({}));
    if (!response.ok) {
      const fieldErrors = result.errors ? Object.values(result.errors).flat() : [];
      reviewError.textContent = result.error || fieldErrors.join(" ") || `Refused (${response.status}).`;
      reviewError.hidden = false;
      return;
    }
    reviewing.statusLink.textContent = `review: ${REVIEW_LABELS[result.decision]} by ${result.reviewer}`;
    reviewDialog.close();
  });

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // Verdict lag: the health endpoint, polled; red when verdicts are late or a part is down.
  const lagBadge = document.getElementById("verdict-lag");
  async function checkLag() {
    try {
      const response = await fetch(lagBadge.dataset.url, { cache: "no-store" });
      const health = await response.json();
      const lag = health.verdict_lag_seconds;
      const shown = lag === null ? "n/a" : lag < 1 ? `${Math.round(lag * 1000)} ms` : `${lag.toFixed(1)} s`;
      lagBadge.textContent = health.status === "down"
        ? `down: ${Object.keys(health.checks).filter((name) => health.checks[name] === false).join(", ")}`
        : `verdict lag ${shown}`;
      lagBadge.className = `badge ${health.status === "ok" ? "online" : "lagging"}`;
      lagBadge.dataset.status = health.status;
    } catch (error) {
      lagBadge.textContent = "lag: unknown";
      lagBadge.className = "badge offline";
      lagBadge.dataset.status = "unknown";
    }
  }
  (async function pollLag() { // the next question only after the answer: no pile-up while parts are slow
    await checkLag();
    setTimeout(pollLag, 2000);
  })();

  document.getElementById("recenter").addEventListener("click", () => map.setView(HOME.center, HOME.zoom));
  document.getElementById("fullscreen").addEventListener("click", () => document.getElementById("map").requestFullscreen());
  document.getElementById("clear-log").addEventListener("click", () => {
    log.replaceChildren();
    overlays.clearLayers();
    counts.events = counts.frauds = 0;
    document.getElementById("event-count").textContent = "0";
    document.getElementById("fraud-count").textContent = "0";
  });
})();
