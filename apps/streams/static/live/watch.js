// The live watch page: plays the stream's HLS (hls.js, or the browser's own HLS on
// Safari) while it is live, and polls the page's status to switch between the player
// and the offline state by itself.
(function () {
  "use strict";
  var POLL_MS = 4000;
  var page = JSON.parse(document.getElementById("live-page").textContent);
  var video = document.getElementById("live-video");
  var offline = document.getElementById("live-offline");
  var player = document.getElementById("live-player");
  var stateBadge = document.getElementById("live-state");
  var viewersBox = document.getElementById("live-viewers");
  var viewerCount = document.getElementById("live-viewer-count");
  var hls = null;
  var playing = false;

  function start() {
    if (playing) return;
    playing = true;
    if (window.Hls && window.Hls.isSupported()) {
      // Same-origin requests carry the viewer cookie, so the page and the player count once.
      hls = new window.Hls({ lowLatencyMode: true, liveSyncDurationCount: 2 });
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
        video.play().catch(function () { /* autoplay refused: the controls are there */ });
      });
      hls.on(window.Hls.Events.ERROR, function (_event, data) {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          stop();  // the next poll starts again if the stream is still live
        }
      });
      hls.loadSource(page.playlist);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = page.playlist;  // Safari plays HLS itself
      video.play().catch(function () {});
    } else {
      offline.hidden = false;
      offline.textContent = "This browser cannot play live video (HLS).";
    }
  }

  function stop() {
    playing = false;
    if (hls) { hls.destroy(); hls = null; }
    video.removeAttribute("src");
    video.load();
  }

  function show(status) {
    player.dataset.state = status.live ? "live" : "offline";
    stateBadge.textContent = status.live ? "Live" : "Offline";
    stateBadge.classList.toggle("badge-live", status.live);
    viewersBox.hidden = !status.live;
    viewerCount.textContent = String(status.viewers);
    video.hidden = !status.live;
    offline.hidden = status.live;
    if (status.live) start(); else if (playing) stop();
  }

  function poll() {
    fetch(page.status, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (status) { if (status) show(status); })
      .catch(function () { /* the server is away: try again at the next tick */ })
      .finally(function () { window.setTimeout(poll, POLL_MS); });
  }

  if (player.dataset.state === "live") start();
  window.setTimeout(poll, POLL_MS);
})();
