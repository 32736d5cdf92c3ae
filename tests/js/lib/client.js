// The Apollo Client set-up that the README's "Front-end clients" section shows,
// line for line, so that the suite proves it (plus a switch for the CSRF test
// and the README's URLs as a parameter). Only the import paths differ:
// Apollo Client 3 has no package "exports", so Node's ESM loader needs the
// explicit `/index.js` files that a bundler (Vite, webpack) finds by itself,
// and `@apollo/client/core` is the React-free part (`@apollo/client` itself
// re-exports it with the React hooks). In a browser, `webSocketImpl` is not
// needed: graphql-ws uses the global WebSocket.
import { ApolloClient, InMemoryCache, split } from '@apollo/client/core/index.js';
import { setContext } from '@apollo/client/link/context/index.js';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions/index.js';
import { getMainDefinition } from '@apollo/client/utilities/index.js';
import createUploadLink from 'apollo-upload-client/createUploadLink.mjs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * One ApolloClient for queries, mutations (with file uploads) and
 * subscriptions. `getToken()` is read for every request and for every
 * websocket connection, so logging in with the same client works.
 */
export function makeApolloClient({ baseUrl, getToken, requirePreflight = true }) {
  // --- README snippet starts -------------------------------------------------
  const auth = setContext((_, { headers }) => ({
    headers: {
      ...headers,
      ...(getToken() && { Authorization: `Bearer ${getToken()}` }),
      // Multipart requests need it (a CSRF guard); JSON ones ignore it.
      ...(requirePreflight && { 'Apollo-Require-Preflight': 'true' }),
    },
  }));
  const http = auth.concat(createUploadLink({ uri: `${baseUrl}/graphql` }));
  const wsClient = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql/ws`,
    webSocketImpl: WebSocket, // Node only; browsers have one
    connectionParams: () => ({ Authorization: `Bearer ${getToken()}` }),
  });
  const link = split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(wsClient),
    http,
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  // --- README snippet ends ---------------------------------------------------
  return { client, wsClient };
}
