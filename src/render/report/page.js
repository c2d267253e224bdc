"use strict";
// synfin's report page: builds the totals, the state chart, the distributions and the
// connection table from the data elements above (rows: src/render/report/row.rs). Only the
// visible rows of the table are in the DOM. No network, no libraries.
(function () {
  const T_START = performance.now();
  const meta = JSON.parse(document.getElementById("meta").textContent);
  const STATES = meta.states;
  const KINDS = meta.kinds;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const CLOSER = { c: "client", s: "server", b: "both", "-": "-" };

  // ---- the rows ----
  const id = [], client = [], server = [], start = [], dur = [], rtt = [], hist = [],
    cstate = [], outcome = [], closer = [], finC = [], finS = [], anom = [], kinds = [],
    chgC = [], chgS = [], ladder = [];
  for (const el of document.querySelectorAll("script.rows")) {
    for (const line of el.textContent.split("\n")) {
      if (!line) continue;
      const f = line.split("\t");
      id.push(+f[0]); client.push(f[1]); server.push(f[2]); start.push(+f[3]);
      dur.push(+f[4]); rtt.push(f[5] === "" ? NaN : +f[5]); hist.push(f[6]);
      cstate.push(f[7]); outcome.push(f[8]); closer.push(CLOSER[f[9]] || f[9]);
      finC.push(f[10] === "" ? -1 : +f[10]); finS.push(f[11] === "" ? -1 : +f[11]);
      anom.push(+f[12]); kinds.push(+f[13]); chgC.push(f[14]); chgS.push(f[15]);
      ladder.push(f[16] === "1");
    }
  }
  const N = id.length;
  const T_PARSED = performance.now();
  const rowOf = new Map();
  for (let i = 0; i < N; i++) rowOf.set(id[i], i);

  // ---- times ----
  const T0_MS = Math.floor(meta.t0_us / 1000);
  function utc(us) {
    // µs since t0 → "HH:MM:SS.ffffff" (UTC), as the summary writes it.
    const abs = meta.t0_us + us;
    const secs = Math.floor(abs / 1e6), frac = abs - secs * 1e6;
    const d = new Date(secs * 1000);
    const p = (x, n) => String(x).padStart(n, "0");
    return p(d.getUTCHours(), 2) + ":" + p(d.getUTCMinutes(), 2) + ":" + p(d.getUTCSeconds(), 2) +
      "." + p(Math.round(frac), 6);
  }
  const ms = (us) => (us / 1000).toFixed(3);
  function span(us) {
    const a = Math.abs(us);
    if (a < 1000) return us.toFixed(0) + " µs";
    if (a < 1e6) return (us / 1e3).toPrecision(3) + " ms";
    if (a < 6e7) return (us / 1e6).toPrecision(3) + " s";
    return (us / 6e7).toPrecision(3) + " min";
  }
  const finalText = (i) => (finC[i] < 0 ? "-" : STATES[finC[i]]) + "/" +
    (finS[i] < 0 ? "(self)" : STATES[finS[i]]);
  const kindText = (i) => KINDS.filter((_, b) => kinds[i] & (1 << b)).join(",");

  // ---- totals ----
  function totals() {
    const t = meta.totals;
    const cell = (key, n) => `<td class="n" data-total="${esc(key)}">${n}</td>`;
    const table = (title, rows) => `<table><tr><th colspan="2">${title}</th></tr>${rows.join("")}</table>`;
    const outcomes = t.outcomes.map(([o, n]) =>
      `<tr><td><a data-filter="${esc(o)}" class="o-${esc(o)}">${esc(o)}</a></td>${cell("outcome-" + o, n)}</tr>`);
    const closers = t.closers.map(([c, n]) => `<tr><td>${esc(c)}</td>${cell("closer-" + c, n)}</tr>`);
    const kindsRows = t.anomalies.filter(([, c]) => c > 0).map(([k, c, n]) =>
      `<tr><td><a data-filter="${esc(k)}">${esc(k)}</a></td>${cell("anomaly-" + k, c)}<td class="hint">${n} in all</td></tr>`);
    const counts = [
      ["connections", t.connections], ["TCP segments", t.tcp_segments], ["frames", t.frames],
      ["skipped frames", t.skipped_frames], ["resets", t.resets],
      ["retransmissions", t.retransmissions],
      ["TIME_WAIT at end, client side", t.time_wait_client],
      ["TIME_WAIT at end, server side", t.time_wait_server],
    ].map(([k, n]) => `<tr><td>${k}</td>${cell(k, n)}</tr>`);
    $("totals-body").innerHTML = table("capture", counts) + table("outcome", outcomes) +
      table("who closed first", closers) +
      table("connections with anomalies", kindsRows.length ? kindsRows : ["<tr><td>none</td></tr>"]) +
      (t.errors.length ? `<div>${t.errors.map((e) => "warning: " + esc(e)).join("<br>")}</div>` : "");
    for (const a of document.querySelectorAll("#totals-body a[data-filter]")) {
      a.addEventListener("click", () => { $("filter").value = a.dataset.filter; applyFilter(); });
    }
  }

  // ---- state intervals, for the chart ----
  // Each side's changes: a capital letter (a state's index) then µs since the connection's
  // start in base 36.
  const COUNTED = STATES.map((s) => !["UNKNOWN", "CLOSED", "LISTEN"].includes(s));
  let ivN = 0, ivS = new Uint8Array(1 << 16), ivA = new Float64Array(1 << 16),
    ivE = new Float64Array(1 << 16), ivR = new Uint32Array(1 << 16);
  function pushIv(s, a, e, r) {
    if (ivN === ivS.length) {
      const grow = (A) => { const B = new A.constructor(A.length * 2); B.set(A); return B; };
      ivS = grow(ivS); ivA = grow(ivA); ivE = grow(ivE); ivR = grow(ivR);
    }
    ivS[ivN] = s; ivA[ivN] = a; ivE[ivN] = e; ivR[ivN] = r; ivN++;
  }
  const CH = /([A-L])(-?[0-9a-z]+)/g;
  let tEnd = -Infinity, tBegin = Infinity;
  for (let i = 0; i < N; i++) {
    tBegin = Math.min(tBegin, start[i]);
    tEnd = Math.max(tEnd, start[i] + dur[i]);
    for (const chg of [chgC[i], chgS[i]]) {
      let prevS = -1, prevT = 0;
      CH.lastIndex = 0;
      let m;
      while ((m = CH.exec(chg))) {
        const s = m[1].charCodeAt(0) - 65, t = start[i] + parseInt(m[2], 36);
        if (prevS >= 0 && COUNTED[prevS]) pushIv(prevS, prevT, t, i);
        prevS = s; prevT = t;
      }
      if (prevS >= 0 && COUNTED[prevS]) pushIv(prevS, prevT, Infinity, i);
    }
  }
  if (!N) { tBegin = 0; tEnd = 0; }
  const T_INTERVALS = performance.now();
  const serverIds = new Map();
  for (let i = 0; i < N; i++) serverIds.set(server[i], (serverIds.get(server[i]) || 0) + 1);

  // ---- chart ----
  const CHART_COLOURS = {
    SYN_SENT: "#a5d6a7", SYN_RECEIVED: "#66bb6a", ESTABLISHED: "#64b5f6", FIN_WAIT_1: "#fff176",
    FIN_WAIT_2: "#fdd835", CLOSE_WAIT: "#e57373", CLOSING: "#ba68c8", LAST_ACK: "#a1887f",
    TIME_WAIT: "#ffb74d",
  };
  const ORDER = STATES.map((_, s) => s).filter((s) => COUNTED[s]);
  let chart = null; // { S, dt, counts: Float64Array[state][k], end: counts at the end }
  function computeChart(sel) {
    const S = 900, span_ = Math.max(tEnd - tBegin, 1), dt = span_ / (S - 1);
    const diff = STATES.map(() => new Float64Array(S + 1));
    const end = STATES.map(() => 0);
    for (let j = 0; j < ivN; j++) {
      if (sel !== null && server[ivR[j]] !== sel) continue;
      const s = ivS[j], a = ivA[j], e = ivE[j];
      if (a <= tEnd && tEnd < e) end[s]++;
      const k0 = Math.max(0, Math.ceil((a - tBegin) / dt));
      const k1 = e === Infinity ? S : Math.min(S, Math.ceil((e - tBegin) / dt));
      if (k0 < k1) { diff[s][k0]++; diff[s][k1]--; }
    }
    const counts = diff.map((d) => { let c = 0; const out = new Float64Array(S); for (let k = 0; k < S; k++) { c += d[k]; out[k] = c; } return out; });
    // The last sample is the capture's end, counted exactly.
    for (let s = 0; s < STATES.length; s++) counts[s][S - 1] = end[s];
    return { S, dt, counts, end };
  }
  function drawChart() {
    const sel = $("server").value === "" ? null : $("server").value;
    chart = computeChart(sel);
    const c = $("chart"), g = c.getContext("2d"), W = c.width, H = c.height;
    const L = 56, R = 8, TOP = 8, B = 28, pw = W - L - R, ph = H - TOP - B;
    g.clearRect(0, 0, W, H);
    let max = 1;
    for (let k = 0; k < chart.S; k++) {
      let sum = 0;
      for (const s of ORDER) sum += chart.counts[s][k];
      max = Math.max(max, sum);
    }
    const x = (k) => L + (k / (chart.S - 1)) * pw, y = (v) => TOP + ph - (v / max) * ph;
    const base = new Float64Array(chart.S);
    for (const s of ORDER) {
      const cs = chart.counts[s];
      if (!cs.some((v) => v > 0)) continue;
      g.beginPath();
      for (let k = 0; k < chart.S; k++) g.lineTo(x(k), y(base[k] + cs[k]));
      for (let k = chart.S - 1; k >= 0; k--) g.lineTo(x(k), y(base[k]));
      g.closePath();
      g.fillStyle = CHART_COLOURS[STATES[s]] || "#ccc";
      g.fill();
      for (let k = 0; k < chart.S; k++) base[k] += cs[k];
    }
    g.strokeStyle = "#90a4ae"; g.fillStyle = "#444"; g.font = "11px monospace";
    g.beginPath(); g.moveTo(L, TOP); g.lineTo(L, TOP + ph); g.lineTo(L + pw, TOP + ph); g.stroke();
    g.textAlign = "right";
    for (const v of [0, max / 2, max]) g.fillText(String(Math.round(v)), L - 4, y(v) + 4);
    g.textAlign = "center";
    for (let i = 0; i <= 4; i++) {
      const t = tBegin + (i / 4) * (tEnd - tBegin);
      g.fillText(i === 0 ? utc(t) : "+" + span(t - tBegin), Math.min(Math.max(L + (i / 4) * pw, L + 50), W - 50), H - 10);
    }
    $("chart-legend").innerHTML = ORDER.filter((s) => chart.counts[s].some((v) => v > 0) || chart.end[s] > 0)
      .map((s) => `<span data-state="${STATES[s]}" data-end-count="${chart.end[s]}"><i style="background:${CHART_COLOURS[STATES[s]]}"></i>${STATES[s]} ${chart.end[s]} at end</span>`)
      .join("") || "<span>no sockets</span>";
  }
  function chartTip(ev) {
    const c = $("chart"), r = c.getBoundingClientRect();
    const px = (ev.clientX - r.left) * (c.width / r.width);
    const k = Math.round(((px - 56) / (c.width - 64)) * (chart.S - 1));
    const tip = $("chart-tip");
    if (k < 0 || k >= chart.S) { tip.style.display = "none"; return; }
    const lines = [utc(tBegin + k * chart.dt)];
    for (const s of ORDER) if (chart.counts[s][k] > 0) lines.push(STATES[s] + " " + chart.counts[s][k]);
    tip.textContent = lines.join("\n");
    tip.style.display = "block";
    tip.style.left = Math.min(ev.clientX - r.left + 12, r.width - 160) + "px";
  }

  // ---- distributions (log-scale bins, four a decade) ----
  function histogram(canvasId, noteId, values, what) {
    const vs = values.filter((v) => !Number.isNaN(v));
    const c = $(canvasId), g = c.getContext("2d"), W = c.width, H = c.height;
    const L = 40, B = 26, TOP = 6, pw = W - L - 8, ph = H - B - TOP;
    g.clearRect(0, 0, W, H);
    const bin = (v) => Math.floor(Math.log10(Math.max(v, 1)) * 4);
    let lo = Infinity, hi = -Infinity;
    for (const v of vs) { const b = bin(v); lo = Math.min(lo, b); hi = Math.max(hi, b); }
    const missing = values.length - vs.length;
    $(noteId).textContent = vs.length + " connections" + (missing ? `; ${missing} without ${what}` : "");
    if (!vs.length) return;
    const counts = new Array(hi - lo + 1).fill(0);
    for (const v of vs) counts[bin(v) - lo]++;
    const max = Math.max(...counts), bw = pw / counts.length;
    g.fillStyle = "#64b5f6";
    counts.forEach((n, i) => { const h = (n / max) * ph; g.fillRect(L + i * bw + 1, TOP + ph - h, Math.max(bw - 2, 1), h); });
    g.strokeStyle = "#90a4ae"; g.beginPath(); g.moveTo(L, TOP); g.lineTo(L, TOP + ph); g.lineTo(L + pw, TOP + ph); g.stroke();
    g.fillStyle = "#444"; g.font = "11px monospace"; g.textAlign = "right";
    g.fillText(String(max), L - 4, TOP + 10); g.fillText("0", L - 4, TOP + ph);
    g.textAlign = "center";
    for (let b = lo; b <= hi + 1; b++) {
      if (b % 4 === 0) g.fillText(span(Math.pow(10, b / 4)), L + (b - lo) * bw, H - 8);
    }
    c.dataset.bins = counts.join(",");
  }

  // ---- the table ----
  const COLS = [
    { h: "conn", key: () => id, text: (i) => id[i], cls: "n" },
    { h: "start (UTC)", key: () => start, text: (i) => utc(start[i]) },
    { h: "client", key: () => rank(client, endpointCmp), text: (i) => client[i] },
    { h: "server", key: () => rank(server, endpointCmp), text: (i) => server[i] },
    { h: "dur_ms", key: () => dur, text: (i) => ms(dur[i]), cls: "n" },
    { h: "rtt_ms", key: () => rtt.map((v) => (Number.isNaN(v) ? Infinity : v)), text: (i) => (Number.isNaN(rtt[i]) ? "-" : ms(rtt[i])), cls: "n" },
    { h: "history", key: () => rank(hist), text: (i) => hist[i] },
    { h: "state", key: () => rank(cstate), text: (i) => cstate[i] },
    { h: "outcome", key: () => rank(outcome), text: (i) => outcome[i], o: true },
    { h: "closer", key: () => rank(closer), text: (i) => closer[i] },
    { h: "final (client/server)", key: () => rank(id.map((_, i) => finalText(i))), text: finalText },
    { h: "anomalies", key: () => anom, text: (i) => (anom[i] ? anom[i] + " " + kindText(i) : "") },
  ];
  const keys = new Map();
  function keyOf(c) { if (!keys.has(c)) keys.set(c, Float64Array.from(COLS[c].key())); return keys.get(c); }
  function endpointCmp(a, b) {
    const split = (e) => { const k = e.lastIndexOf(":"); const ip = e.slice(0, k);
      const v4 = ip.split("."); const n = v4.length === 4 ? v4.reduce((x, o) => x * 256 + +o, 0) : NaN;
      return [Number.isNaN(n) ? 1 : 0, n, ip, +e.slice(k + 1)]; };
    const x = split(a), y = split(b);
    return x[0] - y[0] || (x[0] === 0 ? x[1] - y[1] : (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0)) || x[3] - y[3];
  }
  function rank(col, cmp) {
    const uniq = [...new Set(col)].sort(cmp || ((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const r = new Map(uniq.map((v, k) => [v, k]));
    return col.map((v) => r.get(v));
  }
  let order = new Uint32Array(N).map((_, i) => i);
  let view = order;
  let sortCol = 0, sortDesc = false, selected = -1;
  let haystack = null;
  const ROW = 20;
  function sortBy(c, desc) {
    const t = performance.now();
    const k = keyOf(c), d = desc ? -1 : 1;
    order = new Uint32Array(N).map((_, i) => i).sort((a, b) => (k[a] - k[b]) * d || a - b);
    sortCol = c; sortDesc = desc;
    applyFilter();
    window.synfinTimings.sort_ms = performance.now() - t;
  }
  function applyFilter() {
    const t = performance.now();
    const terms = $("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    if (!terms.length) view = order;
    else {
      if (!haystack) haystack = id.map((_, i) => [id[i], client[i], server[i], hist[i], cstate[i], outcome[i],
        "closer=" + closer[i], finalText(i), kindText(i)].join(" ").toLowerCase());
      const out = new Uint32Array(N);
      let n = 0;
      for (const i of order) if (terms.every((w) => haystack[i].includes(w))) out[n++] = i;
      view = out.slice(0, n);
    }
    $("sizer").style.height = view.length * ROW + "px";
    $("rowcount").textContent = view.length === N ? `${N} connections` : `${view.length} of ${N} connections`;
    $("rowcount").dataset.rows = view.length;
    head();
    paint();
    window.synfinTimings.filter_ms = performance.now() - t;
  }
  function head() {
    $("thead").innerHTML = COLS.map((c, k) =>
      `<span data-col="${k}" class="${k === sortCol ? "sorted" + (sortDesc ? " desc" : "") : ""}">${esc(c.h)}</span>`).join("");
  }
  function paint() {
    const sc = $("scroller");
    const first = Math.floor(sc.scrollTop / ROW);
    const last = Math.min(view.length, first + Math.ceil(sc.clientHeight / ROW) + 2);
    let html = "";
    for (let r = first; r < last; r++) {
      const i = view[r];
      html += `<div class="row${i === selected ? " sel" : ""}" data-conn="${id[i]}">` +
        COLS.map((c) => `<span class="${c.cls || ""}${c.o ? " o-" + esc(outcome[i]) : ""}">${esc(c.text(i))}</span>`).join("") + "</div>";
    }
    const rows = $("rows");
    rows.style.transform = `translateY(${first * ROW}px)`;
    rows.innerHTML = html;
  }

  // ---- one connection's ladder ----
  function select(conn, scroll) {
    const i = rowOf.get(conn);
    if (i === undefined) { $("ladder-note").textContent = `no connection ${conn} in this report`; return; }
    selected = i;
    const el = document.getElementById("l" + conn);
    $("ladder-title").innerHTML = `Ladder of <a href="#conn-${conn}">conn ${conn}</a>: ${esc(client[i])} → ${esc(server[i])} · ${esc(outcome[i])} · ${esc(cstate[i])} · history ${esc(hist[i])}`;
    if (el) {
      $("ladder-note").textContent = "";
      $("ladder-svg").innerHTML = el.textContent;
    } else {
      $("ladder-note").textContent = "This connection's ladder is not in the page (see the rule under the table): " +
        `synfin replay … --conn ${conn} draws it.`;
      $("ladder-svg").innerHTML = "";
    }
    $("ladder-svg").dataset.conn = conn;
    if (scroll) {
      const r = view.indexOf(i);
      const sc = $("scroller");
      if (r >= 0 && (r * ROW < sc.scrollTop || r * ROW > sc.scrollTop + sc.clientHeight - ROW)) sc.scrollTop = r * ROW - sc.clientHeight / 2;
    }
    paint();
  }
  function fromHash(scroll) {
    const m = /^#conn-(\d+)$/.exec(location.hash);
    if (m) select(+m[1], scroll);
  }

  // ---- wiring ----
  window.synfinTimings = { parse_ms: T_PARSED - T_START, intervals_ms: T_INTERVALS - T_PARSED };
  totals();
  const sel = $("server");
  [...serverIds].sort((a, b) => b[1] - a[1] || endpointCmp(a[0], b[0])).slice(0, 2000).forEach(([s, n]) => {
    const o = document.createElement("option");
    o.value = s; o.textContent = `${s} (${n} connections)`;
    sel.appendChild(o);
  });
  sel.addEventListener("change", drawChart);
  let t = performance.now();
  drawChart();
  window.synfinTimings.chart_ms = performance.now() - t;
  $("chart").addEventListener("mousemove", chartTip);
  $("chart").addEventListener("mouseleave", () => { $("chart-tip").style.display = "none"; });
  histogram("rtt", "rtt-note", rtt, "a whole handshake");
  histogram("dur", "dur-note", dur, "a duration");
  $("thead").addEventListener("click", (ev) => {
    const c = ev.target.closest("[data-col]");
    if (!c) return;
    const k = +c.dataset.col;
    sortBy(k, k === sortCol ? !sortDesc : false);
  });
  let pending = false;
  $("filter").addEventListener("input", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; applyFilter(); });
  });
  $("scroller").addEventListener("scroll", paint);
  $("rows").addEventListener("click", (ev) => {
    const r = ev.target.closest("[data-conn]");
    if (!r) return;
    const want = "#conn-" + r.dataset.conn;
    if (location.hash === want) select(+r.dataset.conn, false);
    else location.hash = want;
  });
  window.addEventListener("hashchange", () => fromHash(false));
  const L = meta.ladders;
  $("ladder-rule").textContent = !L.seen
    ? "No TCP connections."
    : !L.some_left_out
    ? `Every connection's ladder is in the page (${L.kept}).`
    : `Only ${L.kept} of ${L.seen} connections carry their ladder in the page: the first ${L.first}, then the first ` +
      `${L.per_class_limit} of each kind of trouble (each outcome but closed, and closed connections with each kind of anomaly), ` +
      `within ${Math.round(L.byte_limit / 1048576)} MiB of drawings, as long as the events waiting for their verdicts fit in ` +
      `${Math.round(L.held_limit / 1048576)} MiB` +
      (L.not_held ? ` (${L.not_held} that the rule chose went without: too many waiting at once)` : "") +
      ". synfin replay … --conn N draws any other.";
  sortBy(0, false);
  fromHash(true);
  $("loading").remove();
  window.synfinTimings.ready_ms = performance.now();
  window.synfinTimings.script_ms = performance.now() - T_START;
  document.body.dataset.ready = "1";
})();
