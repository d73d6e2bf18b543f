import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { type AutoprogClient, createAutoprogClient } from "../client/client.ts";

/**
 * The API key lives in sessionStorage: it survives reloads of this tab and is gone when the tab
 * closes. Every request of the typed client sends it as `Authorization: Bearer`.
 */
const KEY_ITEM = "autoprog.apiKey";

export const storedKey = (): string | null => sessionStorage.getItem(KEY_ITEM);
export const storeKey = (key: string): void => sessionStorage.setItem(KEY_ITEM, key);
export const forgetKey = (): void => sessionStorage.removeItem(KEY_ITEM);

/** A client of this server with the key; `onUnauthorized` hears every 401 (a revoked or wrong key). */
export function clientWithKey(key: string, onUnauthorized: () => void): AutoprogClient {
  return createAutoprogClient({
    api: location.origin,
    key,
    fetch: async (request) => {
      const response = await fetch(request);
      if (response.status === 401) onUnauthorized();
      return response;
    },
  });
}

export interface Session {
  readonly client: AutoprogClient;
  readonly signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}
