// The REST API v1 from the page: JSON in and out, the session's CSRF token on every write,
// and the API's error shape ({"error": {code, message, field?, problems?}}) as an ApiError.

export const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.field = error.field || "";
    this.problems = error.problems || [];
  }
}

let csrfToken = "";

/** Load the session (who we are, the CSRF token). A 401 means the session ended: log in again. */
export async function loadSession() {
  const session = await request("GET", "/session");
  csrfToken = session.csrf_token || "";
  return session;
}

export function goToLogin() {
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/login?next=${next}`);
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(BASE + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { code: "network", message: "the server cannot be reached" });
  }
  if (response.status === 401) {
    goToLogin();
    throw new ApiError(401, { code: "unauthorized", message: "signed out" });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || { message: `HTTP ${response.status}` };
    throw new ApiError(response.status, error);
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body = {}) => request("POST", path, body);
export const patch = (path, body) => request("PATCH", path, body);
export const del = (path) => request("DELETE", path);

/** Sign out (the server clears the session), then go to the login page. */
export async function logout() {
  try {
    await fetch("/logout", { method: "POST", credentials: "same-origin",
                             headers: { "X-CSRF-Token": csrfToken } });
  } finally {
    location.assign("/login");
  }
}
