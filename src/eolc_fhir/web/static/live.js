// The live board: binds /ws with a token from the console, shows each change once, newest
// first, says what changed and whose record it is, and after a drop reconnects (with
// backoff) and replays what it missed with the Backport IG $events operation.
"use strict";
(function () {
  var list = document.getElementById("events");
  var status = document.getElementById("live-status");
  var topicSelect = document.getElementById("topic");
  var practiceSelect = document.getElementById("practice");
  if (!list || !status || !topicSelect || !practiceSelect) { return; }
  var titles = {};
  Array.prototype.forEach.call(topicSelect.options, function (o) { titles[o.value] = o.text; });
  var VERBS = {POST: "created", PUT: "updated", DELETE: "deleted"};
  var last = {};  // subscription id -> the highest event number received
  var numbers = {};  // "subscription#number" -> true: each event is handled once
  var items = {};  // "focus|timestamp" -> its list item: one item per change, all topics
  var practices = {};  // practice key -> true, once its option is in the select
  var attempts = 0;
  var socket = null;
  var rebindTimer = null;
  var stopped = false;

  function say(text) { status.textContent = text; }
  function param(resource, name) {
    return (resource.parameter || []).filter(function (p) { return p.name === name; });
  }
  function value(resource, name) {
    var p = param(resource, name)[0] || {};
    return p.valueCode || p.valueCanonical || p.valueString ||
      (p.valueReference || {}).reference || "";
  }
  function part(p, name) {
    return (p.part || []).filter(function (x) { return x.name === name; })[0] || {};
  }
  function relative(reference) {  // "https://host/fhir/Flag/abc" -> "Flag/abc"
    var found = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})$/.exec(reference || "");
    return found ? found[1] : "";
  }

  function shown(item) {
    var topic = topicSelect.value;
    var practice = practiceSelect.value;
    item.hidden = (topic !== "" && item.dataset.topics.split(" ").indexOf(topic) < 0) ||
      (practice !== "" && item.dataset.practice !== practice);
  }
  function place(item) {  // newest first, by the change's own time (replays come late)
    var ms = Number(item.dataset.ms);
    var after = Array.prototype.filter.call(list.children, function (other) {
      return Number(other.dataset.ms) < ms;
    })[0];
    list.insertBefore(item, after || null);
  }
  function describe(item, about) {
    var death = item.dataset.topics.split(" ").some(function (t) {
      return /\/death-recorded$/.test(t);
    });
    var what = death ? "Death recorded" : (about.what || item.dataset.focus.split("/")[0]) +
      " " + item.dataset.verb;
    var text = item.querySelector(".what");
    text.textContent = what;
    item.classList.toggle("death", death);
    var who = item.querySelector(".who");
    who.textContent = "";
    if (!about.shown) {
      who.textContent = " — a record you may not see";
    } else if (about.patient) {
      who.appendChild(document.createTextNode(" — "));
      var link = document.createElement("a");
      link.href = "/console/patient/" + encodeURIComponent(about.patient);
      link.textContent = about.name || "this person";
      who.appendChild(link);
      if (about.nhs) {
        who.appendChild(document.createTextNode(", NHS number " +
          about.nhs.replace(/^(\d{3})(\d{3})(\d{4})$/, "$1 $2 $3")));
      }
      if (about.practice_name) {
        who.appendChild(document.createTextNode(", " + about.practice_name));
      }
    }
    item.dataset.practice = about.practice || "";
    if (about.practice && !practices[about.practice]) {
      practices[about.practice] = true;
      var option = document.createElement("option");
      option.value = about.practice;
      option.textContent = about.practice_name || about.practice;
      practiceSelect.appendChild(option);
    }
    shown(item);
  }
  function lookUp(fresh) {
    var wanted = fresh.map(function (item) { return item.dataset.focus; });
    if (wanted.length === 0) { return; }
    fetch("/console/live/about", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({focus: wanted.filter(function (f, i) {
        return wanted.indexOf(f) === i;
      }).slice(0, 50)})
    }).then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (found) {
        fresh.forEach(function (item) {
          if (found[item.dataset.focus]) { describe(item, found[item.dataset.focus]); }
        });
      })
      .catch(function () { /* the change stays listed by its reference */ });
  }
  function newItem(key, focus, verb, when) {
    var item = document.createElement("li");
    item.className = "event";
    item.dataset.focus = focus;
    item.dataset.verb = verb;
    item.dataset.topics = "";
    item.dataset.practice = "";
    item.dataset.ms = String(Date.parse(when) || Date.now());
    var time = document.createElement("time");
    time.className = "when";
    time.dateTime = when;
    time.textContent = when.replace("T", " ").slice(0, 19);
    var what = document.createElement("span");
    what.className = "what";
    what.textContent = focus.split("/")[0] + " " + verb;
    var who = document.createElement("span");
    who.className = "who";
    var ref = document.createElement("span");
    ref.className = "ref";
    ref.textContent = " (" + focus + ")";
    var topics = document.createElement("span");
    topics.className = "topics";
    [time, what, who, ref, topics].forEach(function (n) { item.appendChild(n); });
    items[key] = item;
    place(item);
    return item;
  }
  function addTopic(item, topic) {
    var topics = item.dataset.topics ? item.dataset.topics.split(" ") : [];
    if (topics.indexOf(topic) >= 0) { return; }
    topics.push(topic);
    item.dataset.topics = topics.join(" ");
    item.querySelector(".topics").textContent = "Topics: " + topics.map(function (t) {
      return titles[t] || t;
    }).join("; ");
  }

  // One notification or $events Bundle: returns how many changes it added to the list.
  function handle(bundle, replay) {
    var entries = bundle.entry || [];
    var statusParams = (entries[0] || {}).resource || {};
    var kind = value(statusParams, "type");
    var topic = value(statusParams, "topic");
    var sub = value(statusParams, "subscription").split("/Subscription/")[1] || "";
    var total = Number(value(statusParams, "events-since-subscription-start")) || 0;
    if (kind === "handshake") { return handshake(sub, total); }
    if (kind !== "event-notification" && kind !== "query-event") { return 0; }
    var fresh = [];
    param(statusParams, "notification-event").forEach(function (event, i) {
      var number = Number(part(event, "event-number").valueString);
      var seen = sub + "#" + number;
      if (numbers[seen]) { return; }
      numbers[seen] = true;
      if (!replay && last[sub] !== undefined && number > last[sub] + 1) {
        replayFrom(sub, last[sub] + 1, number - 1);  // a gap on a live socket
      }
      last[sub] = Math.max(last[sub] || 0, number);
      var focus = relative((part(event, "focus").valueReference || {}).reference);
      var when = part(event, "timestamp").valueInstant || new Date().toISOString();
      var method = (((entries[i + 1] || {}).request) || {}).method;
      var key = focus + "|" + when;
      var item = items[key];
      if (!item) {
        item = newItem(key, focus, VERBS[method] || "changed", when);
        fresh.push(item);
      }
      addTopic(item, topic);
      shown(item);
    });
    lookUp(fresh);
    return fresh.length;
  }
  function handshake(sub, total) {
    if (last[sub] === undefined) {  // first sight: the board starts from now
      last[sub] = total;
      say("Connected: waiting for changes.");
      return 0;
    }
    if (total > last[sub]) { replayFrom(sub, last[sub] + 1, total); } else { replayed(0); }
    return 0;
  }

  var replayCount = 0;
  var replaysWaiting = 0;
  var lost = 0;  // missed events the server no longer keeps (past its retention)
  function replayed(added) {
    replayCount += added;
    if (replaysWaiting === 0) {
      say("Connected. Missed events replayed: " + replayCount + "." + (lost === 0 ? "" :
        " " + lost + " older ones are no longer kept: reload for the current picture."));
    }
  }
  function replayFrom(sub, since, until) {
    replaysWaiting += 1;
    var query = "subscription=" + encodeURIComponent(sub) + "&since=" + since +
      "&until=" + until;
    fetch("/console/live/events?" + query, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (bundle) {
        var before = last[sub] || 0;
        var added = handle(bundle, true);
        if (last[sub] < until && last[sub] > before) {  // the server pages long gaps
          replayFrom(sub, last[sub] + 1, until);
        } else if (last[sub] < until) {
          lost += until - last[sub];
          last[sub] = until;
        }
        replaysWaiting -= 1;
        replayed(added);
      })
      .catch(function (why) {
        replaysWaiting -= 1;
        say("Connected, but missed events could not be replayed (" + why +
            "): reload the page.");
      });
  }

  function token() {
    return fetch("/console/live/token", {method: "POST", credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
  }
  function keepBound(ws, binding) {  // a new token on the same socket before this one ends
    clearTimeout(rebindTimer);
    var left = (Date.parse(binding.expiration) || Date.now() + 60000) - Date.now();
    rebindTimer = setTimeout(function () {
      token().then(function (next) {
        if (ws.readyState !== WebSocket.OPEN) { return; }
        ws.rebound = true;
        ws.send("bind-with-token " + next.token);
        keepBound(ws, next);
      }).catch(function () { /* the close handler reconnects */ });
    }, Math.max(5000, left * 0.8));
  }
  function connect() {
    token().then(function (binding) {
      var ws = new WebSocket(binding.url);
      socket = ws;
      ws.onopen = function () {
        attempts = 0;
        replayCount = 0;
        lost = 0;
        ws.send("bind-with-token " + binding.token);
        keepBound(ws, binding);
      };
      ws.onmessage = function (message) {
        var bundle = JSON.parse(message.data);
        if (bundle.resourceType === "OperationOutcome") {
          say("The server refused the board: " +
              ((bundle.issue || [{}])[0].diagnostics || "no reason given"));
          return;
        }
        if (ws.rebound && value(((bundle.entry || [])[0] || {}).resource || {}, "type") ===
            "handshake") { return; }  // a re-bind on a live socket missed nothing
        handle(bundle, false);
      };
      ws.onclose = function () { if (socket === ws) { retry(); } };
    }).catch(function (why) {
      if (why === 401) {
        stopped = true;
        say("Signed out: reload the page to sign in again.");
      } else if (why === 403) {
        stopped = true;
        say("No live board (403).");
      } else {
        retry();
      }
    });
  }
  function retry() {
    clearTimeout(rebindTimer);
    socket = null;
    if (stopped) { return; }
    attempts += 1;
    var delay = Math.min(30000, 500 * Math.pow(2, attempts - 1)) * (0.75 + Math.random() / 2);
    say("Reconnecting… (attempt " + attempts + ")");
    setTimeout(connect, delay);
  }

  function refilter() { Array.prototype.forEach.call(list.children, shown); }
  topicSelect.addEventListener("change", refilter);
  practiceSelect.addEventListener("change", refilter);
  connect();
}());
