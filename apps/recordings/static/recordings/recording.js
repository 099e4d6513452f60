// Plays a terminal recording: asciinema-player (from npm, served under vendor/) fetches the .cast URL.
(function () {
  var url = JSON.parse(document.getElementById("cast-url").textContent);
  var el = document.getElementById("player");
  window.castPlayer = AsciinemaPlayer.create(url, el, { fit: "width", preload: true });
})();
