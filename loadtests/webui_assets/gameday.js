// The Game day view: polls /gameday/status (its `view`, built by loadtests/status_view.py) every
// second, whether or not a Locust swarm runs, and redraws four times a second so countdowns and
// ages move between polls. Times are the server's (the browser's clock offset is measured on
// each poll). A reading older than view.stale_after_s is greyed and its ALARMs are "last seen".
(function () {
  "use strict";
  const root = document.getElementById("gameday");
  const url = root.dataset.statusUrl || "/gameday/status";
  const pollMs = Number(root.dataset.pollMs || 1000);
  let view = null;
  let offsetMs = 0; // server clock minus browser clock
  let lastOk = null;
  let lastError = null;

  function serverNow() { return (Date.now() + offsetMs) / 1000; }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === "") continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function secs(s) {
    if (s === null || s === undefined) return "?";
    if (s < 10) return s.toFixed(1) + " s";
    if (s < 120) return Math.round(s) + " s";
    const m = Math.floor(Math.round(s) / 60), r = Math.round(s) % 60;
    return m + " min " + String(r).padStart(2, "0") + " s";
  }

  function clock(ts) {
    if (ts === null || ts === undefined) return "?";
    return new Date(ts * 1000).toLocaleTimeString([], {hour12: false});
  }

  function since(ts, exact, now) {
    if (ts === null || ts === undefined) return "";
    const ago = secs(Math.max(0, now - ts));
    return exact ? "since " + clock(ts) + " (" + ago + ")"
                 : "since before " + clock(ts) + " (" + ago + "+)";
  }

  function age(name, now) {
    const info = view.sections[name] || {};
    if (info.error) return {text: "unavailable: " + info.error.slice(0, 200), stale: true};
    if (info.read_at === null || info.read_at === undefined) return {text: "not read", stale: true};
    const a = Math.max(0, now - info.read_at);
    const stale = a > view.stale_after_s;
    return {text: "read " + secs(a) + " ago" + (stale ? " — stale, not current" : ""), stale};
  }

  function heading(title, name, now) {
    const a = age(name, now);
    return [el("h2", {}, title, el("span", {class: "gd-age" + (a.stale ? " stale" : ""),
                                            "data-age-of": name}, a.text)), a.stale];
  }

  function faults(now) {
    const [h, stale] = heading("Active faults", "faults", now);
    const live = view.faults.filter((f) => f.ends_at === null || f.ends_at > now);
    const body = live.length ? el("table", {}, live.map((f) => el("tr",
      {class: "gd-fault", "data-fault": f.name, "data-fault-id": f.fault_id},
      el("td", {class: "gd-name"}, "▲ " + f.name),
      el("td", {}, f.target),
      el("td", {class: "gd-countdown"}, f.ends_at === null ? "until undone"
        : secs(Math.max(0, f.ends_at - now)) + " left"),
      el("td", {class: "gd-muted"}, f.ends_at === null ? "" : "ends " + clock(f.ends_at)
        + (f.started_at ? " · started " + clock(f.started_at) : "")))))
      : el("p", {class: "gd-muted", id: "gd-no-fault"}, "No active fault.");
    return el("section", {id: "gd-faults", class: stale ? "stale" : ""}, h, body);
  }

  function breakers(now) {
    const [h, stale] = heading("Circuit breakers", "breakers", now);
    const rows = view.breakers.map((b) => {
      const extra = (b.half_open_at !== null && b.half_open_at !== undefined && !stale)
        ? " · half-open in " + secs(Math.max(0, b.half_open_at - now)) : "";
      return el("tr", {"data-breaker": b.name, "data-state": b.state},
        el("td", {class: "gd-name"}, b.name),
        el("td", {}, el("span", {class: "gd-badge " + (stale ? "stale" : b.state === "open"
          ? "bad" : b.state === "half_open" ? "warn" : "ok")}, b.label)),
        el("td", {}, since(b.since, b.since_exact, now)),
        el("td", {class: "gd-muted"}, b.detail + extra));
    });
    return el("section", {id: "gd-breakers", class: stale ? "stale" : ""}, h,
              rows.length ? el("table", {}, rows) : el("p", {class: "gd-muted"}, "No breaker."));
  }

  function alarms(now) {
    const [h, stale] = heading("Alarms", "alarms", now);
    const firing = view.alarms_firing.map((a) => el("tr",
      {class: "gd-alarm-firing" + (stale ? " stale" : ""), "data-alarm": a.name},
      el("td", {}, el("span", {class: "gd-badge " + (stale ? "stale" : "bad")},
                      stale ? "last seen ALARM" : "ALARM")),
      el("td", {class: "gd-name"}, a.name),
      el("td", {}, since(a.since, true, now)),
      el("td", {class: "gd-muted"}, a.condition)));
    const parts = [h];
    parts.push(firing.length ? el("table", {id: "gd-alarms-firing"}, firing)
                             : el("p", {class: "gd-muted", id: "gd-no-alarm"}, "None in ALARM."));
    if (view.alarms_other.length) {
      const open = document.querySelector("#gd-alarms details")?.open || false;
      parts.push(el("details", {open: open ? "open" : null},
        el("summary", {}, view.alarms_other.length + " other alarms: "
                          + view.alarms_other_summary),
        el("table", {}, view.alarms_other.map((a) => el("tr", {"data-alarm": a.name},
          el("td", {}, el("span", {class: "gd-badge neutral"}, a.state)),
          el("td", {class: "gd-name"}, a.name),
          el("td", {}, since(a.since, true, now)),
          el("td", {class: "gd-muted"}, a.condition))))));
    }
    return el("section", {id: "gd-alarms", class: stale ? "stale" : ""}, parts);
  }

  function counters() {
    if (!view.counters.length) return null;
    return el("section", {id: "gd-counters"}, el("h2", {}, "Locust counters"),
      el("table", {}, view.counters.map((c) => el("tr", {},
        el("td", {class: "gd-name"}, c.name), el("td", {}, c.value),
        el("td", {class: "gd-muted"}, c.detail)))));
  }

  function render() {
    if (!view) {
      if (lastError) root.replaceChildren(el("p", {class: "gd-error"},
        "The status cannot be read: " + lastError));
      return;
    }
    const now = serverNow();
    const parts = [];
    if (lastError) {
      parts.push(el("div", {class: "gd-banner", id: "gd-stale-banner"},
        "Not updated for " + secs((Date.now() - lastOk) / 1000) + " (" + lastError
        + "): every reading below is getting old."));
    }
    parts.push(faults(now), breakers(now), alarms(now), counters());
    root.replaceChildren(...parts.filter(Boolean));
    if (window.parent !== window) {
      const live = view.faults.filter((f) => f.ends_at === null || f.ends_at > now).length;
      const stale = age("alarms", now).stale;
      window.parent.postMessage({gameday: {faults: live,
        alarms: stale ? 0 : view.alarms_firing.length}}, window.location.origin);
    }
  }

  async function poll() {
    try {
      const t0 = Date.now();
      const response = await fetch(url, {cache: "no-store"});
      if (!response.ok) throw new Error("HTTP " + response.status);
      const status = await response.json();
      const t1 = Date.now();
      view = status.view;
      offsetMs = status.generated_at * 1000 - (t0 + t1) / 2;
      lastOk = t1;
      lastError = null;
    } catch (err) {
      lastError = String(err.message || err);
    }
    render();
    setTimeout(poll, pollMs);
  }

  setInterval(render, 250);
  poll();
})();
