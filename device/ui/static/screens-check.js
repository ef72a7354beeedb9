// The camera and microphone check before the first question: a mirrored live picture with
// plain advice, the microphone level, and Continue (advice is not a gate; a broken required
// device is).

import { KEYS, get, post, previewUrl, save, token } from "./api.js";
import { app } from "./core.js";
import { h, uid } from "./dom.js";
import { t } from "./i18n.js";

const POLL_MS = 1000;
const METER_FLOOR_DB = -60;
const PREVIEW_RETRY_MS = 5000;

/** Advice for the framing check's problems; the preview is a mirror, so "left" is theirs. */
export function framingAdvice(framing) {
  if (!framing || !framing.checked) return [t("adviceChecking")];
  if (framing.ok) return [t("adviceGood")];
  const advice = [];
  for (const problem of framing.problems || []) {
    if (problem === "off_centre") {
      const [dx, dy] = framing.offset || [0, 0];
      if (Math.abs(dx) >= Math.abs(dy)) advice.push(t(dx > 0 ? "adviceRight" : "adviceLeft"));
      else advice.push(t(dy > 0 ? "adviceUp" : "adviceDown"));
    } else {
      const text = t(`advice_${problem}`);
      if (text !== `advice_${problem}`) advice.push(text);
    }
  }
  return advice.length ? advice : [t("adviceChecking")];
}

/** Which device stops the interview, as a message, or "" when capture is ready. */
export function deviceProblem(status) {
  if (!status || status.ready) return "";
  if (status.microphone?.required && !status.microphone.ok) return t("micProblem");
  if (status.camera?.required && !status.camera.ok) return t("cameraProblem");
  return t("captureDown");
}

/** Capture status, with a box that has no capture service read as "capture off". */
async function captureStatus() {
  try {
    return await get("/capture/status");
  } catch (err) {
    if (err.status === 404 && err.code === "not-found") return { enabled: false, ready: true };
    throw err;
  }
}

export function checkScreen(session) {
  app.show("check", "check", (s) => build(s), session, { bar: true });
}

function build(s) {
  const previewBox = h("div", { class: "preview-box" });
  const img = h("img", { class: "preview", alt: t("previewAlt"), width: "320", height: "240" });
  const noPicture = h("p", { class: "no-preview" }, t("noPreview"));
  const advice = h("ul", { class: "advice", "aria-live": "polite" });
  const adviceOnly = h("p", { class: "hint" }, t("adviceOnly"));
  const meterId = uid("mic");
  const meter = h("meter", { id: meterId, min: String(METER_FLOOR_DB), max: "0", low: "-50",
                             high: "-6", optimum: "-20", value: String(METER_FLOOR_DB) });
  const mic = h("div", { class: "mic" }, h("label", { for: meterId }, t("micLabel")), meter,
                h("p", { class: "hint" }, t("micHint")));
  const state = h("p", { class: "check-state" }, t("captureUnknown"));
  const problem = h("div", { class: "problem", role: "alert" });
  const proceed = h("button", { type: "button", class: "primary", disabled: true },
                    t("continue"));
  proceed.addEventListener("click", () => app.act(proceed, async () => {
    save(KEYS.framed, token());
    app.applyView(await post("/session/present"));
  }));
  s.root.append(
    h("h1", { tabindex: "-1" }, t("checkTitle")),
    h("div", { class: "check-grid" }, previewBox,
      h("div", { class: "check-side" }, state, advice, adviceOnly, mic, problem)),
  );
  s.dock(proceed);

  let streaming = false;
  let failedAt = -Infinity;
  let shownAdvice = "";
  const stopPreview = () => {
    if (!streaming) return;
    streaming = false;
    img.removeAttribute("src");
    img.remove();
  };
  img.addEventListener("error", () => {
    if (!streaming) return;
    stopPreview();
    failedAt = performance.now();
    previewBox.replaceChildren(noPicture);
  });
  s.onLeave(stopPreview);

  const setAdvice = (lines) => {
    const joined = lines.join("\n");
    if (joined === shownAdvice) return;
    shownAdvice = joined;
    advice.replaceChildren(...lines.map((line) => h("li", {}, line)));
  };

  s.every(POLL_MS, async () => {
    let status;
    try {
      status = await captureStatus();
      app.setConnected(true);
    } catch (err) {
      proceed.disabled = true;
      if (err.code === "network") app.setConnected(false);
      else if (err.code === "unauthenticated") await app.ended();
      else {
        state.hidden = false;
        state.textContent = t("genericError");
      }
      return;
    }
    if (!s.alive) return;
    const enabled = status.enabled !== false;
    const camera = enabled && status.camera && status.camera.problem !== "disabled";
    const microphone = enabled && status.microphone
      && status.microphone.problem !== "disabled";
    state.textContent = enabled ? "" : t("captureOff");
    state.hidden = enabled;
    mic.hidden = !microphone || !status.microphone.ok;
    adviceOnly.hidden = !camera || !status.camera.ok;
    advice.hidden = !camera || !status.camera.ok;
    if (camera && status.camera.ok) {
      if (!streaming && performance.now() - failedAt > PREVIEW_RETRY_MS) {
        streaming = true;
        img.src = previewUrl();
        previewBox.replaceChildren(img);
      }
    } else {
      stopPreview();
      previewBox.replaceChildren(camera ? noPicture : "");
    }
    previewBox.hidden = !camera;
    if (microphone) {
      const level = status.microphone.level_dbfs;
      meter.value = typeof level === "number" ? Math.max(METER_FLOOR_DB, level) : METER_FLOOR_DB;
    }
    const message = deviceProblem(status);
    if (problem.textContent !== message) problem.textContent = message;
    proceed.disabled = !status.ready || app.busy;
    if (camera && status.camera.ok) {
      try {
        setAdvice(framingAdvice(await get("/capture/framing")));
      } catch {
        setAdvice([t("adviceChecking")]);
      }
    }
  });
}
