// The live stream page: follow /stream/events (server-sent events) and
// show each event as a row, newest first. Nothing else runs a script.
"use strict";
(function () {
  var rows = document.getElementById("stream-rows");
  if (!rows) {
    return;
  }
  var state = document.getElementById("stream-state");
  var max = 500;
  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text || "";
    tr.appendChild(td);
  }
  function add(kind, d) {
    var tr = document.createElement("tr");
    tr.className = kind;
    if (kind === "entity") {
      tr.dataset.did = d.did;
      tr.dataset.op = d.op;
      cell(tr, "entity");
      cell(tr, d.op + " → " + d.status);
      cell(tr, d.did);
      cell(tr, "version " + d.version + ", height " + d.height);
    } else {
      tr.dataset.did = d.device || "";
      tr.dataset.reason = d.reason || "";
      if (!d.ok) {
        tr.className += " decision-denied";
      }
      cell(tr, "decision");
      cell(tr, (d.ok ? "allowed" : "denied") + " (" + d.reason + ")");
      cell(tr, (d.device || "?") + " → " + (d.service || "?"));
      cell(tr, d.detail);
    }
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > max) {
      rows.removeChild(rows.lastChild);
    }
  }
  var es = new EventSource("/stream/events");
  es.addEventListener("ready", function () {
    state.textContent = "live";
    state.className = "ok";
    state.id = "stream-state";
    document.body.dataset.stream = "live";
  });
  es.addEventListener("entity", function (e) { add("entity", JSON.parse(e.data)); });
  es.addEventListener("decision", function (e) { add("decision", JSON.parse(e.data)); });
  es.onerror = function () {
    state.textContent = "reconnecting…";
    state.className = "bad";
    document.body.dataset.stream = "";
  };
})();
