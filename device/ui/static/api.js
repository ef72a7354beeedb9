// The local API as the touchscreen uses it: JSON in and out, problem+json errors, the session
// token kept in sessionStorage so a reload picks up where the candidate was.

const BASE = "/api/v1";

/** sessionStorage keys: the session token, the token the camera check was passed with, the
 * resume code being shown after leaving, the language chosen before check-in. */
export const KEYS = { token: "kiosk.token", framed: "kiosk.framed", leave: "kiosk.leave",
                      lang: "kiosk.lang" };

export class ApiError extends Error {
  /** status 0 and code "network" when the box did not answer at all. */
  constructor(status, code, detail, body) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.body = body || {};
  }
}

export function saved(key) {
  const raw = sessionStorage.getItem(key);
  if (raw === null) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

export function save(key, value) {
  sessionStorage.setItem(key, JSON.stringify(value));
}

export function forget(...keys) {
  for (const key of keys) sessionStorage.removeItem(key);
}

export function token() {
  return saved(KEYS.token);
}

/** The problem's stable code (its "code" member, else the last part of its type URL). */
function problemCode(body, status) {
  if (body && typeof body.code === "string") return body.code;
  if (body && typeof body.type === "string") return body.type.split("/").pop();
  return status === 404 ? "not-found" : "http-error";
}

/** One request; resolves to the parsed JSON body, rejects with an ApiError. */
export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const current = token();
  if (current) headers["X-Session-Token"] = current;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  let text;
  try {
    response = await fetch(BASE + path, {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    text = await response.text();
  } catch (err) {
    throw new ApiError(0, "network", String(err?.message || err), {});
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const detail = data?.detail || response.statusText || `HTTP ${response.status}`;
    throw new ApiError(response.status, problemCode(data, response.status), detail, data);
  }
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);

/** The live camera picture for an <img>, which cannot send headers: the token rides along. */
export function previewUrl() {
  return `${BASE}/capture/preview.mjpg?token=${encodeURIComponent(token() || "")}`;
}
