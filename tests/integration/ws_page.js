// SPDX-License-Identifier: Apache-2.0
// ws_page.html's logic: connect to the station, getPrinters, print the job
// from the URL fragment, show every reply and notification.
(function () {
  "use strict";
  var args = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
    var i = kv.indexOf("=");
    if (i > 0) args[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1));
  });
  var $ = function (id) { return document.getElementById(id); };
  var opened = false, jobId = null, done = false;

  // While waiting for the station, keep one request to our own server open
  // (#hold=/hold): headless Chromium's virtual time waits for it, so the
  // real printer gets real time. At most 40 (20 s).
  function hold(n) {
    if (done || n <= 0 || !args.hold) return;
    fetch(args.hold + "?" + n, { cache: "no-store" }).then(
      function () { hold(n - 1); }, function () { hold(n - 1); });
  }

  function log(text) {
    var li = document.createElement("li");
    li.textContent = text;
    $("events").appendChild(li);
  }
  function setState(state, reason) {
    $("state").textContent = state;
    $("state").className = "state " + state;
    $("reason").textContent = reason && reason !== "ok" ? "(" + reason + ")" : "";
    document.body.setAttribute("data-state", state);
    if (state === "printed" || state === "failed" || state === "refused" ||
        state === "already-printed") done = true;
  }
  function connection(text, ok) {
    $("status").textContent = text;
    $("dot").className = "dot " + (ok ? "on" : "off");
  }

  hold(40);
  var ws;
  try {
    ws = new WebSocket((args.scheme || "ws") + "://127.0.0.1:" + args.port + "/");
  } catch (e) {
    connection("refused", false);
    return;
  }
  ws.onopen = function () {
    opened = true;
    connection("connected", true);
    ws.send(JSON.stringify({ id: 1, cmd: "getPrinters" }));
    if (args.job) ws.send(JSON.stringify({ id: 2, cmd: "print", job: args.job }));
  };
  ws.onmessage = function (ev) {
    var m = JSON.parse(ev.data);
    if (m.event === "job") {
      if (jobId && m.job_id !== jobId) return;
      log("event " + m.job_id + " " + m.state + (m.reason !== "ok" ? " " + m.reason : ""));
      setState(m.state, m.reason);
    } else if (m.id === 1 && m.ok) {
      var p = m.printers[0], dl = $("printer");
      dl.innerHTML = "";
      [["name", p.name], ["printer", p.uri], ["status", p.status], ["size", p.size + " @ " + p.dpi + " dpi"]]
        .forEach(function (r) {
          var dt = document.createElement("dt"), dd = document.createElement("dd");
          dt.textContent = r[0]; dd.textContent = r[1];
          dl.appendChild(dt); dl.appendChild(dd);
        });
      log("getPrinters " + p.status);
    } else if (m.id === 2) {
      if (m.ok) {
        jobId = m.job_id;
        $("job").textContent = m.job_id;
        $("waybill").textContent = m.waybill;
        log("print accepted " + m.job_id + (m.duplicate ? " (duplicate)" : ""));
        if (m.spool === "done" && m.duplicate) setState("already-printed", "");
      } else {
        log("print refused " + m.error.code);
        setState("refused", m.error.code);
      }
    }
  };
  ws.onerror = function () { if (!opened) connection("refused", false); };
  ws.onclose = function () { done = true; connection(opened ? "closed" : "refused", false); };
})();
