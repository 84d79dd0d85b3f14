/*
 * The web chat page: a socket.io client of the Rasa "webchat" channel (connectors/webchat.py).
 *
 * Session: the backend signs a random session id into a token (POST api/chat/sessions); the
 * token is kept in localStorage and renewed on every load, so a reload or a reconnect keeps
 * the conversation. On each connect the transcript is fetched again, which also brings the
 * messages (an agent's reply, say) that arrived while the page was closed or offline.
 *
 * A notice of the outbox (a repair's progress, the survey) carries `notice_key`: a worker that
 * crashed after sending one sends it again, so the page shows each key once, and remembers the
 * keys it has shown in localStorage so that a repeat arriving after a reload is dropped too.
 *
 * Everything the bot or the customer wrote is put into the page as text nodes, never as HTML.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "xingchen-webchat-token";
  var NOTICES_KEY = "xingchen-webchat-notices";
  var NOTICES_KEPT = 200; // the newest keys are enough: a repeat comes minutes after the first
  // The channel apologises after 20 s (CHANNEL_REPLY_TIMEOUT); this notice covers the case
  // where even that cannot reach the page (network, server down).
  var NOTICE_AFTER_MS = 25000;
  var RENEW_EVERY_MS = 6 * 3600 * 1000;
  var TOKEN_ERRORS = ["token_missing", "token_invalid", "token_expired"];
  var URL_PATTERN = /https?:\/\/[^\s<>"'“”‘’，。！？；：、（）《》【】]+/g;

  var log = document.getElementById("log");
  var empty = document.getElementById("empty");
  var statusLine = document.getElementById("status");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var closeButton = document.getElementById("close");

  var state = {
    token: null,
    socketUrl: null,
    socket: null,
    loaded: false, // the first transcript is on the page
    loading: false,
    buffered: [], // live messages that arrived while a transcript was loading
    historyStamps: new Set(), // ts of bot messages that came with a transcript
    shownStamps: new Set(), // ts of every bot message on the page
    notices: new Set(), // notice_key of every notice this browser has shown (kept in storage)
    pageNotices: new Set(), // notice_key of the notices on the page now
    noticeTimer: null,
    typing: null,
    composing: false,
  };

  // --- storage: localStorage may be blocked (private mode, third-party frame) -------------

  var memory = {};
  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) {
      memory[key] = value;
    }
  }

  // --- notices shown once --------------------------------------------------------------

  function loadNotices() {
    try {
      var kept = JSON.parse(load(NOTICES_KEY) || "[]");
      if (Array.isArray(kept)) kept.forEach(function (key) { state.notices.add(String(key)); });
    } catch (e) {
      // Unreadable storage: start afresh; the transcript still shows each notice once.
    }
  }

  // True when the message is a notice already shown; otherwise it is recorded as shown.
  // `live`: a repeat counts when shown before a reload too; the transcript renders each of its
  // notices once (the page is empty when it is first loaded).
  function repeatedNotice(message, live) {
    var key = message.notice_key;
    if (typeof key !== "string" || !key) return false;
    if (state.pageNotices.has(key) || (live && state.notices.has(key))) return true;
    state.pageNotices.add(key);
    state.notices.add(key);
    var keys = Array.from(state.notices).slice(-NOTICES_KEPT);
    state.notices = new Set(keys);
    save(NOTICES_KEY, JSON.stringify(keys));
    return false;
  }

  // --- the transcript --------------------------------------------------------------------

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function append(node) {
    if (empty && empty.parentNode) empty.remove();
    if (state.typing && state.typing.parentNode) log.insertBefore(node, state.typing);
    else log.appendChild(node);
    scrollDown();
    return node;
  }

  // Text with its http(s) links made clickable; everything else stays plain text.
  function addText(parent, text) {
    var last = 0;
    String(text).replace(URL_PATTERN, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]]+$/, "");
      parent.appendChild(document.createTextNode(text.slice(last, offset)));
      var link = document.createElement("a");
      link.href = url;
      link.textContent = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      parent.appendChild(link);
      last = offset + url.length;
      return match;
    });
    parent.appendChild(document.createTextNode(String(text).slice(last)));
  }

  function safeImageUrl(value) {
    if (typeof value !== "string") return null;
    try {
      var url = new URL(value, document.baseURI);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function addImage(parent, src) {
    var url = safeImageUrl(src);
    if (!url) return;
    var img = document.createElement("img");
    img.className = "picture";
    img.alt = "图片";
    img.src = url;
    img.addEventListener("load", scrollDown);
    img.addEventListener("error", function () {
      var broken = document.createElement("span");
      broken.textContent = "[图片无法显示]";
      img.replaceWith(broken);
    });
    parent.appendChild(img);
  }

  // Buttons answer the question they came with: once the conversation moves on (the customer
  // writes or clicks, or a person takes over) the earlier ones no longer apply.
  function retireChoices() {
    log.querySelectorAll(".choices:not(.used)").forEach(function (group) {
      group.classList.add("used");
    });
    log.querySelectorAll(".choices button:not([disabled])").forEach(function (button) {
      button.disabled = true;
    });
  }

  // "10:05" for today, "11月20日 10:05" before; `seconds` since the epoch (a Rasa timestamp).
  function addTime(item, seconds) {
    var when = typeof seconds === "number" ? new Date(seconds * 1000) : new Date();
    var now = new Date();
    var time = document.createElement("time");
    time.className = "time";
    time.dateTime = when.toISOString();
    var clock = String(when.getHours()).padStart(2, "0") + ":" + String(when.getMinutes()).padStart(2, "0");
    time.textContent = when.toDateString() === now.toDateString() ? clock
      : (when.getMonth() + 1) + "月" + when.getDate() + "日 " + clock;
    item.appendChild(time);
  }

  function addChoices(parent, choices, kind) {
    var list = (choices || []).filter(function (c) { return c && c.title; });
    if (!list.length) return;
    var group = document.createElement("div");
    group.className = "choices " + kind;
    list.forEach(function (choice) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = choice.title;
      button.addEventListener("click", function () {
        if (group.classList.contains("used")) return;
        group.classList.add("used");
        button.classList.add("chosen");
        send(String(choice.payload || choice.title), String(choice.title));
      });
      group.appendChild(button);
    });
    parent.appendChild(group);
  }

  // What a card may use of the page: the session's token (the rating is posted with it) and
  // the storage (a rating survives a reload).
  function cardContext(message) {
    return {
      ts: message.ts,
      token: function () { return state.token; },
      load: load,
      save: save,
    };
  }

  function renderBot(message) {
    var item = document.createElement("div");
    item.className = "msg bot";
    if (typeof message.agent === "string" && message.agent) {
      // A person answers from here on: the bot's earlier offers are over.
      retireChoices();
      if (message.event === "agent_joined") notice("人工客服 " + message.agent + " 已接入");
      item.classList.add("from-agent");
      var label = document.createElement("span");
      label.className = "agent";
      label.textContent = "人工客服 " + message.agent;
      item.appendChild(label);
    }
    // A card (chat-cards.js) from the message's `custom` payload; a result card stands
    // instead of the text that says the same.
    var card = message.custom && window.XingchenCards
      ? window.XingchenCards.render(message.custom, cardContext(message)) : null;
    if (card && card.dataset.replacesText) {
      item.appendChild(card);
    } else if (message.text) {
      var bubble = document.createElement("div");
      bubble.className = "bubble";
      addText(bubble, message.text);
      item.appendChild(bubble);
    }
    if (card && !card.dataset.replacesText) item.appendChild(card);
    if (message.image) addImage(item, message.image);
    var attachment = message.attachment;
    if (attachment && typeof attachment === "object") {
      var payload = attachment.payload || {};
      if (attachment.type === "image") addImage(item, payload.src || payload.url);
      else if (safeImageUrl(payload.src || payload.url)) {
        var file = document.createElement("div");
        file.className = "bubble";
        addText(file, payload.src || payload.url);
        item.appendChild(file);
      }
    }
    // A photo or file an agent sent (chat-upload.js draws it; opened with the chat token).
    if (message.file && typeof message.file === "object" && window.xingchenFiles) {
      item.appendChild(window.xingchenFiles.node(message.file));
    }
    (Array.isArray(message.elements) ? message.elements : []).forEach(function (element) {
      if (!element || typeof element !== "object") return;
      var card = document.createElement("div");
      card.className = "card";
      if (element.title) {
        var title = document.createElement("strong");
        addText(title, element.title);
        card.appendChild(title);
      }
      if (element.subtitle) {
        var subtitle = document.createElement("span");
        addText(subtitle, element.subtitle);
        card.appendChild(subtitle);
      }
      if (element.image_url) addImage(card, element.image_url);
      addChoices(card, element.buttons, "buttons");
      item.appendChild(card);
    });
    addChoices(item, message.buttons, "buttons");
    addChoices(item, message.quick_replies, "quick-replies");
    if (!item.querySelector(".bubble, img, .card, .choices, .file")) return null;
    addTime(item, message.ts);
    return append(item);
  }

  function renderUser(text, seconds, file) {
    var item = document.createElement("div");
    item.className = "msg user";
    if (file && typeof file === "object" && window.xingchenFiles) {
      item.appendChild(window.xingchenFiles.node(file));
    } else {
      var bubble = document.createElement("div");
      bubble.className = "bubble";
      bubble.textContent = text;
      item.appendChild(bubble);
    }
    addTime(item, seconds);
    return append(item);
  }

  function notice(text) {
    var line = document.createElement("p");
    line.className = "notice";
    line.textContent = text;
    return append(line);
  }

  function setStatus(stateName, text) {
    statusLine.dataset.state = stateName;
    statusLine.textContent = text;
  }

  // --- waiting for an answer ---------------------------------------------------------------

  function startWaiting() {
    if (!state.typing) {
      state.typing = document.createElement("div");
      state.typing.className = "typing";
      state.typing.setAttribute("aria-label", "小星正在输入");
      for (var i = 0; i < 3; i++) state.typing.appendChild(document.createElement("span"));
    }
    log.appendChild(state.typing);
    scrollDown();
    clearTimeout(state.noticeTimer);
    state.noticeTimer = setTimeout(function () {
      stopWaiting();
      notice("回复有点慢，我们仍在处理您的消息，请稍候。长时间没有回复的话，可以刷新页面或稍后再试。");
    }, NOTICE_AFTER_MS);
  }

  function stopWaiting() {
    clearTimeout(state.noticeTimer);
    state.noticeTimer = null;
    if (state.typing && state.typing.parentNode) state.typing.remove();
  }

  // --- messages from the server ---------------------------------------------------------------

  function onBotMessage(message) {
    if (!message || typeof message !== "object") return;
    if (state.loading) {
      state.buffered.push(message);
      return;
    }
    showLive(message);
  }

  function showLive(message) {
    // Already on the page from the transcript that was loaded when the socket (re)connected.
    if (typeof message.ts === "number" && state.historyStamps.has(message.ts)) return;
    if (repeatedNotice(message, true)) return;
    if (typeof message.ts === "number") state.shownStamps.add(message.ts);
    stopWaiting();
    renderBot(message);
  }

  function loadHistory() {
    state.loading = true;
    return fetch(state.socketUrl + "/webhooks/webchat/history", {
      headers: { Authorization: "Bearer " + state.token },
      cache: "no-store",
    })
      .then(function (reply) {
        if (!reply.ok) throw new Error("history " + reply.status);
        return reply.json();
      })
      .then(function (body) {
        (body.messages || []).forEach(function (message) {
          var stamp = typeof message.ts === "number" ? message.ts : null;
          if (message.sender === "bot") {
            if (stamp !== null) state.historyStamps.add(stamp);
            // After a reconnect only what was missed is added; the rest is on the page.
            if (stamp !== null && state.shownStamps.has(stamp)) return;
            if (repeatedNotice(message, false)) return;
            if (stamp !== null) state.shownStamps.add(stamp);
            if (state.loaded) stopWaiting();
            renderBot(message);
          } else if (!state.loaded && message.text) {
            retireChoices();
            renderUser(message.text, message.ts, message.file);
          }
        });
        state.loaded = true;
      })
      .catch(function () {
        // The live socket still works; the transcript comes with the next connect.
      })
      .then(function () {
        state.loading = false;
        var buffered = state.buffered;
        state.buffered = [];
        buffered.forEach(showLive);
      });
  }

  // --- sending -------------------------------------------------------------------------

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // `display` is what the customer sees as their bubble (a button's title for its payload);
  // `file` a photo or file already uploaded (chat-upload.js), which no reply waits for.
  function send(text, display, file) {
    if (!state.socket || !text.trim()) return false;
    retireChoices();
    var bubble = renderUser(display || text, undefined, file);
    bubble.classList.add("pending");
    var data = { message: text, message_id: newId() };
    if (display && display !== text) data.metadata = { display: display };
    if (file) data.metadata = { display: display || text, attachment: file };
    if (!file) startWaiting();
    // With `retries` the client resends until the server acknowledges, also across a
    // reconnect; the message_id lets the server drop a repeat.
    state.socket.emit("user_uttered", data, function (error, ack) {
      bubble.classList.remove("pending");
      if (error) {
        bubble.classList.add("failed");
        stopWaiting();
        notice("这条消息没有发送成功，请检查网络后重新发送。");
      } else if (ack && ack.status === "refused" && ack.error !== "too_long") {
        bubble.classList.add("failed");
        stopWaiting();
        notice("这条消息无法发送，请修改后重试。");
      }
    });
    return true;
  }

  // The first screen's common tasks and the header's "转人工": a payload, shown as its title.
  document.querySelectorAll("[data-payload]").forEach(function (button) {
    button.addEventListener("click", function () {
      send(button.dataset.payload, button.textContent.trim());
    });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!send(input.value.trim())) return;
    input.value = "";
    grow();
  });

  // Enter sends, Shift+Enter is a new line. While an input method is composing (pinyin and
  // the like), Enter picks the candidate and must not send: `isComposing`, our own flag, and
  // keyCode 229 (Safari ends the composition before the Enter keydown arrives) all say so.
  input.addEventListener("compositionstart", function () { state.composing = true; });
  input.addEventListener("compositionend", function () { state.composing = false; });
  input.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey) return;
    if (event.isComposing || state.composing || event.keyCode === 229) return;
    event.preventDefault();
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.dispatchEvent(new Event("submit", { cancelable: true }));
  });

  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 132) + "px";
  }
  input.addEventListener("input", grow);

  // --- session and socket -----------------------------------------------------------------

  function requestSession(token) {
    var headers = token ? { Authorization: "Bearer " + token } : {};
    return fetch("api/chat/sessions", { method: "POST", headers: headers, cache: "no-store" })
      .then(function (reply) {
        return reply.json().then(function (body) { return { status: reply.status, body: body }; });
      });
  }

  // The stored session renewed, or a new one (with a notice when the stored one had expired).
  function obtainSession() {
    var stored = load(TOKEN_KEY);
    var renewal = stored ? requestSession(stored) : Promise.resolve(null);
    return renewal.then(function (reply) {
      if (reply && reply.status === 200) return reply.body;
      if (reply && reply.status !== 401) throw reply;
      if (reply) notice("之前的会话已过期，已为您开始新的对话。");
      return requestSession(null).then(function (fresh) {
        if (fresh.status !== 201) throw fresh;
        return fresh.body;
      });
    }).then(function (session) {
      state.token = session.token;
      save(TOKEN_KEY, session.token);
      var defaultUrl = location.protocol + "//" + location.hostname + ":5005";
      state.socketUrl = (session.socket_url || defaultUrl).replace(/\/+$/, "");
      return session;
    });
  }

  function connect() {
    var socket = window.io(state.socketUrl, {
      path: "/socket.io",
      // WebSocket first (no CORS round trip); long polling when a proxy blocks WebSocket.
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      auth: function (callback) { callback({ token: state.token }); },
      retries: 5,
      ackTimeout: 10000,
    });
    state.socket = socket;
    sendButton.disabled = false;
    document.dispatchEvent(new CustomEvent("chat:socket", { detail: socket }));
    socket.on("connect", function () {
      setStatus("online", "在线");
      loadHistory();
    });
    socket.on("disconnect", function (reason) {
      setStatus("reconnecting", "重新连接中…");
      // The server closed this socket on purpose: socket.io does not come back by itself.
      if (reason === "io server disconnect") socket.connect();
    });
    socket.io.on("reconnect_attempt", function () { setStatus("reconnecting", "重新连接中…"); });
    socket.on("connect_error", function (error) {
      if (socket.active) {
        setStatus("reconnecting", "重新连接中…");
        return;
      }
      var code = error && error.message;
      if (TOKEN_ERRORS.indexOf(code) >= 0) {
        // The token no longer opens the session (expired while the page slept): start again.
        save(TOKEN_KEY, null);
        obtainSession().then(function () { socket.connect(); }, unavailable);
      } else {
        unavailable();
      }
    });
    socket.on("bot_uttered", onBotMessage);
  }

  function renewLater() {
    setTimeout(function () {
      requestSession(state.token).then(function (reply) {
        if (reply.status === 200) {
          state.token = reply.body.token;
          save(TOKEN_KEY, reply.body.token);
        }
      }, function () {}).then(renewLater);
    }, RENEW_EVERY_MS);
  }

  function unavailable() {
    setStatus("unavailable", "暂不可用");
    notice("在线客服暂时无法使用，请稍后刷新页面再试。");
  }

  // Inside the embed script's frame: a close button that asks the host page to hide us.
  if (window.parent !== window && /(^|[?&])embed=1(&|$)/.test(location.search)) {
    closeButton.hidden = false;
    closeButton.addEventListener("click", function () {
      window.parent.postMessage({ type: "xingchen-webchat:close" }, "*");
    });
  }

  // For chat-upload.js: the session's token, sending, and notices.
  window.xingchenChat = {
    token: function () { return state.token; },
    send: send,
    notice: notice,
    scrollDown: scrollDown,
  };

  loadNotices();
  setStatus("connecting", "连接中…");
  sendButton.disabled = true;
  obtainSession().then(function () {
    connect();
    renewLater();
  }, unavailable);
})();
