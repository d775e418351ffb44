// ucwabot console: plain JavaScript, no build step.
"use strict";
(function () {
  const $ = (s) => document.querySelector(s);
  const MAX_TRACES = 300;     // traces kept by the page
  const ROW = 48;             // conversation row height (virtualised list)
  let token = sessionStorage.getItem("ucwabot-token") || "";
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { token = decodeURIComponent(m[1]); sessionStorage.setItem("ucwabot-token", token); history.replaceState(null, "", location.pathname); }

  function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  async function api(path, body) {
    const o = { headers: {} };
    if (token) o.headers.Authorization = "Bearer " + token;
    if (body !== undefined) { o.method = "POST"; o.headers["Content-Type"] = "application/json"; o.body = JSON.stringify(body); }
    const r = await fetch("/console/api/" + path, o);
    if (r.status === 401) { $("#auth").hidden = false; throw new Error("needs the admin token"); }
    const j = await r.json();
    if (!r.ok && j && j.error) throw new Error(j.error);
    return { status: r.status, body: j };
  }
  function short(uri) { return (uri || "").replace(/^sip:/, "").replace(/@.*/, ""); }
  function ago(t) {
    if (!t || t.startsWith("0001")) return "–";
    const s = (Date.now() - Date.parse(t)) / 1000;
    return s < 0 ? "in " + fmtDur(-s) : fmtDur(s) + " ago";
  }
  function fmtDur(s) { return s < 90 ? s.toFixed(0) + " s" : s < 5400 ? (s / 60).toFixed(0) + " min" : (s / 3600).toFixed(1) + " h"; }

  // Tabs, keyboard: arrows move between them.
  const tabs = ["live", "rules", "play"];
  function show(name) {
    for (const t of tabs) {
      $("#tab-" + t).setAttribute("aria-selected", t === name);
      $("#tab-" + t).tabIndex = t === name ? 0 : -1;
      $("#" + t).hidden = t !== name;
    }
    if (name === "rules") loadRules();
    if (name === "play") refreshPlay();
  }
  for (const t of tabs) {
    $("#tab-" + t).addEventListener("click", () => show(t));
    $("#tab-" + t).addEventListener("keydown", (e) => {
      const vis = tabs.filter((x) => !$("#tab-" + x).hidden);
      const i = vis.indexOf(t);
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const n = vis[(i + (e.key === "ArrowRight" ? 1 : vis.length - 1)) % vis.length];
        show(n); $("#tab-" + n).focus();
      }
    });
  }
  $("#auth-form").addEventListener("submit", (e) => {
    e.preventDefault(); token = $("#auth-token").value; sessionStorage.setItem("ucwabot-token", token);
    $("#auth").hidden = true; start();
  });

  // Live view: accounts.
  async function refreshAccounts() {
    try {
      const { body } = await api("accounts");
      const tb = $("#accounts tbody"); tb.textContent = "";
      for (const a of body) {
        const tr = el("tr");
        for (const v of [a.address, a.state, a.lease_holder ? "held here" : "not held", a.presence || "–",
          a.last_poll.startsWith("0001") ? "–" : fmtDur(a.poll_age_s), a.subscription_expiry ? ago(a.subscription_expiry) : "–",
          String(a.recoveries), String(a.queue_depth)]) tr.append(el("td", "", v));
        tb.append(tr);
      }
    } catch (e) { $("#status").textContent = e.message; }
  }

  // Conversations: a virtualised list, rows rendered only where visible.
  let convs = [];            // [{account,id,participants,...}]
  let selected = "";         // conversation id
  const list = $("#conv-list"), space = list.querySelector(".vspace");
  function filtered() {
    const f = $("#conv-filter").value.toLowerCase();
    return f ? convs.filter((c) => c.participants.join(" ").toLowerCase().includes(f) || (c.last_text || "").toLowerCase().includes(f)) : convs;
  }
  let drawQueued = false;
  function drawConvs() {
    if (drawQueued) return; drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      const items = filtered();
      $("#conv-count").textContent = "(" + convs.length + ")";
      space.style.height = items.length * ROW + "px";
      const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
      const last = Math.min(items.length, first + Math.ceil(list.clientHeight / ROW) + 10);
      space.textContent = "";
      for (let i = first; i < last; i++) {
        const c = items[i];
        const row = el("div", "conv"); row.style.top = i * ROW + "px"; row.setAttribute("role", "option");
        row.setAttribute("aria-selected", c.id === selected); row.dataset.id = c.id;
        row.append(el("div", "who", (c.participants.map(short).join(", ") || "(no one yet)") + " · " + c.events + " events" + (c.errors ? " · " + c.errors + " errors" : "")));
        row.append(el("div", "last", c.last_kind + (c.last_text ? ": " + c.last_text : "")));
        space.append(row);
      }
    });
  }
  list.addEventListener("scroll", drawConvs);
  $("#conv-filter").addEventListener("input", drawConvs);
  list.addEventListener("click", (e) => { const r = e.target.closest(".conv"); if (r) select(r.dataset.id); });
  list.addEventListener("keydown", (e) => {
    const items = filtered(); if (!items.length) return;
    let i = items.findIndex((c) => c.id === selected);
    if (e.key === "ArrowDown") i = Math.min(items.length - 1, i + 1);
    else if (e.key === "ArrowUp") i = Math.max(0, i - 1);
    else if (e.key === "Escape") { select(""); return; } else return;
    e.preventDefault(); select(items[i].id);
    const top = i * ROW; if (top < list.scrollTop || top + ROW > list.scrollTop + list.clientHeight) list.scrollTop = top - list.clientHeight / 2;
  });
  function select(id) {
    selected = id;
    $("#trace-title").textContent = id ? "of the selected conversation (Esc: all)" : "of every conversation";
    drawConvs(); drawTraces();
  }
  function noteConv(t) {
    if (!t.conversation) return;
    let i = convs.findIndex((c) => c.id === t.conversation && c.account === t.account);
    if (t.kind === "conversation.ended") { if (i >= 0) convs.splice(i, 1); drawConvs(); return; }
    let c = i >= 0 ? convs.splice(i, 1)[0] : { account: t.account, id: t.conversation, participants: [], events: 0, errors: 0 };
    c.events++; c.last_kind = t.kind; if (t.text) c.last_text = t.text; if (t.error) c.errors++;
    if (t.from && t.from !== t.account) {
      const j = c.participants.indexOf(t.from);
      if (t.kind === "participant.left") { if (j >= 0) c.participants.splice(j, 1); } else if (j < 0) c.participants.push(t.from);
    }
    convs.unshift(c); drawConvs();
  }

  // Traces.
  let traces = [];   // newest last, bounded
  let lastSeq = 0;
  function traceNode(t) {
    const d = el("article", "trace" + (t.error || t.steps.some((s) => s.error) ? " err" : ""));
    d.dataset.seq = t.seq;
    const h = el("div", "head");
    h.append(el("span", "kind", t.kind), el("span", "muted", new Date(t.time).toLocaleTimeString()),
      el("span", "", (t.from_name || short(t.from)) + (t.text ? ": “" + t.text + "”" : "")), el("span", "muted", t.duration_ms.toFixed(2) + " ms"));
    if (t.redelivered) h.append(el("span", "muted", "redelivered"));
    d.append(h);
    const rules = el("div", "rules"); rules.append(el("span", "muted", "rules: "));
    if (!t.evaluated.length) rules.append(el("span", "muted", "none for this kind"));
    for (const r of t.evaluated) rules.append(el("span", "rule" + (t.matched.includes(r) ? " hit" : ""), (t.matched.includes(r) ? "✓ " : "") + r));
    for (const r of t.matched) if (!t.evaluated.includes(r)) rules.append(el("span", "rule hit", "✓ " + r));
    d.append(rules);
    for (const s of t.steps) d.append(el("div", "step" + (s.error ? " err" : ""), "→ " + s.rule + " / " + s.plugin + "  " + (s.shadow ? "(shadow: not run)" : s.duration_ms.toFixed(2) + " ms") + (s.error ? "  ✗ " + s.error : "")));
    for (const r of t.replies) d.append(el("div", "reply", r));
    if (t.error) d.append(el("div", "err-text", t.error));
    const det = el("details"); det.append(el("summary", "", "state before / after"));
    det.append(el("pre", "state", JSON.stringify(t.state_before)), el("pre", "state", JSON.stringify(t.state_after)));
    d.append(det);
    return d;
  }
  function drawTraces() {
    const box = $("#traces"); box.textContent = "";
    const shown = traces.filter((t) => !selected || t.conversation === selected).slice(-100).reverse();
    for (const t of shown) box.append(traceNode(t));
    drawPlayTraces();
  }
  function drawPlayTraces() {
    const box = $("#pg-traces"); if ($("#play").hidden) return; box.textContent = "";
    for (const t of traces.slice(-30).reverse()) box.append(traceNode(t));
  }
  let traceQueued = false;
  function addTrace(t) {
    if (t.seq <= lastSeq) return;
    lastSeq = t.seq; traces.push(t); if (traces.length > MAX_TRACES) traces.splice(0, traces.length - MAX_TRACES);
    noteConv(t);
    if (!traceQueued) { traceQueued = true; requestAnimationFrame(() => { traceQueued = false; drawTraces(); }); }
    if (!$("#play").hidden) refreshTranscriptSoon();
  }

  // The stream: Server-Sent Events read with fetch, so that the token
  // travels in a header; reconnects after a drop.
  async function stream() {
    for (;;) {
      try {
        const headers = token ? { Authorization: "Bearer " + token } : {};
        const r = await fetch("/console/api/stream", { headers });
        if (!r.ok) throw new Error("stream: " + r.status);
        $("#status").textContent = "live";
        const rd = r.body.getReader(), dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await rd.read(); if (done) break;
          buf += dec.decode(value, { stream: true });
          let k;
          while ((k = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, k); buf = buf.slice(k + 2);
            let ev = "message", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) ev = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (ev === "trace") addTrace(JSON.parse(data));
            else if (ev === "lagged") { $("#status").textContent = "live (some events skipped)"; catchUp(); }
          }
        }
      } catch (e) { $("#status").textContent = "reconnecting… " + e.message; }
      await new Promise((res) => setTimeout(res, 2000));
      catchUp();
    }
  }
  async function catchUp() {
    try { const { body } = await api("traces?after=" + lastSeq); body.forEach(addTrace); } catch (e) { /* shown by the stream */ }
  }

  // Rules view and editor.
  let files = [], checkTimer = 0, canApply = false;
  async function loadRules() {
    const { body } = await api("rules");
    $("#rules-version").textContent = "version " + body.set.version + " · " + body.set.reloads + " reloads, " + body.set.reload_failures + " failed";
    const tb = $("#rule-table tbody"); tb.textContent = "";
    for (const r of body.set.rules) {
      const tr = el("tr");
      for (const v of [r.name, (r.on || []).join(", "), (r.handlers || []).join(", "), r.matches, r.errors, r.runs,
        r.runs ? (1000 * r.run_seconds / r.runs).toFixed(2) + " ms" : "–", r.file ? short(r.file) + ":" + r.line : ""]) tr.append(el("td", "", String(v)));
      tb.append(tr);
    }
    const re = $("#reload-error");
    re.hidden = !body.last_error.length;
    re.textContent = body.last_error.map((p) => "Last reload failed: " + p.text + (p.snippet ? "\n" + p.snippet : "")).join("\n");
    canApply = body.apply;
    $("#apply-why").textContent = body.apply ? "" : "apply is off: " + body.apply_why;
    if (JSON.stringify(files) !== JSON.stringify(body.files)) {
      files = body.files; const sel = $("#rule-file"); sel.textContent = "";
      for (const f of files) { const o = el("option", "", f); o.value = f; sel.append(o); }
      if (files.length) openFile(files[0]);
    }
  }
  async function openFile(name) {
    const { body } = await api("rules/file?name=" + encodeURIComponent(name));
    $("#editor").value = body.text; gutter([]); check();
  }
  $("#rule-file").addEventListener("change", (e) => openFile(e.target.value));
  function gutter(bad) {
    const n = $("#editor").value.split("\n").length, g = $("#gutter"); g.textContent = "";
    for (let i = 1; i <= n; i++) { const s = el("span", bad.includes(i) ? "bad" : "", String(i)); s.dataset.line = i; g.append(s, "\n"); }
    g.scrollTop = $("#editor").scrollTop;
  }
  $("#editor").addEventListener("scroll", () => { $("#gutter").scrollTop = $("#editor").scrollTop; });
  $("#editor").addEventListener("input", () => { clearTimeout(checkTimer); checkTimer = setTimeout(check, 250); $("#apply").disabled = true; });
  $("#editor").addEventListener("keydown", (e) => {
    if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey) { // two spaces; Esc then Tab leaves the editor
      if (e.target.dataset.escaped) { delete e.target.dataset.escaped; return; }
      e.preventDefault(); document.execCommand("insertText", false, "  ");
    } else if (e.key === "Escape") e.target.dataset.escaped = "1";
  });
  function showProblems(res) {
    const ul = $("#problems"); ul.textContent = "";
    const st = $("#check-status");
    st.className = res.ok ? "ok" : "bad";
    st.textContent = res.ok ? "✓ " + res.rules + " rules load" + (res.applied ? " · applied, version " + res.version : "") : "✗ " + res.problems.length + " problem(s)";
    const bad = [];
    for (const p of res.problems) {
      if (p.line) bad.push(p.line);
      const b = el("button", "", p.text + (p.snippet ? "\n" + p.snippet : "")); b.type = "button";
      b.dataset.line = p.line || 0;
      b.addEventListener("click", () => goLine(p.line, p.col));
      const li = el("li"); li.append(b); ul.append(li);
    }
    gutter(bad);
    $("#apply").disabled = !res.ok || !canApply;
  }
  function goLine(line, col) {
    const ta = $("#editor"), lines = ta.value.split("\n");
    let off = 0; for (let i = 0; i < line - 1 && i < lines.length; i++) off += lines[i].length + 1;
    off += Math.max(0, (col || 1) - 1);
    ta.focus(); ta.setSelectionRange(off, off); ta.scrollTop = Math.max(0, (line - 5) * 18);
  }
  async function check() {
    const name = $("#rule-file").value; if (!name) return;
    try { const { body } = await api("rules/check", { name, text: $("#editor").value }); showProblems(body); }
    catch (e) { $("#check-status").textContent = e.message; }
  }
  $("#apply").addEventListener("click", async () => {
    const name = $("#rule-file").value;
    try { const { body } = await api("rules/apply", { name, text: $("#editor").value }); showProblems(body); if (body.applied) loadRules(); }
    catch (e) { $("#check-status").className = "bad"; $("#check-status").textContent = e.message; }
  });

  // Playground.
  let pg = null, transcriptTimer = 0;
  async function refreshPlay() {
    try {
      const { body } = await api("playground"); pg = body;
      const who = $("#pg-who");
      if (!who.options.length) for (const p of body.people) { const o = el("option", "", p.name); o.value = p.key; who.append(o); }
      const fs = $("#pg-fault");
      if (!fs.options.length) for (const f of body.faults) { const o = el("option", "", f); o.value = f; fs.append(o); }
      const sel = $("#pg-conv"), cur = sel.value; sel.textContent = "";
      const open = body.conversations.filter((c) => c.state !== "Disconnected");
      for (const c of open.slice().reverse()) { const o = el("option", "", c.participants.map(short).join(", ") + " · " + c.id.slice(-6)); o.value = c.id; sel.append(o); }
      if (open.some((c) => c.id === cur)) sel.value = cur;
      refreshTranscript(); drawPlayTraces();
    } catch (e) { showPlayError(e.message); }
  }
  function showPlayError(msg) { const b = $("#pg-error"); b.hidden = !msg; b.textContent = msg || ""; }
  async function refreshTranscript() {
    const conv = $("#pg-conv").value, ol = $("#pg-transcript");
    if (!conv) { ol.textContent = ""; return; }
    const { body } = await api("playground/transcript?conversation=" + encodeURIComponent(conv));
    ol.textContent = "";
    for (const m of body) {
      const li = el("li", m.from === pg.bot ? "botmsg" : "", (m.from === pg.bot ? "bot" : short(m.from)) + ": " + m.text + (m.undelivered ? " (not delivered)" : ""));
      ol.append(li);
    }
    ol.scrollTop = ol.scrollHeight;
  }
  function refreshTranscriptSoon() { clearTimeout(transcriptTimer); transcriptTimer = setTimeout(refreshPlay, 150); }
  async function act(verb) {
    showPlayError("");
    const a = { verb, who: $("#pg-who").value, conversation: $("#pg-conv").value };
    if (verb === "say" && !a.conversation) a.verb = verb = "invite";
    if (verb === "invite") a.conversation = "";
    if (verb === "say" || verb === "invite") a.text = $("#pg-text").value;
    if (verb === "presence") a.availability = $("#pg-presence").value;
    if (verb === "fault") a.fault = $("#pg-fault").value;
    try {
      const { body } = await api("playground/act", a);
      if (verb === "say" || verb === "invite") $("#pg-text").value = "";
      await refreshPlay();
      if (body.conversation && [...$("#pg-conv").options].some((o) => o.value === body.conversation)) { $("#pg-conv").value = body.conversation; refreshTranscript(); }
    } catch (e) { showPlayError(e.message); }
  }
  $("#pg-form").addEventListener("submit", (e) => { e.preventDefault(); act("say"); });
  for (const b of document.querySelectorAll("#play [data-verb]")) b.addEventListener("click", () => act(b.dataset.verb));
  $("#pg-conv").addEventListener("change", refreshTranscript);

  async function start() {
    try {
      const { body } = await api("overview");
      $("#tab-play").hidden = !body.playground;
      const c = await api("conversations"); convs = c.body; drawConvs();
      await catchUp();
      refreshAccounts(); setInterval(refreshAccounts, 2000);
      stream();
      const want = location.hash.replace("#", "");
      if (body.playground && want !== "live") show("play");
    } catch (e) { $("#status").textContent = e.message; }
  }
  start();
})();
