/* Instantly dashboard: renders the analytics models embedded in #dashboard-data (per model: columns, rows,
   and dicts for text columns stored as positions). Every filter runs here, over that data; charts are uPlot. */
(function () {
  "use strict";

  const DAY = 86400;
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);

  function table(name) {
    const model = data.models[name];
    if (!model) return null;
    const dicts = model.dicts || {};
    return model.rows.map((row) => {
      const item = {};
      model.columns.forEach((column, i) => {
        item[column] = dicts[column] && row[i] != null ? dicts[column][row[i]] : row[i];
      });
      return item;
    });
  }

  const perf = table("campaign_performance");
  const daily = table("campaign_daily");
  const steps = table("step_performance");
  const funnel = table("lead_funnel");
  const accounts = table("account_health");
  const replies = table("reply_activity");
  const transitions = table("lead_status_transitions");
  const trend = table("account_health_trend");

  // ------------------------------------------------------------------------------------------ helpers
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const fmtInt = (n) => (n == null ? "–" : Math.round(n).toLocaleString("en-US"));
  const fmtNum = (n, digits) => (n == null ? "–" : n.toLocaleString("en-US", { maximumFractionDigits: digits }));
  const fmtPct = (x) => (x == null || !isFinite(x) ? "–" : (100 * x).toFixed(1) + "%");
  const ratio = (a, b) => (b ? a / b : null);
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const sum = (rows, key) => rows.reduce((total, row) => total + (row[key] || 0), 0);
  const dayNum = (s) => Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +s.slice(8, 10)) / 1000;
  const dayStr = (t) => new Date(t * 1000).toISOString().slice(0, 10);
  const missing = (name) => `<div class="empty">The <code>${esc(name)}</code> model is not in the warehouse: ` +
    "sync its resources (<code>instantly-sync run</code>) to build it.</div>";

  // --------------------------------------------------------------------------------------- campaigns
  const campaigns = new Map();
  (perf || []).forEach((p) => campaigns.set(p.campaign_id, { id: p.campaign_id, name: p.campaign_name, status: p.status_label }));
  (daily || []).concat(steps || [], funnel || [], replies || [], transitions || []).forEach((row) => {
    if (row.campaign_id && !campaigns.has(row.campaign_id)) {
      campaigns.set(row.campaign_id, { id: row.campaign_id, name: row.campaign_name, status: null });
    }
  });
  const names = new Map();
  campaigns.forEach((c) => names.set(c.name, (names.get(c.name) || 0) + 1));
  campaigns.forEach((c) => {
    const base = c.name || "(unnamed campaign)";
    c.label = names.get(c.name) > 1 || !c.name ? `${base} (…${c.id.slice(-6)})` : base;
  });
  const campaignLabel = (id) => (id ? (campaigns.get(id) || { label: id }).label : "(no campaign)");

  const dates = (daily || []).map((d) => d.date).concat((replies || []).map((r) => r.date)).sort();
  const minDate = dates.length ? dates[0] : null;
  const maxDate = dates.length ? dates[dates.length - 1] : null;

  // ------------------------------------------------------------------------------------------- state
  const state = { campaign: "", from: minDate, to: maxDate };
  const ui = {
    campaign: document.getElementById("campaign"),
    from: document.getElementById("from"),
    to: document.getElementById("to"),
    quick: document.getElementById("quick"),
  };

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    Object.assign(state, { campaign: "", from: minDate, to: maxDate });
    if (campaigns.has(params.get("campaign"))) state.campaign = params.get("campaign");
    const valid = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s || "");
    if (valid(params.get("from"))) state.from = params.get("from");
    if (valid(params.get("to"))) state.to = params.get("to");
  }

  function writeHash() {
    const params = new URLSearchParams();
    if (state.campaign) params.set("campaign", state.campaign);
    if (state.from && state.from !== minDate) params.set("from", state.from);
    if (state.to && state.to !== maxDate) params.set("to", state.to);
    const hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  const inRange = (row) => (!state.from || row.date >= state.from) && (!state.to || row.date <= state.to);
  const inCampaign = (id) => !state.campaign || id === state.campaign;

  // -------------------------------------------------------------------------------------------- KPIs
  function renderKpis() {
    const d = (daily || []).filter((r) => inCampaign(r.campaign_id) && inRange(r));
    const received = (replies || []).filter((r) => inCampaign(r.campaign_id) && inRange(r));
    const p = (perf || []).filter((r) => inCampaign(r.campaign_id));
    const sent = sum(d, "sent");
    const contacted = sum(d, "contacted");
    const uniqueOpens = sum(d, "unique_opens");
    const uniqueReplies = sum(d, "unique_replies");
    const atRisk = (accounts || []).filter((a) => a.health !== "ok");
    const tiles = [
      ["sent", "Emails sent", daily && fmtInt(sent), `${fmtInt(contacted)} leads contacted`],
      ["open_rate", "Open rate", daily && fmtPct(ratio(uniqueOpens, contacted)), `${fmtInt(uniqueOpens)} unique opens`],
      ["reply_rate", "Reply rate", daily && fmtPct(ratio(uniqueReplies, contacted)), `${fmtInt(uniqueReplies)} unique replies`],
      ["opportunities", "Opportunities", daily && fmtInt(sum(d, "opportunities")), "in the date range"],
      ["received", "Replies received", replies && fmtInt(sum(received, "received")),
        `${fmtInt(sum(received, "auto_replies"))} automatic (inbox)`],
      ["bounce_rate", "Bounce rate", perf && fmtPct(ratio(sum(p, "bounces"), sum(p, "sent"))),
        `lifetime · ${fmtInt(sum(p, "bounces"))} bounces`],
      ["opportunity_value", "Opportunity value", perf && fmtInt(sum(p, "opportunity_value")),
        `lifetime · ${fmtInt(sum(p, "opportunities"))} opportunities`],
      ["accounts_at_risk", "Accounts at risk", accounts && fmtInt(atRisk.length),
        accounts ? `of ${fmtInt(accounts.length)} sending accounts` : ""],
    ];
    document.getElementById("kpis").innerHTML = tiles.map(([key, label, value, sub]) =>
      `<div class="kpi" data-kpi="${key}"><div class="label">${esc(label)}</div>` +
      `<div class="value">${value == null ? "–" : esc(value)}</div><div class="sub">${esc(value == null ? "no data" : sub)}</div></div>`,
    ).join("");
  }

  // ------------------------------------------------------------------------------------ time series
  function axis() {
    if (!state.from || !state.to || state.from > state.to) return [];
    const xs = [];
    for (let t = dayNum(state.from); t <= dayNum(state.to); t += DAY) xs.push(t);
    return xs;
  }

  function dense(xs, rows, key) {
    const values = new Array(xs.length).fill(0);
    if (!xs.length) return values;
    const first = xs[0];
    rows.forEach((row) => {
      const i = Math.round((dayNum(row.date) - first) / DAY);
      if (i >= 0 && i < values.length) values[i] += row[key] || 0;
    });
    return values;
  }

  let chart = null;
  function renderChart() {
    const el = document.getElementById("daily-chart");
    if (chart) { chart.destroy(); chart = null; }
    el.innerHTML = "";
    if (!daily) { el.innerHTML = missing("campaign_daily"); return; }
    const xs = axis();
    if (!xs.length) { el.innerHTML = '<div class="empty">No days in the selected range.</div>'; return; }
    const d = daily.filter((r) => inCampaign(r.campaign_id) && inRange(r));
    const received = (replies || []).filter((r) => inCampaign(r.campaign_id) && inRange(r));
    document.getElementById("chart-note").textContent = `${state.from} – ${state.to} (UTC days)`;
    const series = [
      {},
      { label: "Emails sent", scale: "sent", stroke: "#3b6cf6", fill: "rgba(59,108,246,0.3)", width: 1,
        paths: uPlot.paths.bars({ size: [0.7, 24] }), points: { show: false } },
      { label: "Unique replies", scale: "replies", stroke: "#e8590c", width: 2, points: { show: false } },
    ];
    const values = [xs, dense(xs, d, "sent"), dense(xs, d, "unique_replies")];
    if (replies) {
      series.push({ label: "Replies received (inbox)", scale: "replies", stroke: "#2b8a3e", width: 2, dash: [5, 4],
        points: { show: false } });
      values.push(dense(xs, received, "received"));
    }
    chart = new uPlot({
      width: Math.max(320, el.clientWidth),
      height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: { x: { time: true, range: (u, lo, hi) => [lo - DAY / 2, hi + DAY / 2] },
        sent: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] },
        replies: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
      series: series,
      axes: [{ incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 182 * DAY, 364 * DAY] },
        { scale: "sent", label: "emails sent" },
        { scale: "replies", side: 1, label: "replies", grid: { show: false } }],
    }, values, el);
  }

  let sparks = [];
  function sparkline(el, xs, ys) {
    sparks.push(new uPlot({
      width: 120, height: 30, class: "spark",
      cursor: { show: false }, legend: { show: false }, select: { show: false },
      scales: { x: { time: false }, y: { range: (u, lo, hi) => [0, Math.max(1, hi)] } },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: "#3b6cf6", fill: "rgba(59,108,246,0.15)", width: 1, points: { show: false } }],
    }, [xs, ys], el));
  }

  // -------------------------------------------------------------------------------- campaign table
  function renderCampaigns() {
    const el = document.getElementById("campaigns");
    sparks.forEach((s) => s.destroy());
    sparks = [];
    if (!perf) { el.innerHTML = missing("campaign_performance"); return; }
    const rows = perf.filter((r) => inCampaign(r.campaign_id)).sort((a, b) => (b.sent || 0) - (a.sent || 0));
    const d = (daily || []).filter(inRange);
    const xs = axis();
    el.innerHTML = `<table><thead><tr><th>Campaign</th><th>Status</th><th>Leads</th><th>Sent</th>
      <th>Open rate</th><th>Reply rate</th><th>Bounce rate</th><th>Opportunities</th><th>Value</th>
      <th class="text">Sent per day</th><th>Sent in range</th><th>Replies in range</th></tr></thead><tbody>` +
      rows.map((r) => {
        const mine = d.filter((x) => x.campaign_id === r.campaign_id);
        return `<tr class="clickable" data-campaign="${esc(r.campaign_id)}" title="Show only this campaign">
          <td class="text">${esc(campaignLabel(r.campaign_id))}</td><td><span class="badge">${esc(r.status_label)}</span></td>
          <td>${fmtInt(r.leads)}</td><td data-col="sent">${fmtInt(r.sent)}</td><td>${fmtPct(r.open_rate)}</td>
          <td data-col="reply_rate">${fmtPct(r.reply_rate)}</td><td>${fmtPct(r.bounce_rate)}</td>
          <td>${fmtInt(r.opportunities)}</td><td>${fmtInt(r.opportunity_value)}</td><td class="text spark-cell"></td>
          <td data-col="sent_in_range">${daily ? fmtInt(sum(mine, "sent")) : "–"}</td>
          <td data-col="replies_in_range">${daily ? fmtInt(sum(mine, "unique_replies")) : "–"}</td></tr>`;
      }).join("") + "</tbody></table>" +
      (rows.length ? "" : '<div class="empty">No campaigns.</div>');
    if (!daily || !xs.length) return;
    el.querySelectorAll("tr[data-campaign]").forEach((tr) => {
      const id = tr.getAttribute("data-campaign");
      sparkline(tr.querySelector(".spark-cell"), xs, dense(xs, d.filter((x) => x.campaign_id === id), "sent"));
    });
  }

  // -------------------------------------------------------------------------------------- steps
  function renderSteps() {
    const el = document.getElementById("steps");
    if (!steps) { el.innerHTML = missing("step_performance"); return; }
    const rows = steps.filter((r) => inCampaign(r.campaign_id));
    if (!rows.length) { el.innerHTML = '<div class="empty">No step analytics for this selection.</div>'; return; }
    const order = (r) => [r.step == null ? 1e9 : r.step, r.variant == null ? 1e9 : r.variant];
    rows.sort((a, b) => {
      if (a.campaign_id !== b.campaign_id) return campaignLabel(a.campaign_id).localeCompare(campaignLabel(b.campaign_id));
      const [sa, va] = order(a); const [sb, vb] = order(b);
      return sa - sb || va - vb;
    });
    const best = Math.max(0.0001, ...rows.map((r) => r.reply_rate || 0));
    const head = `<table><thead><tr><th>Step</th><th>Variant</th><th class="text">Subject</th><th>Sent</th>
      <th>Unique replies</th><th class="text">Reply rate</th><th>Open rate</th></tr></thead><tbody>`;
    const line = (r) => {
      const known = r.step != null;
      const width = Math.round(100 * (r.reply_rate || 0) / best);
      return `<tr data-step="${known ? r.step : ""}" data-variant="${known ? r.variant : ""}">
        <td>${known ? "Step " + (r.step + 1) : "Unattributed"}</td>
        <td>${known && r.variant != null ? String.fromCharCode(65 + (r.variant % 26)) : "–"}
          ${r.is_winner ? '<span class="badge winner">★ winner</span>' : ""}</td>
        <td class="text">${!known ? "–" : r.subject ? esc(r.subject) : '<span class="muted">(same thread)</span>'}</td>
        <td>${fmtInt(r.sent)}</td><td>${fmtInt(r.unique_replies)}</td>
        <td class="text bar"><span style="width:${width}%"></span><b>${fmtPct(r.reply_rate)}</b></td>
        <td>${fmtPct(r.open_rate)}</td></tr>`;
    };
    if (state.campaign) {
      el.innerHTML = head + rows.map(line).join("") + "</tbody></table>";
      return;
    }
    // every campaign: one folded group each (the first open), so a large workspace stays one screen
    const groups = [];
    rows.forEach((r) => {
      if (!groups.length || groups[groups.length - 1][0] !== r.campaign_id) groups.push([r.campaign_id, []]);
      groups[groups.length - 1][1].push(r);
    });
    el.innerHTML = groups.map(([id, mine], i) => {
      const winners = mine.filter((r) => r.is_winner).length;
      const steps = new Set(mine.filter((r) => r.step != null).map((r) => r.step)).size;
      return `<details data-campaign="${esc(id)}"${i === 0 ? " open" : ""}><summary>${esc(campaignLabel(id))}
        <span class="muted">· ${plural(steps, "step")} · ${plural(mine.length, "row")} · ${plural(winners, "winner")}</span></summary>` +
        head + mine.map(line).join("") + "</tbody></table></details>";
    }).join("");
  }

  // -------------------------------------------------------------------------------------- funnel
  function interestOrder(code) {
    if (code == null) return 1000;
    if (code >= 1 && code <= 4) return code;
    if (code === 0) return 10;
    if (code < 0 && code >= -4) return 20 - code;
    return 100 + Math.abs(code);
  }

  function breakdown(rows, codeKey, labelKey, order) {
    const groups = new Map();
    rows.forEach((r) => {
      const g = groups.get(r[labelKey]) || { label: r[labelKey], code: r[codeKey], leads: 0 };
      g.leads += r.leads;
      groups.set(r[labelKey], g);
    });
    const total = rows.reduce((t, r) => t + r.leads, 0);
    const list = Array.from(groups.values()).sort((a, b) => order(a.code) - order(b.code));
    const max = Math.max(1, ...list.map((g) => g.leads));
    return "<table><tbody>" + list.map((g) =>
      `<tr data-label="${esc(g.label)}"><td class="text">${esc(g.label)}</td><td>${fmtInt(g.leads)}</td>
        <td class="bar"><span style="width:${Math.round(100 * g.leads / max)}%"></span><b>${fmtPct(ratio(g.leads, total))}</b></td></tr>`,
    ).join("") + "</tbody></table>";
  }

  function renderFunnel() {
    const el = document.getElementById("funnel");
    if (!funnel) { el.innerHTML = missing("lead_funnel"); return; }
    const rows = funnel.filter((r) => inCampaign(r.campaign_id));
    if (!rows.length) { el.innerHTML = '<div class="empty">No leads for this selection.</div>'; return; }
    const total = rows.reduce((t, r) => t + r.leads, 0);
    el.innerHTML = `<div class="legend-note" data-total="${total}">${fmtInt(total)} leads</div>` +
      "<h3>Interest status</h3>" + breakdown(rows, "interest_status", "interest_status_label", interestOrder) +
      "<h3>Lead status</h3>" + breakdown(rows, "lead_status", "lead_status_label", (c) => (c == null ? 1000 : c < 0 ? 10 - c : c));
  }

  // ------------------------------------------------------------------------------------ accounts
  function renderAccounts() {
    const el = document.getElementById("accounts");
    if (!accounts) { el.innerHTML = missing("account_health"); return; }
    if (accounts.length && accounts[0].window_start) {
      document.getElementById("accounts-note").textContent =
        `last 30 days (${accounts[0].window_start} – ${accounts[0].window_end}); not filtered by campaign or date`;
    }
    const rank = { critical: 0, warning: 1, ok: 2 };
    const rows = accounts.slice().sort((a, b) =>
      rank[a.health] - rank[b.health] || (b.bounce_rate_30d || 0) - (a.bounce_rate_30d || 0) || a.email.localeCompare(b.email));
    el.innerHTML = `<table><thead><tr><th>Account</th><th>Health</th><th class="text">Status</th><th class="text">Warmup</th><th>Warmup score</th>
      <th>Daily limit</th><th>Sent per day</th><th>Sent</th><th>Bounce rate</th><th>Reply rate</th></tr></thead><tbody>` +
      rows.map((a) => `<tr data-account="${esc(a.email)}"><td class="text">${esc(a.email)}</td>
        <td><span class="badge ${esc(a.health)}">${esc(a.health)}</span></td><td class="text">${esc(a.status_label || "–")}</td>
        <td class="text">${esc(a.warmup_status_label || "–")}</td><td>${fmtNum(a.warmup_score, 0)}</td><td>${fmtNum(a.daily_limit, 0)}</td>
        <td>${fmtNum(a.avg_daily_sent_30d, 1)}</td><td>${fmtInt(a.sent_30d)}</td>
        <td>${fmtPct(a.bounce_rate_30d)}</td><td>${fmtPct(a.reply_rate_30d)}</td></tr>`).join("") +
      "</tbody></table>" + (rows.length ? "" : '<div class="empty">No sending accounts.</div>');
  }

  // --------------------------------------------------------------------------------- transitions
  function renderTransitions() {
    const el = document.getElementById("transitions");
    if (!transitions) { el.innerHTML = missing("lead_status_transitions"); return; }
    const rows = transitions.filter((r) => inCampaign(r.campaign_id))
      .sort((a, b) => (b.contacted || 0) - (a.contacted || 0) || campaignLabel(a.campaign_id).localeCompare(campaignLabel(b.campaign_id)));
    const hours = (h, n) => (h == null ? "–" : `${fmtNum(h, 1)} h <span class="muted">(${fmtInt(n)})</span>`);
    el.innerHTML = `<table><thead><tr><th>Campaign</th><th>Leads</th><th>Contacted</th><th>Replied</th><th>Interested</th>
      <th>To reply</th><th>To interested</th></tr></thead><tbody>` +
      rows.map((r) => `<tr data-transitions="${esc(r.campaign_id || "")}"><td class="text">${esc(campaignLabel(r.campaign_id))}</td>
        <td>${fmtInt(r.leads)}</td><td>${fmtInt(r.contacted)}</td><td data-col="replied">${fmtInt(r.replied)}</td>
        <td data-col="interested">${fmtInt(r.interested)}</td>
        <td data-col="to_reply">${hours(r.median_hours_to_reply, r.timed_replies)}</td>
        <td data-col="to_interested">${hours(r.median_hours_to_interested, r.timed_interested)}</td></tr>`).join("") +
      "</tbody></table>" + (rows.length ? "" : '<div class="empty">No lead history for this selection.</div>');
  }

  // -------------------------------------------------------------------------------- warmup trend
  let trendChart = null;
  function renderTrend() {
    const el = document.getElementById("trend");
    const chartEl = document.getElementById("trend-chart");
    if (trendChart) { trendChart.destroy(); trendChart = null; }
    chartEl.innerHTML = "";
    if (!trend) { el.innerHTML = missing("account_health_trend"); return; }
    const latest = new Map();
    const perDay = new Map();
    trend.forEach((r) => {
      const last = latest.get(r.email);
      if (!last || r.date > last.date) latest.set(r.email, r);
      if (r.warmup_score != null) {
        const day = perDay.get(r.date) || { total: 0, n: 0, min: Infinity };
        day.total += r.warmup_score; day.n += 1; day.min = Math.min(day.min, r.warmup_score);
        perDay.set(r.date, day);
      }
    });
    const days = Array.from(perDay.keys()).sort();
    if (days.length) {
      const xs = days.map(dayNum);
      trendChart = new uPlot({
        width: Math.max(320, chartEl.clientWidth), height: 180,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
        scales: { x: { time: true }, y: { range: [0, 100] } },
        series: [{}, { label: "Average warmup score", stroke: "#3b6cf6", width: 2, points: { show: false } },
          { label: "Lowest", stroke: "#c92a2a", width: 1, dash: [4, 3], points: { show: false } }],
        axes: [{}, { label: "warmup score" }],
      }, [xs, days.map((d) => perDay.get(d).total / perDay.get(d).n), days.map((d) => perDay.get(d).min)], chartEl);
    }
    const rows = Array.from(latest.values()).sort((a, b) =>
      (a.warmup_score_change_7d == null) - (b.warmup_score_change_7d == null) ||
      (a.warmup_score_change_7d || 0) - (b.warmup_score_change_7d || 0) || a.email.localeCompare(b.email));
    const change = (x) => (x == null ? "–" : `<span class="${x < 0 ? "fell" : ""}">${x > 0 ? "+" : ""}${fmtNum(x, 1)}</span>`);
    el.innerHTML = `<table><thead><tr><th>Account</th><th class="text">Warmup</th><th>Score</th><th>7-day change</th></tr></thead><tbody>` +
      rows.map((r) => `<tr data-trend="${esc(r.email)}"><td class="text">${esc(r.email)}</td>
        <td class="text">${esc(r.warmup_status_label || "–")}</td><td>${fmtNum(r.warmup_score, 1)}</td>
        <td data-col="change_7d">${change(r.warmup_score_change_7d)}</td></tr>`).join("") +
      "</tbody></table>" + (rows.length ? "" : '<div class="empty">No account history yet.</div>');
  }

  // ------------------------------------------------------------------------------------- controls
  function syncControls() {
    ui.campaign.value = state.campaign;
    ui.from.value = state.from || "";
    ui.to.value = state.to || "";
    ui.quick.querySelectorAll("button").forEach((b) => {
      const days = +b.getAttribute("data-days");
      const from = days && maxDate ? dayStr(dayNum(maxDate) - (days - 1) * DAY) : minDate;
      b.classList.toggle("active", state.to === maxDate && state.from === (from < minDate ? minDate : from));
    });
  }

  function render() {
    syncControls();
    writeHash();
    renderKpis();
    renderChart();
    renderCampaigns();
    renderSteps();
    renderFunnel();
    renderAccounts();
    renderTransitions();
    renderTrend();
    document.body.setAttribute("data-rendered", String(+(document.body.getAttribute("data-rendered") || 0) + 1));
  }

  function setup() {
    const source = `${data.source} · data through ${maxDate || "–"} · page made ${data.generated_at}`;
    document.getElementById("source").textContent = source;
    Array.from(campaigns.values()).sort((a, b) => a.label.localeCompare(b.label)).forEach((c) => {
      const option = document.createElement("option");
      option.value = c.id;
      option.textContent = c.label;
      ui.campaign.appendChild(option);
    });
    [ui.from, ui.to].forEach((input) => { input.min = minDate || ""; input.max = maxDate || ""; });
    ui.campaign.addEventListener("change", () => { state.campaign = ui.campaign.value; render(); });
    ui.from.addEventListener("change", () => { state.from = ui.from.value || minDate; render(); });
    ui.to.addEventListener("change", () => { state.to = ui.to.value || maxDate; render(); });
    ui.quick.addEventListener("click", (event) => {
      const days = event.target.getAttribute && event.target.getAttribute("data-days");
      if (days == null || !maxDate) return;
      const from = +days ? dayStr(dayNum(maxDate) - (+days - 1) * DAY) : minDate;
      state.from = from < minDate ? minDate : from;
      state.to = maxDate;
      render();
    });
    document.getElementById("campaigns").addEventListener("click", (event) => {
      const tr = event.target.closest("tr[data-campaign]");
      if (!tr) return;
      const id = tr.getAttribute("data-campaign");
      state.campaign = state.campaign === id ? "" : id;
      render();
    });
    window.addEventListener("hashchange", () => { readHash(); render(); });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(renderChart, 150);
    });
    readHash();
    render();
  }

  setup();
})();
