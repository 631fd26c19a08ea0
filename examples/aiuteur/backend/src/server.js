// Aiuteur's backend, reduced to what deployment depends on: it listens on
// PORT, answers /api/health with whether its database answers, and says
// which of its secrets it was given (names only, never values).
const http = require("node:http");
const net = require("node:net");

const port = Number(process.env.PORT || 3001);
const secrets = ["DATABASE_URL", "GOOGLE_AI_API_KEY", "LANGSMITH_API_KEY"];

// The database is reachable when its port accepts a connection.
function database() {
  return new Promise((resolve) => {
    let url;
    try {
      url = new URL(process.env.DATABASE_URL || "");
    } catch {
      return resolve("no DATABASE_URL");
    }
    const socket = net.connect({ host: url.hostname, port: Number(url.port || 5432) });
    const done = (state) => {
      socket.destroy();
      resolve(state);
    };
    socket.setTimeout(2000, () => done("timed out"));
    socket.on("connect", () => done("ok"));
    socket.on("error", (e) => done(e.code || String(e)));
  });
}

function reply(res, code, body) {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer(async (req, res) => {
  if (req.url === "/api/health") {
    const db = await database();
    return reply(res, db === "ok" ? 200 : 503, { status: db === "ok" ? "ok" : "degraded", database: db });
  }
  if (req.url === "/api/config") {
    return reply(res, 200, {
      environment: process.env.NODE_ENV,
      secrets: secrets.filter((name) => process.env[name]),
      region: process.env.AWS_REGION,
    });
  }
  reply(res, 404, { error: "not found" });
});

server.listen(port, "0.0.0.0", () => console.log(`aiuteur-backend listening on port ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
