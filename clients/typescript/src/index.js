// A typed client for sessionhub's native /v1 API: openapi-fetch over the types
// openapi-typescript generated from the server's OpenAPI document (src/schema.d.ts).
import createClient from "openapi-fetch";

/**
 * @param {import("./index.js").SessionHubClientOptions} [options]
 * @returns {import("./index.js").SessionHubClient}
 */
export function createSessionHubClient(options = {}) {
  const { baseUrl = "http://127.0.0.1:8700", apiKey, headers = {}, ...rest } = options;
  const auth = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
  return createClient({ baseUrl, headers: { ...auth, ...headers }, ...rest });
}

export default createSessionHubClient;
