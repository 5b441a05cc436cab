// Calls to the service. Every failure becomes an ApiError whose message a person can act on.

const KEY_STORAGE = "vidsearch.apiKey";

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE) || "",
  set: (value) => (value ? sessionStorage.setItem(KEY_STORAGE, value) : sessionStorage.removeItem(KEY_STORAGE)),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function call(path, { method = "GET", json, form, auth = false, signal } = {}) {
  const headers = {};
  if (auth && apiKey.get()) headers["X-API-Key"] = apiKey.get();
  let body = form;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "Cannot reach the service. Check that it is running, then try again.");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, explain(response.status, data && data.error));
  return data;
}

export function upload(path, file, signal) {
  const form = new FormData();
  form.append("file", file);
  return call(path, { method: "POST", form, signal });
}

function explain(status, message) {
  if (status === 401) {
    return apiKey.get()
      ? "The API key was refused. Check it under Library → API key, then try again."
      : "This needs the service's API key. Enter it under Library → API key, then try again.";
  }
  if (status === 413) return `${sentence(message || "the file is too large")} Choose a shorter clip or a smaller file.`;
  if (status >= 500) return `The service could not do this: ${message || `HTTP ${status}`}. Try again later.`;
  return message ? sentence(message) : `The request failed (HTTP ${status}).`;
}

function sentence(text) {
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?)]$/.test(capital) ? capital : capital + ".";
}
