// scheduler dashboard: token (kept in sessionStorage), action buttons, refresh in place.
// The page is complete without this script; it only adds what needs the API token.
(function () {
  "use strict";
  var KEY = "scheduler.apiToken";
  var refreshMs = (parseInt(document.body.dataset.refresh, 10) || 10) * 1000;
  var busy = false;

  function token() { return window.sessionStorage.getItem(KEY) || ""; }

  function toast(text, bad) {
    var box = document.getElementById("toast");
    box.textContent = text;
    box.className = bad ? "toast bad" : "toast";
    box.hidden = false;
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () { box.hidden = true; }, 5000);
  }

  function showTokenState() {
    var input = document.getElementById("token-input");
    var state = document.getElementById("token-state");
    if (!input || !state) { return; }
    var set = token() !== "";
    state.hidden = !set;
    input.hidden = set;
    input.nextElementSibling.hidden = set;
  }

  function setupToken() {
    var form = document.getElementById("token-form");
    var forget = document.getElementById("token-forget");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = document.getElementById("token-input");
      if (!input || !input.value) { return; }
      window.sessionStorage.setItem(KEY, input.value);
      input.value = "";
      showTokenState();
      toast("Token kept for this browser tab.");
    });
    if (forget) {
      forget.addEventListener("click", function () {
        window.sessionStorage.removeItem(KEY);
        showTokenState();
      });
    }
    showTokenState();
  }

  function describeFailure(response, body) {
    var message = body && body.message ? body.message : response.statusText;
    if (response.status === 401) { return "Not allowed: " + message + " (check the token)"; }
    return response.status + ": " + message;
  }

  function act(form) {
    var action = form.dataset.action;
    var jobId = form.dataset.jobId;
    if (!token()) {
      toast("Enter the API token (top right) first.", true);
      var input = document.getElementById("token-input");
      if (input) { input.focus(); }
      return;
    }
    var options = { method: "POST", headers: { "Authorization": "Bearer " + token() } };
    if (action === "pause") {
      var reason = window.prompt("Pause " + jobId + " on every scheduler process. Reason (optional):", "");
      if (reason === null) { return; }
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(reason ? { reason: reason } : {});
    }
    form.querySelector("button").disabled = true;
    window.fetch(form.getAttribute("action"), options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) { throw new Error(describeFailure(response, body)); }
        var done = { pause: "Paused ", resume: "Resumed ", trigger: "Started a run of " };
        toast(done[action] + jobId + (body && body.run_id ? " (run " + body.run_id.slice(0, 8) + ")" : ""));
      });
    }).catch(function (error) {
      toast(error.message, true);
    }).then(refresh);
  }

  function bindActions(root) {
    root.querySelectorAll("form.action-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        act(form);
      });
    });
  }

  function refresh() {
    if (busy) { return Promise.resolve(); }
    busy = true;
    return window.fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        ["content", "status"].forEach(function (id) {
          var fresh = page.getElementById(id);
          var current = document.getElementById(id);
          if (fresh && current) { current.replaceWith(fresh); }
        });
        document.title = page.title;
        bindActions(document.getElementById("content"));
      })
      .catch(function () { /* the next refresh tries again */ })
      .then(function () { busy = false; });
  }

  setupToken();
  bindActions(document);
  window.setInterval(function () {
    if (!document.hidden) { refresh(); }
  }, refreshMs);
}());
