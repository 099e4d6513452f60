// Watches a live terminal stream: the player speaks ALiS over the viewer WebSocket.
(function () {
  var url = JSON.parse(document.getElementById("ws-url").textContent);
  var el = document.getElementById("player");
  window.castPlayer = AsciinemaPlayer.create({ driver: "websocket", url: url }, el, { fit: "width", autoPlay: true });
})();
