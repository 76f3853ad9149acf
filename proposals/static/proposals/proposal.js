// A proposal's page: while its replay waits or runs, poll its state and show it; reload when it ends.
(function () {
  "use strict";
  function waiting(status) { return status === "queued" || status === "replaying"; }
  function poll(box) {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(function (response) {
      return response.json();
    }).then(function (state) {
      box.querySelector("progress").value = state.percent;
      box.querySelector(".replay-message").textContent = state.message;
      if (waiting(state.status)) {
        setTimeout(function () { poll(box); }, 1000);
      } else {
        window.location.reload();
      }
    }).catch(function () { setTimeout(function () { poll(box); }, 2000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("replay-progress");
    if (box && waiting(box.dataset.status)) { poll(box); }
  });
})();
