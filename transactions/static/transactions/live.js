// The operators' WebSocket (/ws/alerts/), reconnecting with back-off; the indicator shows its state.
function fraudsiteLive(indicator, onMessage) {
  "use strict";
  let retryDelay = 1000;
  function connect() {
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/alerts/`);
    socket.onopen = () => {
      retryDelay = 1000;
      indicator.textContent = "live";
      indicator.className = "badge online";
    };
    socket.onmessage = (event) => onMessage(JSON.parse(event.data));
    socket.onclose = () => {
      indicator.textContent = "reconnecting…";
      indicator.className = "badge offline";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    };
  }
  connect();
}
