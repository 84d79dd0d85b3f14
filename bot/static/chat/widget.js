/*
 * 星辰科技 web chat for any site, with one tag:
 *   <script src="https://<chat host>/chat/widget.js" async></script>
 *
 * Adds a launcher button; the chat itself runs in an iframe of our page, so the host site's
 * CSS and scripts never touch it and it never touches theirs (styles here are inline, names
 * prefixed). The frame is created on the first click, so a page view costs no chat session.
 */
(function () {
  "use strict";
  if (window.__xingchenWebchat) return;
  window.__xingchenWebchat = true;

  var script = document.currentScript;
  if (!script || !script.src) return;
  // Where the chat is served, path prefix included (…/chat/widget.js → …/).
  var base = script.src.replace(/chat\/widget\.js(?:[?#].*)?$/, "");
  var origin = new URL(base).origin;
  var frame = null;
  var open = false;

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.id = "xingchen-webchat-launcher";
  launcher.setAttribute("aria-label", "在线客服");
  launcher.setAttribute("aria-expanded", "false");
  launcher.textContent = "在线客服";
  launcher.style.cssText = [
    "position:fixed", "right:20px", "bottom:20px", "z-index:2147483000",
    "height:48px", "padding:0 20px", "border:0", "border-radius:24px",
    "background:#1a5fd0", "color:#fff", "font:600 15px/48px sans-serif",
    "box-shadow:0 4px 14px rgba(0,0,0,.25)", "cursor:pointer",
  ].join(";");

  function place() {
    if (!frame) return;
    var phone = window.matchMedia("(max-width: 480px)").matches;
    frame.style.cssText = [
      "position:fixed", "z-index:2147483001", "border:0", "background:#f7f8fa",
      "display:" + (open ? "block" : "none"),
    ].concat(phone
      ? ["inset:0", "width:100%", "height:100%"]
      : ["right:20px", "bottom:80px", "width:380px", "height:min(640px, calc(100vh - 100px))",
         "border-radius:12px", "box-shadow:0 8px 30px rgba(0,0,0,.25)"]).join(";");
  }

  function toggle(show) {
    open = show;
    if (open && !frame) {
      frame = document.createElement("iframe");
      frame.id = "xingchen-webchat-frame";
      frame.title = "星辰科技在线客服";
      frame.src = base + "?embed=1";
      document.body.appendChild(frame);
    }
    launcher.setAttribute("aria-expanded", String(open));
    place();
  }

  launcher.addEventListener("click", function () { toggle(!open); });
  window.addEventListener("resize", place);
  // The close button inside the frame; only our own frame may ask.
  window.addEventListener("message", function (event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin) return;
    if (event.data && event.data.type === "xingchen-webchat:close") toggle(false);
  });

  function mount() { document.body.appendChild(launcher); }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
