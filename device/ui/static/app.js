// The candidate touchscreen. Every screen follows the session engine's answer to
// GET /api/v1/session; the page keeps nothing of its own but the session token (and, after a
// break, the resume code on display) in sessionStorage, so a reload lands on the same screen.

import { KEYS, post, save, saved, token } from "./api.js";
import { app } from "./core.js";
import { h } from "./dom.js";
import { loadStrings, setLanguage, t } from "./i18n.js";
import { checkScreen } from "./screens-check.js";
import { closingScreen, consentScreen, loadLanguages, startScreen } from "./screens-entry.js";
import { itemScreen } from "./screens-item.js";
import { codeScreen, doneScreen, pausedScreen } from "./screens-leave.js";

/** Show the screen for where the session stands. */
function route(session) {
  if (session.state === "left") return codeScreen(session.left);
  app.session = session;
  if (session.language) {
    setLanguage(session.language);
    save(KEYS.lang, session.language);
  }
  const view = session.current || {};
  switch (session.state) {
    case "checked_in":
      return consentScreen(session);
    case "consented":
      return checkScreen(session);
    case "in_progress":
      if (view.phase === "done") return app.refresh();
      // every resume (a new token) checks the camera again first, whatever the item's phase;
      // only a recording under way goes on (a reload while recording keeps its token)
      if (view.phase !== "recording" && saved(KEYS.framed) !== token()) {
        return checkScreen(session);
      }
      if (view.phase === "not_started") return presentItem();
      return itemScreen(session);
    case "paused":
      return pausedScreen(session);
    case "completed":
      return doneScreen(session);
    case "declined":
      return closingScreen("declined", t("goodbyeTitle"), t("goodbyeBody"));
    default:
      return closingScreen("ended", t("endedTitle"), t("endedBody"));
  }
}

function presentItem() {
  return app.act(null, async () => app.applyView(await post("/session/present")));
}

/** Back goes nowhere: the app keeps one history entry and re-reads the server instead. */
function holdHistory() {
  history.replaceState({ kiosk: "base" }, "", location.pathname);
  history.pushState({ kiosk: "app" }, "", location.pathname);
  window.addEventListener("popstate", () => {
    history.pushState({ kiosk: "app" }, "", location.pathname);
    if (token()) app.refresh();
  });
}

async function boot() {
  try {
    await loadStrings();
  } catch (err) {
    const screen = document.getElementById("screen");
    screen.replaceChildren(h("h1", { lang: "en" }, "This screen cannot start. Please ask staff."),
                           h("p", { lang: "en" }, String(err.message || err)));
    setTimeout(() => location.reload(), 5000);
    return;
  }
  app.route = route;
  app.start = startScreen;
  setLanguage(saved(KEYS.lang) || "en");
  holdHistory();
  const left = saved(KEYS.leave);
  if (left) return codeScreen(left);
  if (token()) return app.refresh();
  await loadLanguages();
  return startScreen();
}


boot();
