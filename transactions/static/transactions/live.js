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
    // A frame holds the messages of one push (a batch of stored verdicts): a list.
    socket.onmessage = (event) => JSON.parse(event.data).forEach(onMessage);
    socket.onclose = () => {
      indicator.textContent = "reconnecting…";
      indicator.className = "badge offline";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    };
  }
  connect();
}
