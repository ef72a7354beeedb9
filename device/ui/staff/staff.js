// The staff page's only script: a piece of evidence plays its item's recording from the
// moment it starts at. Cues are buttons, so the keyboard (Tab, Enter, Space) works too.
"use strict";

function playFrom(player, seconds) {
  const start = () => {
    player.currentTime = seconds;
    const playing = player.play();
    if (playing) {
      playing.catch(() => {});
    }
  };
  if (player.readyState >= 1) {
    start();
  } else {
    player.addEventListener("loadedmetadata", start, { once: true });
    player.preload = "metadata";
    player.load();
  }
}

document.addEventListener("click", (event) => {
  const cue = event.target.closest("button.cue[data-player]");
  if (!cue) {
    return;
  }
  const player = document.getElementById(cue.dataset.player);
  const seconds = Number.parseFloat(cue.dataset.start);
  if (player && Number.isFinite(seconds)) {
    playFrom(player, seconds);
  }
});
