// A real MCP client: the official TypeScript SDK (@modelcontextprotocol/sdk,
// installed into build/mcp-node by tests/mcp_sdk_setup.sh) connects to
// herald, lists the tools and calls some; prints one JSON object of what it
// saw for test_mcp.py to check.
//
//   node mcp_sdk_client.mjs stdio HERALD_BIN DATA_DIR ACCOUNT_ID   (env for
//        the child in MCP_CHILD_ENV, a JSON object)
//   node mcp_sdk_client.mjs http URL KEY ACCOUNT_ID
import { join } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const esm = join(here, "..", "..", "build", "mcp-node", "node_modules", "@modelcontextprotocol",
                 "sdk", "dist", "esm");
const load = (p) => import(pathToFileURL(join(esm, p)).href);
const { Client } = await load("client/index.js");

const [mode, a1, a2, account] = process.argv.slice(2);
let transport;
if (mode === "stdio") {
  const { StdioClientTransport } = await load("client/stdio.js");
  transport = new StdioClientTransport({
    command: a1, args: ["mcp", "--data-dir", a2],
    env: JSON.parse(process.env.MCP_CHILD_ENV), stderr: "inherit",
  });
} else {
  const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");
  transport = new StreamableHTTPClientTransport(new URL(a1), {
    requestInit: { headers: { Authorization: `Bearer ${a2}` } },
  });
}
// the client reports the negotiated version to transports that take it
let negotiated = null;
const setPV = transport.setProtocolVersion?.bind(transport);
transport.setProtocolVersion = (v) => { negotiated = v; setPV?.(v); };

const client = new Client({ name: "herald-test", version: "1.0.0" });
await client.connect(transport);
const out = { serverVersion: client.getServerVersion(), protocolVersion: negotiated };
const tools = await client.listTools();
out.tools = tools.tools.map((t) => t.name);
out.listAccounts = await client.callTool({ name: "list_accounts", arguments: {} });
out.validate = await client.callTool({ name: "validate_post", arguments: { text: "x" } });
out.slot = await client.callTool({ name: "find_slot", arguments: { accountId: account } });
if (out.tools.includes("create_post")) {
  out.created = await client.callTool({
    name: "create_post",
    arguments: { text: `from the SDK over ${mode}`, draft: true, targets: [{ accountId: account }] },
  });
}
try {
  await client.callTool({ name: "no_such_tool", arguments: {} });
  out.unknownTool = null;
} catch (e) {
  out.unknownTool = { code: e.code, message: e.message };
}
await client.ping();
if (mode === "http") out.sessionId = transport.sessionId;
await client.close();
process.stdout.write(JSON.stringify(out) + "\n");
