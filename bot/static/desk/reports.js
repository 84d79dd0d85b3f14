// The reports of supervisors and operators: charts (Apache ECharts, Chinese locale) over the daily rollups,
// filters, a drill-down to the orders behind a bar, and CSV / Excel exports.
"use strict";

const $ = (selector) => document.querySelector(selector);
const STATUS = { scheduled: "已预约", received: "已收到设备", diagnosing: "检测中", waiting_parts: "等配件",
  repaired: "已修好", closed: "已完结", cancelled: "已取消" };
const REASONS = { requested: "客户要求", fallback: "多次未理解", complaint: "投诉", angry: "客户不满",
  safety: "安全问题", backend_down: "系统故障", other: "其他" };
const SLA = { closed_3d: "72 小时内完结", closed_late: "超时完结", cancelled: "已取消", open: "未完结" };
const CSAT = { 1: "1 分", 2: "2 分", 3: "3 分", 4: "4 分", 5: "5 分", no_answer: "未回复" };
const CSAT_ORDER = ["1", "2", "3", "4", "5", "no_answer"];
const FOLLOWUP = { solved: "客户确认解决", satisfied: "电话回访满意", recurred: "故障复发", unreachable: "联系不上",
  pending: "待回复", cancelled: "已撤销" };
const ONSITE = { met: "准时上门", missed: "超时上门", open: "尚未上门", cancelled: "已取消" };
const CHARTS = ["conversations", "handoffs", "orders", "faults", "sla", "csat", "followups", "onsite", "load", "alerts"];
const charts = {};
let filters = {};

function pct(x) { return x == null ? "—" : `${(x * 100).toFixed(1)}%`; }

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filters, ...extra })) if (v) params.set(k, v);
  return params.toString();
}

async function get(path) {
  const reply = await fetch(path, { credentials: "same-origin" });
  const data = await reply.json().catch(() => ({}));
  if (reply.status === 401 || reply.status === 403) { $("#need-login").hidden = false; }
  if (!reply.ok) throw new Error((data.error && data.error.message) || reply.statusText);
  return data;
}

function chart(name) {
  if (!charts[name]) {
    charts[name] = echarts.init(document.getElementById(`chart-${name}`), null, { locale: "ZH", renderer: "canvas" });
    window.addEventListener("resize", () => charts[name].resize());
  }
  return charts[name];
}

function bars(name, labels, values, drill, color) {
  chart(name).setOption({
    tooltip: { trigger: "axis" }, grid: { left: 48, right: 16, top: 16, bottom: 48 },
    xAxis: { type: "category", data: labels, axisLabel: { rotate: labels.length > 6 ? 30 : 0 } },
    yAxis: { type: "value" },
    series: [{ type: "bar", data: values, itemStyle: { color } }],
  }, true);
  chart(name).off("click");
  if (drill) chart(name).on("click", (p) => drill(p.dataIndex));
}

function stacked(name, days, series, names) {
  chart(name).setOption({
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 16, top: 32, bottom: 48 },
    xAxis: { type: "category", data: days.map((d) => d.slice(5)) }, yAxis: { type: "value", minInterval: 1 },
    dataZoom: days.length > 45 ? [{ type: "inside" }] : [],
    series: Object.keys(names).map((k) => ({ name: names[k], type: "bar", stack: "all", data: series[k] || [] })),
  }, true);
}

async function drill(title, extra) {
  const rows = await get(`/desk/api/reports/orders?${query(extra)}`);
  $("#drill").hidden = false;
  $("#drill-title").textContent = `${title}（${rows.length >= 200 ? "前 200 条" : `${rows.length} 条`}）`;
  const body = $("#drill-rows");
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    for (const v of [r.id, r.created_at, STATUS[r.status] || r.status, r.model_code, r.error_code, r.station_code, r.channel]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    return tr;
  }));
  $("#drill").scrollIntoView({ behavior: "smooth" });
}

async function load() {
  $("#error").textContent = "";
  $("#export-csv").href = `/desk/api/reports/orders.csv?${query()}`;
  $("#export-xlsx").href = `/desk/api/reports/orders.xlsx?${query()}`;
  const data = {};
  await Promise.all(CHARTS.map(async (n) => { data[n] = await get(`/desk/api/reports/chart?${query({ chart: n })}`); }));
  const c = data.conversations;
  $("#rates").textContent = `共 ${c.total} 个会话 · 自助解决 ${pct(c.containment_rate)} · 转人工 ${pct(c.handoff_rate)} · 未识别消息 ${pct(c.fallback_rate)}`;
  stacked("conversations", c.days, c.series, { contained: "自助解决", handed_off: "转人工" });
  chart("handoffs").setOption({
    tooltip: { trigger: "item" }, legend: { bottom: 0 },
    series: [{ type: "pie", radius: ["35%", "65%"],
      data: Object.entries(data.handoffs.reasons).map(([k, v]) => ({ name: REASONS[k] || k, value: v })) }],
  }, true);
  const statuses = Object.keys(data.orders.statuses);
  bars("orders", statuses.map((s) => STATUS[s] || s), Object.values(data.orders.statuses),
    (i) => drill(`状态：${STATUS[statuses[i]] || statuses[i]}`, { status: statuses[i] }), "#1a5fb4");
  drawLoad(data.load.stations);
  const top = data.faults.top;
  chart("faults").setOption({
    tooltip: { trigger: "axis" }, grid: { left: 48, right: 48, top: 16, bottom: 64 },
    xAxis: { type: "category", data: top.map((t) => `${t.model}·${t.fault}`), axisLabel: { rotate: 40 } },
    yAxis: [{ type: "value" }, { type: "value", max: 100, axisLabel: { formatter: "{value}%" } }],
    series: [{ type: "bar", data: top.map((t) => t.count), itemStyle: { color: "#c64600" } },
      { type: "line", yAxisIndex: 1, data: top.map((t) => Math.round(t.cumulative * 1000) / 10) }],
  }, true);
  chart("faults").off("click");
  chart("faults").on("click", (p) => {
    const t = top[p.dataIndex];
    drill(`故障：${t.model} · ${t.fault}`, { model: t.model, fault: t.fault });
  });
  $("#models").replaceChildren(...[...new Set(top.map((t) => t.model))].map((m) => {
    const o = document.createElement("option"); o.value = m; return o;
  }));
  $("#sla-rate").textContent = `72 小时内完结 ${pct(data.sla.within_rate)}`;
  stacked("sla", data.sla.days, data.sla.series, SLA);
  stacked("alerts", data.alerts.days, data.alerts.series, { cusum: "故障上升", new_fault: "新故障" });
  drawLoop(data);
  document.body.dataset.loaded = String(Date.now());
}

// Station load (orders against capacity) with the on-site on-time share; a bar opens its orders.
function drawLoad(stations) {
  chart("load").setOption({
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 48, top: 32, bottom: 48 },
    xAxis: { type: "category", data: stations.map((s) => s.code), axisLabel: { rotate: stations.length > 6 ? 30 : 0 } },
    yAxis: [{ type: "value", axisLabel: { formatter: "{value}%" } }, { type: "value", max: 100, axisLabel: { formatter: "{value}%" } }],
    series: [
      { name: "负荷（工单/产能）", type: "bar", data: stations.map((s) => s.load == null ? 0 : Math.round(s.load * 1000) / 10), itemStyle: { color: "#26a269" } },
      { name: "上门准时率", type: "line", yAxisIndex: 1, data: stations.map((s) => s.on_time_rate == null ? null : Math.round(s.on_time_rate * 1000) / 10) },
    ],
  }, true);
  chart("load").off("click");
  chart("load").on("click", (p) => drill(`网点：${stations[p.dataIndex].code} ${stations[p.dataIndex].name}`, { station: stations[p.dataIndex].code }));
  $("#load-note").textContent = stations.length ? `工单最多的 ${stations.length} 个网点` : "";
}

// The after-sales loop: CSAT with the response rate, 回访 outcomes, on-site SLA by city tier.
function drawLoop(data) {
  const c = data.csat;
  $("#csat-rate").textContent = `调查 ${c.surveyed} 单 · 回复率 ${pct(c.response_rate)} · 满意（4-5 分）${pct(c.csat)}`;
  const scores = CSAT_ORDER;
  bars("csat", scores.map((k) => CSAT[k]), scores.map((k) => c.counts[k] || 0),
    (i) => { if (scores[i] !== "no_answer") drill(`评分：${scores[i]} 分`, { rating: scores[i] }); }, "#e5a50a");
  const f = data.followups;
  $("#followup-rate").textContent = `回访 ${f.total} 单 · 解决 ${pct(f.solved_rate)} · 复发 ${pct(f.recurred_rate)}`;
  chart("followups").setOption({
    tooltip: { trigger: "item" }, legend: { bottom: 0 },
    series: [{ type: "pie", radius: ["35%", "65%"],
      data: Object.keys(FOLLOWUP).map((k) => ({ name: FOLLOWUP[k], value: f.counts[k] || 0 })) }],
  }, true);
  const o = data.onsite;
  $("#onsite-rate").textContent = `准时率 ${pct(o.on_time_rate)}（${o.tiers.map((t) => `${t.tier} 级 ${pct(t.on_time_rate)}`).join(" · ")}）`;
  chart("onsite").setOption({
    tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 16, top: 32, bottom: 32 },
    xAxis: { type: "category", data: o.tiers.map((t) => `${t.tier} 级城市`) }, yAxis: { type: "value", minInterval: 1 },
    series: Object.keys(ONSITE).map((k) => ({ name: ONSITE[k], type: "bar", stack: "all", data: o.tiers.map((t) => t.counts[k]) })),
  }, true);
  chart("onsite").off("click");
  chart("onsite").on("click", (p) => drill(`上门工单：${o.tiers[p.dataIndex].tier} 级城市`, { kind: "on_site", tier: o.tiers[p.dataIndex].tier }));
}

function fill(select, items) {
  select.append(...items.map(([value, label]) => {
    const o = document.createElement("option"); o.value = value; o.textContent = label; return o;
  }));
}

$("#filters").addEventListener("submit", (event) => {
  event.preventDefault();
  filters = Object.fromEntries(new FormData(event.target).entries());
  load().catch((e) => { $("#error").textContent = e.message; });
});

get("/desk/api/me").then(async (me) => {
  $("#me").textContent = me.display_name;
  const period = await get("/desk/api/reports/period");
  const options = await get("/desk/api/reports/options");
  const form = $("#filters").elements;
  fill(form.category, options.categories.map((c) => [c.code, c.name]));
  fill(form.region, options.regions.map((r) => [r, r]));
  fill(form.channel, options.channels.map((c) => [c.code, c.name]));
  $("#filters").elements.from.value = period.from;
  $("#filters").elements.to.value = period.to;
  filters = { from: period.from, to: period.to };
  return load();
}).catch((e) => { $("#error").textContent = e.message; });
// Today's figures move as the rollups refresh (every 30 s): follow them.
setInterval(() => { if (filters.from) load().catch(() => {}); }, 60000);
