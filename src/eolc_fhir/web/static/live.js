// The live board: asks the console for a binding token, binds /ws, shows each event first.
"use strict";
(function () {
  var list = document.getElementById("events");
  var status = document.getElementById("live-status");
  var select = document.getElementById("topic");
  if (!list || !status || !select) { return; }
  var titles = {};
  Array.prototype.forEach.call(select.options, function (o) { titles[o.value] = o.text; });

  function param(resource, name) {
    return (resource.parameter || []).filter(function (p) { return p.name === name; });
  }
  function part(p, name) {
    return (p.part || []).filter(function (x) { return x.name === name; })[0] || {};
  }
  function shown(item) {
    item.hidden = select.value !== "" && item.dataset.topic !== select.value;
  }
  function add(topic, event) {
    var focus = (part(event, "focus").valueReference || {}).reference || "(no focus)";
    var when = part(event, "timestamp").valueInstant || new Date().toISOString();
    var item = document.createElement("li");
    item.dataset.topic = topic;
    item.className = "event";
    item.textContent = when + " — " + (titles[topic] || topic) + " — " + focus;
    shown(item);
    list.insertBefore(item, list.firstChild);
  }
  function received(message) {
    var bundle = JSON.parse(message.data);
    if (bundle.resourceType === "OperationOutcome") {
      status.textContent = "The server closed the board: " +
        ((bundle.issue || [{}])[0].diagnostics || "no reason given");
      return;
    }
    var statusParams = ((bundle.entry || [{}])[0] || {}).resource || {};
    var kind = (param(statusParams, "type")[0] || {}).valueCode;
    var topic = (param(statusParams, "topic")[0] || {}).valueCanonical || "";
    if (kind === "handshake") { status.textContent = "Connected: waiting for changes."; }
    if (kind !== "event-notification") { return; }
    param(statusParams, "notification-event").forEach(function (e) { add(topic, e); });
  }
  function connect() {
    fetch("/console/live/token", {method: "POST", credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (binding) {
        var ws = new WebSocket(binding.url);
        ws.onopen = function () { ws.send("bind-with-token " + binding.token); };
        ws.onmessage = received;
        ws.onclose = function () { status.textContent = "Disconnected: reload to reconnect."; };
      })
      .catch(function (why) { status.textContent = "No live board (" + why + ")."; });
  }
  select.addEventListener("change", function () {
    Array.prototype.forEach.call(list.children, shown);
  });
  connect();
}());
