/* Silkgate console: live regions, as progressive enhancement (no dependencies, no build).
 *
 * Every element with an id and data-live="<seconds>" is refreshed in place: the page's own
 * address is fetched again (with the header X-Silkgate-Live: 1, so that a refresh does not keep
 * an idle session alive) and the element with the same id in the answer replaces its content.
 * A region someone is working in (focus inside it, or a form field changed) is left alone
 * until they are done. Refreshes stop while the tab is hidden, back off after failures, honour
 * Retry-After, stop for good when the session has ended, and can be paused by the button
 * #live-toggle. A part the server no longer marks data-live (a verification done, a booking
 * cancelled) is refreshed once more and then left. Without this script the page is a plain
 * page with the figures of its load.
 */
(function () {
  "use strict";
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live][id]"));
  if (!regions.length || !window.fetch || !window.DOMParser) {
    return;
  }
  var status = document.getElementById("live-status");
  var toggle = document.getElementById("live-toggle");
  var seconds = Math.min.apply(null, regions.map(function (r) {
    return Number(r.getAttribute("data-live")) || 30;
  }));
  var every = Math.max(1, seconds) * 1000;
  var longest = 10 * 60 * 1000;
  var timer = null;
  var failures = 0;
  var paused = false;
  var stopped = false;
  var inFlight = false;
  var pauses = 0;  // pause clicks so far: an answer to a fetch sent before a pause is dropped

  function say(kind) {
    if (!status) {
      return;
    }
    status.textContent = kind ? status.getAttribute("data-" + kind) || "" : "";
    status.hidden = !kind;
  }

  function changed(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") {
      return false;
    }
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) {
        return o.selected !== o.defaultSelected;
      });
    }
    return field.value !== field.defaultValue;
  }

  function busy(region) {
    if (region.contains(document.activeElement) && document.activeElement !== document.body) {
      return true;
    }
    return Array.prototype.some.call(region.querySelectorAll("input, select, textarea"), changed);
  }

  function replace(region, fresh) {
    var open = Array.prototype.map.call(region.querySelectorAll("details"), function (d) {
      return d.open;
    });
    region.innerHTML = fresh.innerHTML;
    Array.prototype.forEach.call(region.querySelectorAll("details"), function (d, i) {
      if (open[i]) {
        d.open = true;
      }
    });
  }

  function schedule(ms) {
    window.clearTimeout(timer);
    timer = null;
    if (!paused && !stopped && !document.hidden) {
      timer = window.setTimeout(refresh, ms);
    }
  }

  function failed(ms) {
    failures += 1;
    say("failed");
    schedule(ms || Math.min(every * Math.pow(2, failures), longest));
  }

  function refresh() {
    if (inFlight || paused || stopped || document.hidden) {
      return;
    }
    inFlight = true;
    var asked = pauses;
    window.fetch(window.location.href, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Silkgate-Live": "1" }
    }).then(function (answer) {
      if (answer.redirected || answer.status === 401 || answer.status === 403) {
        stopped = true;
        say("stopped");
        return null;
      }
      if (answer.status === 429) {
        failed(Math.min((Number(answer.headers.get("Retry-After")) || 60) * 1000, longest));
        return null;
      }
      if (!answer.ok) {
        failed(0);
        return null;
      }
      return answer.text().then(function (html) {
        if (paused || asked !== pauses) {
          return;  // paused meanwhile: the page keeps what it showed when the button was pressed
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions = regions.filter(function (region) {
          var next = fresh.getElementById(region.id);
          if (!next || busy(region)) {
            return true;  // tried again at the next refresh
          }
          replace(region, next);
          return next.hasAttribute("data-live");  // no longer live: done with it
        });
        failures = 0;
        say(paused ? "paused" : "");
        if (regions.length) {
          schedule(every);
        } else if (toggle) {
          toggle.hidden = true;
        }
      });
    }).catch(function () {
      failed(0);
    }).then(function () {
      inFlight = false;
      if (asked !== pauses && !paused && timer === null) {
        schedule(0);  // resumed while a dropped fetch was out: the resume's refresh found it busy
      }
    });
  }

  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      paused = !paused;
      if (paused) {
        pauses += 1;
      }
      toggle.textContent = toggle.getAttribute(paused ? "data-resume" : "data-pause");
      say(paused ? "paused" : "");
      if (paused) {
        schedule(0);
      } else {
        refresh();
      }
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      schedule(0);
    } else if (!paused && !stopped) {
      refresh();
    }
  });
  schedule(every);
}());
