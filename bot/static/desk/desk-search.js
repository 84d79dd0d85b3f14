// Finding a conversation again (POST /desk/api/search, closed ones too) and reopening a closed
// one: back in the queue, or held by the agent at once. "F" or Ctrl+K opens the search (listed
// on the page's shortcut help). Uses desk.js's globals ($, el, api, open, act, selected, me).
"use strict";

const SEARCH_PAGE = 20;
const SEARCH_STATUS = { waiting: "排队中", assigned: "处理中", closed: "已结束" };
let searchOffset = 0;
let searchStaffLoaded = false;

function options(select, entries) {
  select.replaceChildren(el("option", { value: "" }, "全部"),
    ...entries.map(([value, label]) => el("option", { value }, label)));
  return select;
}

function labelled(text, control) {
  return el("label", {}, text, control);
}

function searchDialog() {
  let dialog = $("#search");
  if (dialog) return dialog;
  const form = el("form", { id: "search-form", method: "dialog", class: "search-form" },
    labelled("查找", el("input", { id: "search-q", name: "q", type: "search", maxlength: "100",
      placeholder: "手机号、序列号、工单号、转接编号或文字" })),
    labelled("状态", options(el("select", { name: "status" }), Object.entries(SEARCH_STATUS))),
    labelled("渠道", options(el("select", { name: "channel" }),
      [["webchat", "网页"], ["telegram", "Telegram"], ["rest", "接口"]])),
    labelled("原因", options(el("select", { name: "reason" }), Object.entries(REASONS))),
    labelled("客服", options(el("select", { name: "agent", id: "search-agent" }), [])),
    labelled("从", el("input", { name: "since", type: "date" })),
    labelled("到", el("input", { name: "until", type: "date" })),
    el("button", { type: "submit", class: "primary" }, "查找"));
  dialog = el("dialog", { id: "search", "aria-labelledby": "search-title" },
    el("div", { class: "search-head" }, el("h2", { id: "search-title" }, "查找会话"),
      el("button", { type: "button", id: "search-close", class: "link" }, "关闭")),
    form,
    el("p", { id: "search-summary", role: "status" }),
    el("p", { id: "search-error", class: "error", role: "alert" }),
    el("ul", { id: "search-results" }),
    el("div", { class: "search-pages" },
      el("button", { type: "button", id: "search-prev" }, "上一页"),
      el("button", { type: "button", id: "search-next" }, "下一页")));
  document.body.append(dialog);
  form.addEventListener("submit", (event) => { event.preventDefault(); searchOffset = 0; runSearch(); });
  $("#search-close").addEventListener("click", () => dialog.close());
  $("#search-prev").addEventListener("click", () => { searchOffset = Math.max(0, searchOffset - SEARCH_PAGE); runSearch(); });
  $("#search-next").addEventListener("click", () => { searchOffset += SEARCH_PAGE; runSearch(); });
  $("#search-prev").disabled = $("#search-next").disabled = true;
  return dialog;
}

async function openSearch() {
  const dialog = searchDialog();
  if (!searchStaffLoaded) {
    const staff = await api("GET", "/desk/api/staff").catch(() => []);
    options($("#search-agent"), staff.map((s) => [String(s.id), s.display_name]));
    searchStaffLoaded = true;
  }
  if (!dialog.open) dialog.showModal();
  $("#search-q").focus();
  $("#search-q").select();
}

function resultItem(found) {
  const item = found.handoff;
  const p = item.package || {};
  const holder = item.holder ? `（${item.holder}）` : "";
  const button = el("button", { type: "button", class: "open", "data-id": item.id },
    el("span", {}, el("b", {}, item.id), ` · ${REASONS[item.reason] || item.reason} · `
      + `${CHANNELS[item.channel] || item.channel} · ${SEARCH_STATUS[item.status] || item.status}${holder}`),
    el("span", { class: "summary" }, (p.fault || p.last_message || "").slice(0, 60)),
    el("span", { class: "muted" }, `${String(item.created_at).slice(0, 16).replace("T", " ")}`
      + (item.callback_phone ? ` · 回电 ${item.callback_phone}` : "")
      + (p.contact ? ` · ${p.contact}` : "")),
    found.match ? el("span", { class: "muted" }, `匹配：${found.match}`) : null);
  button.addEventListener("click", () => { $("#search").close(); open(item.id); });
  return el("li", { class: `item ${item.reason}` }, button);
}

async function runSearch() {
  const form = Object.fromEntries([...new FormData($("#search-form"))].filter(([, v]) => v !== ""));
  if (form.agent) form.agent = Number(form.agent);
  $("#search-error").textContent = "";
  try {
    const found = await api("POST", "/desk/api/search", { ...form, limit: SEARCH_PAGE, offset: searchOffset });
    const last = Math.min(found.total, found.offset + found.results.length);
    $("#search-summary").textContent = found.total
      ? `共 ${found.total} 条，显示第 ${found.offset + 1}–${last} 条` : "没有找到会话";
    $("#search-results").replaceChildren(...found.results.map(resultItem));
    $("#search-prev").disabled = found.offset === 0;
    $("#search-next").disabled = last >= found.total;
  } catch (error) {
    $("#search-error").textContent = error.message === "give the whole phone number"
      ? "请输入完整的电话号码" : error.message;
  }
}

// --- reopening a closed conversation ---------------------------------------------------------

function reopenBox() {
  let box = $("#reopen");
  if (box) return box;
  box = el("fieldset", { id: "reopen" }, el("legend", {}, "重新打开"),
    el("button", { type: "button", id: "reopen-hold", class: "primary" }, "重新打开并接手"),
    el("button", { type: "button", id: "reopen-queue" }, "放回排队"));
  $("#actions").prepend(box);
  const reopen = (mode) => act(api("POST", `/desk/api/handoffs/${selected.id}/reopen`, { mode }));
  $("#reopen-hold").addEventListener("click", () => reopen("hold"));
  $("#reopen-queue").addEventListener("click", () => reopen("queue"));
  return box;
}

document.addEventListener("desk:selected", (event) => {
  const item = event.detail;
  // Who may: a supervisor, or the agent who held it last (the server checks again).
  reopenBox().hidden = !(item && item.status === "closed"
    && (isBoss() || item.holder_id === me.id));
});

// --- the header button and the shortcut ------------------------------------------------------

(function addSearchButton() {
  const button = el("button", { type: "button", id: "search-open", class: "link",
    "aria-keyshortcuts": "F Control+K" }, "查找会话");
  button.addEventListener("click", openSearch);
  $("#keys").before(button);
})();

document.addEventListener("keydown", (event) => {
  if (!me || event.isComposing) return;
  const ctrlK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k";
  const plainF = !event.ctrlKey && !event.metaKey && !event.altKey && event.key.toLowerCase() === "f"
    && !event.target.closest("input, textarea, select, [contenteditable]");
  if (ctrlK || plainF) { event.preventDefault(); openSearch(); }
});
