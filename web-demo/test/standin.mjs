// A stand-in hub for tests: a proxy in front of the real hub, serving the
// page (HTTP is forwarded as is) and relaying /v1/signal frames both ways,
// so a test can watch what clients send and rewrite what the hub sends,
// as a compromised hub or a machine in the middle would.

import { createServer } from "node:http";
import { createRequire } from "node:module";

// ws is a test tool of web-sdk/package.json (node 20 has no WebSocket server).
const require = createRequire(new URL("../../web-sdk/package.json", import.meta.url));
const { WebSocketServer, WebSocket } = require("ws");

/**
 * Starts a stand-in for `hub`. `rewrite(json)` may change each hub-to-client
 * message (an object; return it); `seen(json)` watches each client-to-hub
 * one. Resolves with {http, port, stop()}.
 */
export function standIn(hub, { rewrite = (m) => m, seen = () => {} } = {}) {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer(async (req, res) => {
    const body = await new Promise((ok) => {
      const parts = [];
      req.on("data", (d) => parts.push(d));
      req.on("end", () => ok(Buffer.concat(parts)));
    });
    const headers = { ...req.headers };
    delete headers.host;
    const r = await fetch(`${hub.http}${req.url}`, {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
    });
    const out = {};
    r.headers.forEach((v, k) => (out[k] = v));
    delete out["content-encoding"];
    delete out["content-length"];
    res.writeHead(r.status, out);
    res.end(Buffer.from(await r.arrayBuffer()));
  });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (client) => {
      const upstream = new WebSocket(`${hub.ws}`, { headers: { origin: req.headers.origin } });
      const early = [];
      client.on("message", (data) => {
        const text = data.toString();
        try {
          seen(JSON.parse(text));
        } catch {
          // not JSON: the hub answers it
        }
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else early.push(text);
      });
      upstream.on("open", () => {
        for (const t of early.splice(0)) upstream.send(t);
      });
      upstream.on("message", (data) => {
        let text = data.toString();
        try {
          text = JSON.stringify(rewrite(JSON.parse(text)));
        } catch {
          // pass it on unchanged
        }
        if (client.readyState === WebSocket.OPEN) client.send(text);
      });
      const closeBoth = (code) => {
        const c = code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000;
        if (client.readyState <= WebSocket.OPEN) client.close(c);
        if (upstream.readyState <= WebSocket.OPEN) upstream.close(c);
      };
      upstream.on("close", (code) => closeBoth(code));
      client.on("close", (code) => closeBoth(code));
      upstream.on("error", () => client.terminate());
      client.on("error", () => upstream.terminate());
    });
  });
  return new Promise((ok) => {
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      ok({
        port,
        http: `http://127.0.0.1:${port}`,
        ws: `ws://127.0.0.1:${port}/v1/signal`,
        stop: () =>
          new Promise((done) => {
            for (const c of wss.clients) c.terminate();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
