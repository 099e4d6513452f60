// The chat panel of a live stream's watch page (apps/chat/templates/chat/panel.html).
//
// One socket per panel: WS /api/v1/ws/chat/<stream>. A signed-in page sends the
// ticket the server rendered into the panel; an anonymous viewer keeps the chat
// token it registered for in localStorage and sends it as `access_token`.
// Message bodies arrive as HTML the server rendered and cleaned (nh3, an
// allow-list of a, em, strong, del); names and every other text go in as text.
// A dropped socket reconnects with `?since=<last message id>`, so nothing sent
// meanwhile is lost and nothing is shown twice (messages are kept by id).
(function () {
  "use strict";

  var TOKEN_KEY = "castcore.chat.token";

  function ChatPanel(root) {
    this.root = root;
    this.list = root.querySelector(".chat-messages");
    this.status = root.querySelector(".chat-status");
    this.me = root.querySelector(".chat-me");
    this.form = root.querySelector(".chat-form");
    this.rename = root.querySelector(".chat-rename");
    this.rows = new Map(); // message id -> <li>
    this.lastId = null;
    this.moderator = false;
    this.retry = 0;
    this.socket = null;
    var self = this;
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = self.form.elements.body;
      if (!input.value.trim()) return;
      if (self.send({ type: "CHAT", body: input.value })) input.value = "";
    });
    this.rename.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = self.rename.elements.name;
      if (self.send({ type: "NAME_CHANGE", newName: input.value })) input.value = "";
    });
    this.start();
  }

  ChatPanel.prototype.start = function () {
    var self = this;
    this.credentials().then(function (query) {
      self.credentialed = true;
      self.connect(query);
    }, function () {
      self.credentialed = false;
      self.say("Chat is read-only: could not get a chat identity.");
      self.connect("");
    });
  };

  // The query string that says who this page is.
  ChatPanel.prototype.credentials = function () {
    var ticket = this.root.dataset.ticket;
    if (ticket) return Promise.resolve("ticket=" + encodeURIComponent(ticket));
    var token = null;
    try { token = window.localStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }
    if (token) return Promise.resolve("access_token=" + encodeURIComponent(token));
    return fetch(this.root.dataset.registerUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
      credentials: "omit",
    }).then(function (response) {
      if (!response.ok) throw new Error("register " + response.status);
      return response.json();
    }).then(function (body) {
      try { window.localStorage.setItem(TOKEN_KEY, body.access_token); } catch (e) { /* private mode */ }
      return "access_token=" + encodeURIComponent(body.access_token);
    });
  };

  ChatPanel.prototype.connect = function (query) {
    var self = this;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var params = query ? [query] : [];
    if (this.lastId !== null) params.push("since=" + this.lastId);
    var url = scheme + window.location.host + this.root.dataset.wsPath +
      (params.length ? "?" + params.join("&") : "");
    var socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = function () { self.retry = 0; self.say(""); };
    socket.onmessage = function (event) { self.handle(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      if (self.socket !== socket) return;
      self.socket = null;
      if (event.code === 4403) { self.say("You cannot take part in this chat."); return; }
      if (event.code === 4404) { self.say("This chat does not exist."); return; }
      if (event.code === 4401 && !self.credentialed) {
        self.say("Sign in to read this chat.");
        return;
      }
      if (event.code === 4401 && !self.root.dataset.ticket) {
        // A stored token the server no longer knows: forget it and register again.
        try { window.localStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
      }
      self.retry = Math.min(self.retry + 1, 6);
      self.say("Reconnecting…");
      window.setTimeout(function () { self.start(); }, 250 * Math.pow(2, self.retry - 1));
    };
  };

  ChatPanel.prototype.send = function (frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      this.say("Not connected yet.");
      return false;
    }
    this.socket.send(JSON.stringify(frame));
    return true;
  };

  ChatPanel.prototype.say = function (text) { this.status.textContent = text; };

  ChatPanel.prototype.handle = function (frame) {
    switch (frame.type) {
      case "CONNECTED_USER_INFO":
        this.moderator = !!frame.moderator;
        this.root.classList.toggle("is-moderator", this.moderator);
        this.me.textContent = frame.user ? frame.user.displayName : "a guest (read-only)";
        if (frame.user) this.meId = frame.user.id;
        break;
      case "BACKLOG":
        if (frame.truncated) {
          // Away too long to catch up: the server sent the recent backlog; start over.
          this.rows.forEach(function (row) { row.remove(); });
          this.rows.clear();
          this.lastId = null;
        }
        // Hidden while this page was away (shown ones come back among the messages).
        if (frame.hidden) this.visibility(frame.hidden, false);
        for (var i = 0; i < frame.messages.length; i++) this.message(frame.messages[i]);
        break;
      case "CHAT":
      case "SYSTEM":
        this.message(frame);
        break;
      case "VISIBILITY-UPDATE":
        this.visibility(frame.ids, frame.visible);
        break;
      case "NAME_CHANGE":
        if (frame.user && frame.user.id === this.meId) this.me.textContent = frame.newName;
        this.notice(frame.oldName + " is now " + frame.newName + ".");
        break;
      case "CHAT_ACTION":
        this.notice(frame.body);
        break;
      case "ERROR":
        this.say(describe(frame.error));
        break;
      default:
        break;
    }
  };

  ChatPanel.prototype.message = function (frame) {
    if (typeof frame.id === "number" && (this.lastId === null || frame.id > this.lastId)) {
      this.lastId = frame.id;
    }
    var row = this.rows.get(frame.id);
    if (!frame.visible && !this.moderator) {
      if (row) { row.remove(); this.rows.delete(frame.id); }
      return;
    }
    var fresh = document.createElement("li");
    fresh.className = "chat-message" + (frame.type === "SYSTEM" ? " is-system" : "");
    fresh.dataset.id = frame.id;
    var author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = frame.user ? frame.user.displayName : "";
    if (frame.user && typeof frame.user.displayColor === "number") {
      author.style.color = "hsl(" + frame.user.displayColor + ", 60%, 45%)";
    }
    var body = document.createElement("span");
    body.className = "chat-body";
    body.innerHTML = frame.body; // rendered and cleaned by the server (apps/chat/markup.py)
    fresh.append(author, body);
    if (this.moderator && frame.type === "CHAT") this.tools(fresh, frame);
    fresh.classList.toggle("is-hidden", !frame.visible);
    if (row) {
      row.replaceWith(fresh);
    } else {
      var stick = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
      // In id order: a message shown again goes back where it was.
      var after = null;
      this.rows.forEach(function (other, id) {
        if (id > frame.id && (after === null || id < Number(after.dataset.id))) after = other;
      });
      this.list.insertBefore(fresh, after);
      if (stick) this.list.scrollTop = this.list.scrollHeight;
    }
    this.rows.set(frame.id, fresh);
  };

  ChatPanel.prototype.tools = function (row, frame) {
    var self = this;
    var tools = document.createElement("span");
    tools.className = "chat-tools";
    var hide = button(frame.visible ? "Hide" : "Show", "chat-hide", function () {
      var hidden = row.classList.contains("is-hidden");
      self.send({ type: hidden ? "SHOW" : "HIDE", ids: [frame.id] });
    });
    tools.append(hide);
    if (frame.user && frame.user.id !== null && frame.user.id !== this.meId) {
      tools.append(button("Time out", "chat-timeout", function () {
        self.send({ type: "TIMEOUT", userId: frame.user.id, seconds: 300 });
      }));
      tools.append(button("Ban", "chat-ban", function () {
        if (window.confirm("Ban " + frame.user.displayName + " from this chat?")) {
          self.send({ type: "BAN", userId: frame.user.id, hideMessages: true });
        }
      }));
    }
    row.append(tools);
  };

  ChatPanel.prototype.visibility = function (ids, visible) {
    for (var i = 0; i < ids.length; i++) {
      var row = this.rows.get(ids[i]);
      if (!row) continue;
      if (this.moderator) {
        row.classList.toggle("is-hidden", !visible);
        var toggle = row.querySelector(".chat-hide");
        if (toggle) toggle.textContent = visible ? "Hide" : "Show";
      } else if (!visible) {
        row.remove();
        this.rows.delete(ids[i]);
      }
      // Shown again: the server sends the message itself, which message() puts back.
    }
  };

  ChatPanel.prototype.notice = function (text) {
    var row = document.createElement("li");
    row.className = "chat-message is-action";
    row.textContent = text;
    this.list.append(row);
  };

  function button(label, className, onClick) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.textContent = label;
    element.addEventListener("click", onClick);
    return element;
  }

  var MESSAGES = {
    "chat.rate_limited": "Slow down: you are sending too fast.",
    "chat.slow_mode": "Slow mode is on: wait a little before sending again.",
    "chat.too_long": "That message is too long.",
    "chat.empty": "Write something first.",
    "chat.banned": "You are banned from this chat.",
    "chat.timed_out": "You are timed out for a while.",
    "chat.signed_in_only": "Only signed-in users may write here now.",
    "chat.closed": "Chat is closed while the stream is offline.",
    "chat.name_taken": "Someone here already has that name.",
    "chat.name_forbidden": "That name is not allowed.",
    "chat.name_invalid": "That name is not valid.",
    "chat.needs_registration": "Chat is read-only for you.",
    "chat.not_moderator": "Only moderators can do that.",
  };

  function describe(error) {
    var text = MESSAGES[error.code] || "Something went wrong (" + error.code + ").";
    if (error.params && error.params.retry_after) text += " (" + error.params.retry_after + " s)";
    return text;
  }

  function init() {
    var panels = document.querySelectorAll("[data-chat]");
    for (var i = 0; i < panels.length; i++) new ChatPanel(panels[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
