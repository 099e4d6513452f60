// The channel page's player: hls.js where the browser has no HLS of its own. The
// <video src> already plays on browsers that do (Safari), so nothing changes there.
(function () {
  "use strict";
  var video = document.getElementById("channel-video");
  if (!video || !window.Hls || !window.Hls.isSupported()) return;
  if (video.canPlayType("application/vnd.apple.mpegurl")) return;
  var source = video.getAttribute("data-src");
  video.removeAttribute("src");
  var hls = new window.Hls({ liveSyncDurationCount: 3 });
  hls.on(window.Hls.Events.ERROR, function (_event, data) {
    if (data.fatal && data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
  });
  hls.loadSource(source);
  hls.attachMedia(video);
})();
