// Adds a "Game day" tab to Locust's web UI, reachable before the first swarm and between
// swarms (Locust's own tabs show only while a test ran, and refresh only while one runs). The
// tab opens the live Game day view (/gameday, its own poller) over the page; its badge counts
// the active faults and the alarms in ALARM. #gameday opens it directly (a hash, not Locust's
// ?tab= query, which its own tab bar reads).
(function () {
  "use strict";
  if (document.getElementById("gameday-tab")) return;
  const style = document.createElement("style");
  style.textContent = [
    "#gameday-tab{position:fixed;top:14px;left:232px;z-index:1300;font:600 14px system-ui,",
    "sans-serif;letter-spacing:.03em;text-transform:uppercase;padding:8px 14px;",
    "border-radius:4px;border:1px solid rgba(255,255,255,.7);background:transparent;",
    "color:#fff;cursor:pointer}",
    "#gameday-tab[aria-selected=true]{background:#fff;color:#15803d}",
    "#gameday-tab .gd-count{margin-left:8px;padding:0 6px;border-radius:9px;",
    "background:#d62728;color:#fff;font-size:12px}",
    "#gameday-panel{position:fixed;top:64px;left:0;right:0;bottom:0;z-index:1250;",
    "background:#fff;display:none;border-top:1px solid #ddd}",
    "#gameday-panel.open{display:block}",
    "#gameday-panel iframe{width:100%;height:100%;border:0}",
  ].join("");
  document.head.append(style);

  const tab = document.createElement("button");
  tab.id = "gameday-tab";
  tab.type = "button";
  tab.setAttribute("role", "tab");
  tab.setAttribute("aria-selected", "false");
  tab.setAttribute("aria-controls", "gameday-panel");
  const label = document.createElement("span");
  label.textContent = "Game day";
  const count = document.createElement("span");
  count.className = "gd-count";
  count.hidden = true;
  tab.append(label, count);

  const panel = document.createElement("div");
  panel.id = "gameday-panel";
  panel.setAttribute("role", "tabpanel");
  const frame = document.createElement("iframe");
  frame.id = "gameday-frame";
  frame.title = "Game day";
  frame.src = "/gameday?embedded=1";
  panel.append(frame);

  function show(open) {
    panel.classList.toggle("open", open);
    tab.setAttribute("aria-selected", String(open));
    const url = window.location.pathname + window.location.search + (open ? "#gameday" : "");
    window.history.replaceState(window.history.state, "", url);
  }
  tab.addEventListener("click", () => show(!panel.classList.contains("open")));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") show(false); });
  window.addEventListener("message", (event) => {
    if (event.origin !== window.location.origin || !event.data || !event.data.gameday) return;
    const {faults, alarms} = event.data.gameday;
    const parts = [];
    if (faults) parts.push(faults + (faults === 1 ? " fault" : " faults"));
    if (alarms) parts.push(alarms + " ALARM");
    count.textContent = parts.join(" · ");
    count.hidden = parts.length === 0;
  });
  document.body.append(tab, panel);
  if (window.location.hash === "#gameday") show(true);
})();
