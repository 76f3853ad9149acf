// A proposal's page: while its replay runs, poll the progress and show it; reload when it ends.
(function () {
  "use strict";
  function poll(box) {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(function (response) {
      return response.json();
    }).then(function (state) {
      box.querySelector("progress").value = state.percent;
      box.querySelector(".replay-message").textContent = state.message;
      if (state.status === "replaying") {
        setTimeout(function () { poll(box); }, 1000);
      } else {
        window.location.reload();
      }
    }).catch(function () { setTimeout(function () { poll(box); }, 2000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("replay-progress");
    if (box && box.dataset.status === "replaying") { poll(box); }
  });
})();
