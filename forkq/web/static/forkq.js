// forkq web: relative times in the viewer's zone, live parts refreshed by polling, and a
// confirmation before the actions that delete. No framework; the server renders (and escapes)
// every fragment this file puts in the page.
(function () {
  "use strict";
  var body = document.body;
  var skew = Date.now() / 1000 - Number(body.getAttribute("data-now") || Date.now() / 1000);
  var every = Number(body.getAttribute("data-refresh-every") || 0);

  function ago(seconds) {
    var future = seconds < 0, d = Math.abs(seconds), text;
    if (d >= 86400) text = Math.floor(d / 86400) + " d";
    else if (d >= 3600) text = Math.floor(d / 3600) + " h";
    else if (d >= 60) text = Math.floor(d / 60) + " min";
    else text = Math.floor(d) + " s";
    return future ? "in " + text : text + " ago";
  }

  function times(root) {
    var now = Date.now() / 1000 - skew;
    var els = root.querySelectorAll("time[data-epoch]");
    for (var i = 0; i < els.length; i++) {
      var at = Number(els[i].getAttribute("data-epoch"));
      els[i].textContent = ago(now - at);
      els[i].title = new Date(at * 1000).toLocaleString();
    }
  }

  function poll(el) {
    var req = new XMLHttpRequest();
    req.open("GET", el.getAttribute("data-live"));
    req.setRequestHeader("Accept", "text/html");
    req.onload = function () {
      if (req.status === 200) {
        el.innerHTML = req.responseText;
        el.classList.remove("stale");
        times(el);
      } else {
        el.classList.add("stale");
      }
    };
    req.onerror = function () { el.classList.add("stale"); };
    req.send();
  }

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  times(document);
  setInterval(function () { times(document); }, 1000);
  if (every > 0) {
    setInterval(function () {
      if (document.hidden) return;
      var live = document.querySelectorAll("[data-live]");
      for (var i = 0; i < live.length; i++) poll(live[i]);
    }, every * 1000);
  }
})();
