/*
 * Cards on the web chat: a bot message's `custom` payload drawn as a card (actions/cards.py
 * builds them; the domain's goodbye after an agent carries the rating card).
 *
 *   verdict       the 三包 verdict: the remedies with their last days, the basis folded
 *   booking       the booking: the work-order id to copy, a tel: link, the map, a .ics file
 *   station       a station of the locator: call it, find it on the map
 *   agent_rating  one tap, 1 to 5, for the agent who just ended the conversation
 *
 * Every word on a card comes in the payload (`labels`, from domain.yml); this file holds no
 * customer-facing text. Like chat.js it puts text into the page as text nodes, never as HTML.
 * `window.XingchenCards.render(custom, context)` returns the card's element, or null for a
 * payload it does not know (chat.js then shows the message's text as usual).
 */
(function () {
  "use strict";

  var RATED_KEY = "xingchen-webchat-rated-";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function words(card, key) {
    var labels = card.labels && typeof card.labels === "object" ? card.labels : {};
    return typeof labels[key] === "string" ? labels[key] : "";
  }

  function safeUrl(value, protocols) {
    if (typeof value !== "string") return null;
    try {
      var url = new URL(value, document.baseURI);
      return protocols.indexOf(url.protocol) >= 0 ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(className, text, href, external) {
    var a = el("a", "card-action " + className, text);
    a.href = href;
    if (external) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  function telLink(card, phone) {
    var digits = String(phone || "").replace(/[^\d+]/g, "");
    return digits ? link("call", words(card, "call"), "tel:" + digits, false) : null;
  }

  function mapLink(card, href) {
    var url = safeUrl(href, ["https:"]);
    return url ? link("map", words(card, "map"), url, true) : null;
  }

  function field(label, value) {
    var row = el("div", "card-field");
    row.appendChild(el("span", "card-label", label));
    var shown = el("span", "card-value", value);
    row.appendChild(shown);
    return row;
  }

  function actions(list) {
    var row = el("div", "card-actions");
    list.forEach(function (node) { if (node) row.appendChild(node); });
    return row;
  }

  function shell(kind, title) {
    var card = el("section", "card result " + kind);
    if (title) card.appendChild(el("strong", "card-title", title));
    return card;
  }

  // --- the verdict -----------------------------------------------------------------------

  function verdict(data) {
    var card = shell("verdict", words(data, "verdict_title"));
    card.appendChild(el("p", "card-line", data.model_name + " · " + words(data, "serial") + " " + data.serial));
    if (data.main_parts_until && data.summary) card.appendChild(el("p", "card-line", data.summary));
    var remedies = Array.isArray(data.remedies) ? data.remedies : [];
    if (remedies.length) {
      card.appendChild(el("span", "card-label", words(data, "remedies")));
      var list = el("ul", "remedies");
      remedies.forEach(function (remedy) {
        var item = el("li", "remedy", remedy.text);
        if (remedy.until) item.dataset.until = remedy.until;
        list.appendChild(item);
      });
      card.appendChild(list);
    }
    var basis = Array.isArray(data.basis) ? data.basis : [];
    if (basis.length) {
      // Folded: the customer wants the verdict; the articles are there for who asks.
      var fold = el("details", "basis");
      fold.appendChild(el("summary", "", words(data, "basis")));
      basis.forEach(function (line) { fold.appendChild(el("p", "", line)); });
      card.appendChild(fold);
    }
    return card;
  }

  // --- the booking -----------------------------------------------------------------------

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Without the clipboard API (plain http on a LAN address): a selected textarea.
    return new Promise(function (resolve, reject) {
      var area = el("textarea", "offscreen");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var done = document.execCommand && document.execCommand("copy");
      area.remove();
      if (done) resolve(); else reject(new Error("copy"));
    });
  }

  // RFC 5545 text: backslash, comma, semicolon and newline escaped.
  function icsText(value) {
    return String(value || "").replace(/\\/g, "\\\\").replace(/;/g, "\\;").replace(/,/g, "\\,")
      .replace(/\r?\n/g, "\\n");
  }

  function icsTime(iso) {
    return new Date(iso).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  }

  function calendarFile(data) {
    var station = data.station || {};
    var lines = [
      "BEGIN:VCALENDAR",
      "VERSION:2.0",
      "PRODID:-//Xingchen//Webchat//ZH",
      "CALSCALE:GREGORIAN",
      "METHOD:PUBLISH",
      "BEGIN:VEVENT",
      "UID:" + icsText(data.work_order_id) + "@xingchen-service",
      "DTSTAMP:" + icsTime(new Date().toISOString()),
      "DTSTART:" + icsTime(data.starts_at),
      "DTEND:" + icsTime(data.ends_at || data.starts_at),
      "SUMMARY:" + icsText(words(data, "event")),
      "LOCATION:" + icsText(data.location),
      "DESCRIPTION:" + icsText([station.name, station.address, station.phone].join(" ")),
      "END:VEVENT",
      "END:VCALENDAR",
    ];
    return lines.join("\r\n") + "\r\n";
  }

  function booking(data) {
    var card = shell("booking", words(data, "booking_title") + (data.kind ? " · " + data.kind : ""));
    var idRow = field(words(data, "work_order"), data.work_order_id);
    idRow.querySelector(".card-value").classList.add("work-order");
    var copy = el("button", "copy", words(data, "copy"));
    copy.type = "button";
    copy.addEventListener("click", function () {
      copyText(String(data.work_order_id)).then(function () {
        copy.textContent = words(data, "copied");
        setTimeout(function () { copy.textContent = words(data, "copy"); }, 2000);
      }, function () {});
    });
    idRow.appendChild(copy);
    card.appendChild(idRow);
    card.appendChild(field(words(data, "slot"), data.slot));
    var station = data.station || {};
    card.appendChild(field(words(data, "station"), station.name + "（" + station.address + "）"));
    var calendar = null;
    if (data.starts_at && !isNaN(new Date(data.starts_at).getTime())) {
      var blob = new Blob([calendarFile(data)], { type: "text/calendar;charset=utf-8" });
      calendar = link("calendar", words(data, "calendar"), URL.createObjectURL(blob), false);
      calendar.download = String(data.work_order_id) + ".ics";
    }
    card.appendChild(actions([telLink(data, station.phone), mapLink(data, station.map), calendar]));
    return card;
  }

  // --- a station ---------------------------------------------------------------------------

  function station(data) {
    var card = shell("station", data.name);
    if (data.distance) card.appendChild(el("span", "card-note", data.distance));
    card.appendChild(el("p", "card-line", data.address));
    card.appendChild(field(words(data, "hours"), data.hours));
    if (data.services) card.appendChild(field(words(data, "services"), data.services));
    card.appendChild(actions([telLink(data, data.phone), mapLink(data, data.map)]));
    return card;
  }

  // --- the agent's rating ------------------------------------------------------------------

  function rating(data, context) {
    var card = shell("rating", words(data, "title"));
    var key = RATED_KEY + (typeof context.ts === "number" ? context.ts : "");
    var row = el("div", "scores");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", words(data, "title"));
    var status = el("p", "card-note rating-status");
    status.setAttribute("role", "status");
    function mark(score) {
      row.querySelectorAll("button").forEach(function (button) {
        button.setAttribute("aria-pressed", String(Number(button.dataset.score) === score));
      });
    }
    for (var score = 1; score <= 5; score++) {
      var button = el("button", "score", score + " " + words(data, "unit"));
      button.type = "button";
      button.dataset.score = String(score);
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", function (event) {
        var chosen = Number(event.currentTarget.dataset.score);
        mark(chosen);
        fetch("api/chat/agent-rating", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: "Bearer " + context.token() },
          body: JSON.stringify({ score: chosen }),
          cache: "no-store",
        }).then(function (reply) {
          if (!reply.ok) throw new Error("rating " + reply.status);
          status.textContent = words(data, "thanks");
          card.classList.add("rated");
          context.save(key, String(chosen));
        }).catch(function () {
          mark(0);
          status.textContent = words(data, "failed");
        });
      });
      row.appendChild(button);
    }
    card.appendChild(row);
    card.appendChild(el("p", "card-note", words(data, "low") + " · " + words(data, "high")));
    card.appendChild(status);
    var earlier = Number(context.load(key));
    if (earlier) {
      mark(earlier);
      card.classList.add("rated");
      status.textContent = words(data, "thanks");
    }
    return card;
  }

  var RENDERERS = { verdict: verdict, booking: booking, station: station, agent_rating: rating };
  // Cards that say what the text says: drawn instead of the text bubble.
  var INSTEAD_OF_TEXT = { verdict: true, booking: true, station: true };

  window.XingchenCards = {
    render: function (custom, context) {
      if (!custom || typeof custom !== "object" || typeof custom.card !== "string") return null;
      var draw = RENDERERS[custom.card];
      if (!draw) return null;
      try {
        var card = draw(custom, context);
        if (INSTEAD_OF_TEXT[custom.card]) card.dataset.replacesText = "1";
        return card;
      } catch (e) {
        return null; // a malformed card: the text alone still says everything
      }
    },
  };
})();
