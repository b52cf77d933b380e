// The sample chat: one WebSocket per room, messages broadcast to everybody in the room.
(function () {
  "use strict";

  var socket = null;
  var log = document.getElementById("chat-log");
  var status = document.getElementById("status");
  var roomInput = document.getElementById("room-name");
  var messageInput = document.getElementById("chat-message-input");

  function addLine(text, kind) {
    var item = document.createElement("li");
    item.className = kind || "message";
    item.textContent = text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function setStatus(text) {
    status.textContent = text;
    document.body.setAttribute("data-status", text);
  }

  function join(room) {
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/chat/" + encodeURIComponent(room) + "/");
    setStatus("connecting");
    socket.onopen = function () { setStatus("connected"); };
    socket.onmessage = function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "hello") {
        addLine("joined " + data.room + " on " + (data.process || "pid " + data.pid), "info");
      } else {
        addLine(data.message + "  (via " + (data.process || "pid " + data.pid) + ")", "message");
      }
    };
    socket.onclose = function () {
      setStatus("disconnected");
      addLine("connection closed, reconnecting in 2 s", "info");
      window.setTimeout(function () { join(room); }, 2000);
    };
  }

  document.getElementById("room-form").addEventListener("submit", function (event) {
    event.preventDefault();
    log.textContent = "";
    join(roomInput.value);
  });

  document.getElementById("message-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = messageInput.value;
    if (!text || !socket || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    socket.send(JSON.stringify({ message: text }));
    messageInput.value = "";
    messageInput.focus();
  });

  join(roomInput.value);
}());
