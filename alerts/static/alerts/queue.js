// The alert queue: who holds which alert, live over the operators' WebSocket; select all for bulk decisions.
(function () {
  "use strict";

  const selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      document.querySelectorAll("input[name=alert]").forEach((box) => { box.checked = selectAll.checked; });
    });
  }

  fraudsiteLive(document.getElementById("connection"), (message) => {
    if (message.type !== "holder") return;
    const row = document.querySelector(`tr[data-transaction-id="${CSS.escape(message.transaction_id)}"]`);
    if (row) row.querySelector(".holder").textContent = message.holder;
  });
})();
