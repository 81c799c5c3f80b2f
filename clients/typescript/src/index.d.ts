import type { Client, ClientOptions } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };

export type Session = components["schemas"]["Session"];
export type SessionCreate = components["schemas"]["SessionCreate"];
export type Event = components["schemas"]["Event"];
export type EventAppend = components["schemas"]["EventAppend"];
export type Run = components["schemas"]["Run"];

export interface SessionHubClientOptions extends ClientOptions {
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

export type SessionHubClient = Client<paths>;

/** A client for `baseUrl` (default `http://127.0.0.1:8700`): `GET`, `POST`, … typed by path. */
export declare function createSessionHubClient(options?: SessionHubClientOptions): SessionHubClient;
export default createSessionHubClient;
