/*
 * Photos and files in the web chat, and typing indicators both ways (issue 16); uses chat.js's
 * `window.xingchenChat`.
 *
 * A photo from the camera or the gallery (or a PDF) is uploaded to the backend with the chat
 * token (POST api/chat/attachments), then announced on the socket as a message whose metadata
 * names it, so the agent sees it in the transcript. Files are shown by fetching them with the
 * token (an <img src> could not send it) into blob: URLs; nothing is ever put in as HTML.
 */
(function () {
  "use strict";

  var MAX_BYTES = 10 * 1024 * 1024; // the backend's default BOT_ATTACHMENT_MAX_BYTES
  var TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"];
  var TYPING_EVERY_MS = 2500;
  var AGENT_TYPING_SHOWN_MS = 5000;

  var chat = window.xingchenChat;
  var form = document.getElementById("composer");
  var input = document.getElementById("input");

  function authorized() {
    return { Authorization: "Bearer " + chat.token() };
  }

  function size(bytes) {
    return bytes < 1024 * 1024 ? Math.max(1, Math.round(bytes / 1024)) + " KB"
      : (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  // --- showing a photo or file ----------------------------------------------------------------

  function fetchBlob(file) {
    return fetch("api/chat/attachments/" + encodeURIComponent(file.id), {
      headers: authorized(), cache: "no-store",
    }).then(function (reply) {
      if (!reply.ok) throw new Error("file " + reply.status);
      return reply.blob();
    });
  }

  // `local`: the File just picked, shown at once without a round trip.
  function node(file, local) {
    var box = document.createElement("div");
    box.className = "file";
    if (file.image) {
      var img = document.createElement("img");
      img.className = "picture attachment";
      img.alt = "图片：" + file.name;
      img.addEventListener("load", chat.scrollDown);
      var show = function (blob) { img.src = URL.createObjectURL(blob); };
      if (local) show(local);
      else fetchBlob(file).then(show, function () { box.textContent = "[图片无法显示] " + file.name; });
      box.appendChild(img);
    } else {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "download";
      button.textContent = "文件：" + file.name + "（" + size(file.size) + "）";
      button.addEventListener("click", function () {
        fetchBlob(file).then(function (blob) {
          var link = document.createElement("a");
          link.href = URL.createObjectURL(blob);
          link.download = file.name;
          link.click();
        }, function () { chat.notice("文件暂时无法下载，请稍后再试。"); });
      });
      box.appendChild(button);
    }
    return box;
  }

  var picked = null; // the File being sent, so its own bubble shows it without a download
  window.xingchenFiles = {
    node: function (file) {
      var local = picked && picked.name === file.name ? picked.blob : null;
      return node(file, local);
    },
  };

  // --- sending one ----------------------------------------------------------------------------------

  function upload(file) {
    if (!file) return;
    if (TYPES.indexOf(file.type) < 0) {
      chat.notice("只能发送照片（JPG、PNG、GIF、WebP）或 PDF 文件。");
      return;
    }
    if (file.size > MAX_BYTES) {
      chat.notice("文件太大了，请发送 10 MB 以内的照片或文件。");
      return;
    }
    var busy = chat.notice("正在发送" + (file.type === "application/pdf" ? "文件" : "图片") + "…");
    fetch("api/chat/attachments?name=" + encodeURIComponent(file.name || "photo.jpg"), {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/octet-stream" }, authorized()),
      body: file,
    }).then(function (reply) {
      return reply.json().then(function (body) { return { ok: reply.ok, status: reply.status, body: body }; });
    }).then(function (reply) {
      busy.remove();
      if (!reply.ok) {
        var code = reply.body && reply.body.error && reply.body.error.code;
        chat.notice(code === "file_too_large" ? "文件太大了，请发送 10 MB 以内的照片或文件。"
          : code === "unsupported_file_type" ? "只能发送照片（JPG、PNG、GIF、WebP）或 PDF 文件。"
          : "图片没有发送成功，请稍后重试。");
        return;
      }
      var sent = reply.body;
      picked = { name: sent.name, blob: file };
      var label = (sent.image ? "[图片] " : "[文件] ") + sent.name;
      chat.send(label, label, sent);
      picked = null;
    }, function () {
      busy.remove();
      chat.notice("图片没有发送成功，请检查网络后重试。");
    });
  }

  function picker(id, label, accept, capture) {
    var field = document.createElement("input");
    field.type = "file";
    field.id = id;
    field.accept = accept;
    if (capture) field.setAttribute("capture", "environment");
    field.className = "visually-hidden";
    field.addEventListener("change", function () {
      var file = field.files && field.files[0];
      field.value = "";
      upload(file);
    });
    // The field inside its label: a tap opens the picker, and the label shows the focus.
    var button = document.createElement("label");
    button.className = "attach";
    button.appendChild(document.createTextNode(label));
    button.appendChild(field);
    form.insertBefore(button, input);
  }

  picker("photo-camera", "拍照", "image/*", true);
  picker("photo-file", "图片", "image/*,application/pdf", false);

  // --- typing, both ways ---------------------------------------------------------------------------

  // At most one signal every TYPING_EVERY_MS; typing within that time is said at its end
  // rather than dropped (one change, such as a paste, soon after the last message would
  // otherwise never be signalled: nothing else comes to send it).
  var lastSignal = 0;
  var pendingSignal = null;

  function signalTyping() {
    pendingSignal = null;
    if (!input.value.trim() || !chat.token()) return;
    var wait = lastSignal + TYPING_EVERY_MS - Date.now();
    if (wait > 0) {
      pendingSignal = setTimeout(signalTyping, wait);
      return;
    }
    lastSignal = Date.now();
    fetch("api/chat/typing", { method: "POST", headers: authorized() }).catch(function () {});
  }

  input.addEventListener("input", function () {
    if (pendingSignal === null) signalTyping();
  });

  var agentTyping = document.createElement("p");
  agentTyping.className = "agent-typing";
  agentTyping.id = "agent-typing";
  agentTyping.setAttribute("role", "status");
  form.parentNode.insertBefore(agentTyping, form);
  var hideTimer = null;

  function hide() {
    clearTimeout(hideTimer);
    agentTyping.textContent = "";
  }

  document.addEventListener("chat:socket", function (event) {
    var socket = event.detail;
    socket.on("agent_typing", function () {
      agentTyping.textContent = "客服正在输入…";
      clearTimeout(hideTimer);
      hideTimer = setTimeout(hide, AGENT_TYPING_SHOWN_MS);
    });
    socket.on("bot_uttered", hide);
  });
})();
