// The MCP TypeScript SDK as a client of the sandbox, driven by a Python test over stdio.
//
// Its client_id is the URL of a Client ID Metadata Document (CLIENT_METADATA_URL) when given,
// else it registers with DCR. The browser step is the test's: this prints one JSON line
// {"authorize": URL}, reads the authorization code back as one line on stdin, finishes the
// flow, calls greet and prints {"greeting": ..., "client_id": ...}. Any failure is one line
// {"error": ...} on stdout and exit 1, never a hang: stdin closing ends the wait.
import { createInterface } from "node:readline";

import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const mcpUrl = new URL(process.env.MCP_URL);
const redirectUrl = process.env.REDIRECT_URI;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const provider = {
  kept: {},
  get redirectUrl() {
    return redirectUrl;
  },
  clientMetadataUrl: process.env.CLIENT_METADATA_URL || undefined,
  get clientMetadata() {
    return {
      client_name: "MCP TypeScript SDK e2e",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  clientInformation() {
    return this.kept.client;
  },
  saveClientInformation(client) {
    this.kept.client = client;
  },
  tokens() {
    return this.kept.tokens;
  },
  saveTokens(tokens) {
    this.kept.tokens = tokens;
  },
  redirectToAuthorization(url) {
    console.log(JSON.stringify({ authorize: url.toString() }));
  },
  saveCodeVerifier(verifier) {
    this.kept.verifier = verifier;
  },
  codeVerifier() {
    return this.kept.verifier;
  },
};

async function connect() {
  const client = new Client({ name: "ts-sdk-e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  return client;
}

try {
  let client;
  try {
    client = await connect();
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    const code = await lines.next();
    if (code.done) throw new Error("stdin closed before an authorization code arrived");
    await new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }).finishAuth(code.value.trim());
    client = await connect();
  }
  const result = await client.callTool({ name: "greet", arguments: { name: "TypeScript" } });
  console.log(JSON.stringify({ greeting: result.content[0].text, client_id: provider.kept.client?.client_id }));
  await client.close();
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.stack || error) }));
  process.exit(1);
}
